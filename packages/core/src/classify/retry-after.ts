import { isArray, readProp } from './safe-read.js';

/**
 * The peer's pushback. `Retry-After` is either delay-seconds or an HTTP-date
 * (RFC 9110 §10.2.3); gRPC's `grpc-retry-pushback-ms` is milliseconds. Anything
 * else (negative, garbage, a date format HTTP does not use) is ignored rather
 * than guessed at: a wrong pushback is worse than none.
 */
const DELAY_SECONDS = /^\d+(?:\.\d+)?$/;
// asctime-date ("Sun Nov  6 08:49:37 1994") carries no zone; HTTP says it is GMT.
const ASCTIME = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/** Milliseconds to wait from a `Retry-After` value, or `undefined` when it says nothing usable. Never throws. */
export function parseRetryAfter(value: unknown, nowMs: number = Date.now()): number | undefined {
  try {
    // Several Retry-After headers: the first one counts.
    return parseOne(isArray(value) ? value[0] : value, nowMs);
  } catch {
    // An array Proxy whose traps throw: no pushback.
    return undefined;
  }
}

function parseOne(value: unknown, nowMs: number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text.length === 0 || text.length > 64) return undefined;
  if (DELAY_SECONDS.test(text)) {
    const ms = Number(text) * 1000;
    return Number.isFinite(ms) ? ms : undefined;
  }
  let at: number;
  if (text.endsWith('GMT')) at = Date.parse(text);
  else if (ASCTIME.test(text)) at = Date.parse(`${text} GMT`);
  else return undefined;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** `grpc-retry-pushback-ms`: a non-negative integer; a negative one means "do not retry" and is ignored here. */
export function parsePushbackMs(value: unknown): number | undefined {
  let first: unknown;
  try {
    first = isArray(value) ? value[0] : value;
  } catch {
    return undefined;
  }
  if (typeof first !== 'string' || !/^\d{1,10}$/.test(first.trim())) return undefined;
  return Number(first.trim());
}

/**
 * One header's value from any header bag a client hands out: a plain object
 * (any key case), `Headers`/AxiosHeaders (`get`), a `Map`, or undici's flat
 * `[name, value, name, value…]` array. Never throws.
 */
export function headerValue(headers: unknown, name: string): unknown {
  if (typeof headers !== 'object' || headers === null) return undefined;
  try {
    if (isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) {
        const key = headers[i];
        const keyText = typeof key === 'string' ? key : key instanceof Uint8Array ? Buffer.from(key).toString('latin1') : undefined;
        if (keyText?.toLowerCase() === name) {
          const value = headers[i + 1];
          return value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : value;
        }
      }
      return undefined;
    }
    const direct = readProp(headers, name);
    if (direct !== undefined) return direct;
    const get = readProp(headers, 'get');
    if (typeof get === 'function') {
      const value: unknown = get.call(headers, name);
      if (value !== undefined && value !== null) return value;
    }
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === name) return readProp(headers, key);
    }
  } catch {
    // A hostile header bag: no pushback rather than a crash.
  }
  return undefined;
}

/** The peer's pushback from a response's headers: Retry-After first, then gRPC's pushback. */
export function retryAfterFromHeaders(headers: unknown, nowMs?: number): number | undefined {
  return parseRetryAfter(headerValue(headers, 'retry-after'), nowMs) ?? parsePushbackMs(headerValue(headers, 'grpc-retry-pushback-ms'));
}
