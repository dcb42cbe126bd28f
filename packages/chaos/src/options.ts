import { invalidOption, isPort } from './option-error.js';
import type { Toxic, ToxicOptions } from './toxic.js';
import { normalizeToxic } from './toxic.js';

export interface ChaosProxyOptions {
  /** Where connections are forwarded: `{ host, port }` or `'host:port'` (`'[::1]:port'` for IPv6). */
  readonly upstream: string | { readonly host: string; readonly port: number };
  /** Address to listen on. Default `'127.0.0.1'`. */
  readonly host?: string;
  /** Port to listen on; 0 picks a free one. Default 0. */
  readonly port?: number;
  /** Toxics in place before the first connection. Default none. */
  readonly toxics?: readonly ToxicOptions[];
  /** Source of randomness for toxicity, jitter and slice sizes, uniform in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

export interface ResolvedProxyOptions {
  readonly upstream: { readonly host: string; readonly port: number };
  readonly host: string;
  readonly port: number;
  readonly toxics: readonly Toxic[];
  readonly random: () => number;
}

const WHERE = 'createChaosProxy';
const KNOWN = ['upstream', 'host', 'port', 'toxics', 'random'];
const UPSTREAM_ACCEPTED = "{ host, port } or 'host:port' (IPv6 as '[::1]:port') with a port from 1 to 65535";

export function resolveProxyOptions(options: unknown): ResolvedProxyOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(WHERE, 'options', 'an object with at least { upstream }', options);
  }
  const given = options as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!KNOWN.includes(key)) throw new RangeError(`${WHERE}: unknown option '${key}' (accepted: ${KNOWN.join(', ')})`);
  }
  const upstream = parseUpstream(given.upstream);
  const host = given.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.length === 0) {
    throw invalidOption(WHERE, 'host', "a non-empty address such as '127.0.0.1' or '::1'", host);
  }
  const port = given.port ?? 0;
  if (!isPort(port)) throw invalidOption(WHERE, 'port', 'an integer from 0 to 65535 (0 picks a free port)', port);
  const random = given.random ?? Math.random;
  if (typeof random !== 'function') throw invalidOption(WHERE, 'random', 'a function returning a number in [0, 1)', random);
  const toxicList = given.toxics ?? [];
  if (!Array.isArray(toxicList)) throw invalidOption(WHERE, 'toxics', 'an array of toxics (as addToxic() takes)', toxicList);
  const toxics = toxicList.map((t: unknown, i) => normalizeToxic(t, `${WHERE}: toxics[${i}]`));
  const names = new Set<string>();
  for (const toxic of toxics) {
    if (names.has(toxic.name)) throw new RangeError(`${WHERE}: two toxics are named '${toxic.name}'; names must be unique`);
    names.add(toxic.name);
  }
  return { upstream, host, port, toxics, random: random as () => number };
}

function parseUpstream(value: unknown): { host: string; port: number } {
  if (typeof value === 'string') {
    const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
    const host = match?.[1] ?? match?.[2];
    const port = Number(match?.[3]);
    if (host === undefined || !isPort(port) || port === 0) throw invalidOption(WHERE, 'upstream', UPSTREAM_ACCEPTED, value);
    return { host, port };
  }
  if (typeof value === 'object' && value !== null) {
    const { host, port } = value as { host?: unknown; port?: unknown };
    if (typeof host === 'string' && host.length > 0 && isPort(port) && port !== 0) return { host, port };
  }
  throw invalidOption(WHERE, 'upstream', UPSTREAM_ACCEPTED, value);
}
