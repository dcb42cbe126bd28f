import { TOXIC_TYPES } from '@holdfast/chaos';
import type { ToxicOptions, ToxicType } from '@holdfast/chaos';
import { UsageError } from '../io.js';

/**
 * A toxic written on one line, for `--toxic` and the stdin commands:
 *
 *   type[:toxicity][:attr=value,attr=value…]
 *
 * `latency:1:latency=200,jitter=50`, `reset_peer:0.1:after_bytes=1024`,
 * `timeout:timeout=0,stream=upstream`. Besides the toxic's own attributes,
 * `stream=upstream|downstream` and `name=…` are accepted in the list. The
 * attributes themselves are checked by the proxy (`addToxic`), whose error
 * names the attribute and what it accepts.
 */
export function parseToxicSpec(spec: string): ToxicOptions {
  const parts = spec.trim().split(':');
  const type = parts.shift() ?? '';
  if (!(TOXIC_TYPES as readonly string[]).includes(type)) {
    throw new UsageError(`unknown toxic type '${type}' in '${spec}' (accepted: ${TOXIC_TYPES.join(', ')})`);
  }
  let toxicity: number | undefined;
  if (parts.length > 0 && !(parts[0] as string).includes('=')) {
    const text = parts.shift() as string;
    toxicity = Number(text);
    if (text === '' || !(toxicity >= 0 && toxicity <= 1)) {
      throw new UsageError(`toxicity must be a number from 0 to 1, got '${text}' in '${spec}'`);
    }
  }
  if (parts.length > 1) throw new UsageError(`expected type[:toxicity][:attr=value,…], got '${spec}'`);
  const attributes: Record<string, number> = {};
  let stream: string | undefined;
  let name: string | undefined;
  const list = parts[0] ?? '';
  for (const pair of list === '' ? [] : list.split(',')) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (eq <= 0 || value === '') throw new UsageError(`expected attr=value, got '${pair}' in '${spec}'`);
    if (key === 'stream') stream = value;
    else if (key === 'name') name = value;
    else {
      const number = Number(value);
      if (!Number.isFinite(number)) throw new UsageError(`attribute '${key}' must be a number, got '${value}' in '${spec}'`);
      attributes[key] = number;
    }
  }
  if (stream !== undefined && stream !== 'upstream' && stream !== 'downstream') {
    throw new UsageError(`stream must be 'upstream' or 'downstream', got '${stream}' in '${spec}'`);
  }
  return {
    type: type as ToxicType,
    ...(name === undefined ? {} : { name }),
    ...(stream === undefined ? {} : { stream }),
    ...(toxicity === undefined ? {} : { toxicity }),
    attributes,
  };
}

/** `host:port`, `[::1]:port` or a bare port (loopback). */
export function parseHostPort(value: string, what: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
  const match = /^(?:(?:\[([^\]]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  if (match === null || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`${what} must be host:port, [ipv6]:port or a port, got '${value}'`);
  }
  const host = match[1] ?? (match[2] === undefined || match[2] === '' ? defaultHost : match[2]);
  return { host, port };
}

export function formatHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
