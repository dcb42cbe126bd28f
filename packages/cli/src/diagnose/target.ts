import { redactText } from '@holdfast/core';
import { UsageError } from '../io.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** What `holdfast diagnose` was asked to look at. */
export type Target =
  | { readonly kind: 'http'; readonly url: URL; readonly secure: boolean }
  | { readonly kind: 'websocket'; readonly url: URL; readonly secure: boolean }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly secure: boolean }
  | {
      readonly kind: 'mongodb';
      readonly hosts: readonly HostPort[];
      /** `mongodb+srv://`: the hosts come from DNS SRV records of `srvName`. */
      readonly srvName: string | undefined;
      readonly secure: boolean;
      readonly directConnection: boolean;
      readonly replicaSet: string | undefined;
    }
  | { readonly kind: 'otlp' };

export const TARGET_FORMS =
  'http(s)://host[:port]/path, ws(s)://host[:port]/path, tcp://host:port, tls://host:port, mongodb[+srv]://host[:port][,host…]/…, or otlp';

/** Reads a target as the user typed it; the error names the forms accepted and never repeats a credential. */
export function parseTarget(text: string): Target {
  if (text === 'otlp') return { kind: 'otlp' };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'mongodb' || scheme === 'mongodb+srv') return parseMongoUri(text, scheme === 'mongodb+srv');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`cannot read the target ${JSON.stringify(redactText(text))}: give ${TARGET_FORMS}`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw new UsageError(`the target ${JSON.stringify(redactText(text))} has no host`);
  switch (url.protocol) {
    case 'http:':
    case 'https:':
      return { kind: 'http', url, secure: url.protocol === 'https:' };
    case 'ws:':
    case 'wss:':
      return { kind: 'websocket', url, secure: url.protocol === 'wss:' };
    case 'tcp:':
    case 'tls:': {
      const port = Number(url.port);
      if (url.port === '' || !(port > 0 && port < 65536)) throw new UsageError(`a ${url.protocol}// target needs a port: ${url.protocol}//host:port`);
      return { kind: 'tcp', host, port, secure: url.protocol === 'tls:' };
    }
    default:
      throw new UsageError(`unsupported scheme '${url.protocol}' in ${JSON.stringify(redactText(text))}: give ${TARGET_FORMS}`);
  }
}

/** The default port of a URL target. */
export function portOf(url: URL, secure: boolean): number {
  return url.port === '' ? (secure ? 443 : 80) : Number(url.port);
}

/** `mongodb://[user:pass@]host1[:port1][,host2…]/[db][?options]`, read by hand: `URL` cannot hold a host list. */
function parseMongoUri(text: string, srv: boolean): Target {
  const rest = text.slice(text.indexOf('://') + 3);
  const hostsEnd = rest.search(/[/?]/);
  const authority = hostsEnd === -1 ? rest : rest.slice(0, hostsEnd);
  const at = authority.lastIndexOf('@');
  const hostList = at === -1 ? authority : authority.slice(at + 1);
  const query = rest.includes('?') ? new URLSearchParams(rest.slice(rest.indexOf('?') + 1)) : new URLSearchParams();
  const option = (name: string): string | undefined => {
    for (const [key, value] of query) if (key.toLowerCase() === name.toLowerCase()) return value;
    return undefined;
  };
  const hosts: HostPort[] = [];
  for (const item of hostList.split(',')) {
    const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(item.trim());
    if (match === null) throw new UsageError(`cannot read the host '${redactText(item)}' of the MongoDB URI`);
    hosts.push({ host: match[1] ?? (match[2] as string), port: match[3] === undefined ? 27017 : Number(match[3]) });
  }
  if (hosts.length === 0) throw new UsageError('the MongoDB URI has no host');
  if (srv && (hosts.length > 1 || hostList.includes(':'))) throw new UsageError('a mongodb+srv:// URI names one host and no port');
  const tlsOption = option('tls') ?? option('ssl');
  return {
    kind: 'mongodb',
    hosts,
    srvName: srv ? (hosts[0] as HostPort).host : undefined,
    // An SRV URI turns TLS on unless told otherwise (the MongoDB URI spec).
    secure: tlsOption === undefined ? srv : tlsOption === 'true',
    directConnection: option('directConnection') === 'true',
    replicaSet: option('replicaSet'),
  };
}
