import type { Dispatcher } from 'undici';

/**
 * undici takes request headers in three shapes (an object, a flat
 * `[name, value, …]` array, or any other object that iterates
 * `[name, value]` pairs: Headers, Map, …); these read and extend any of them
 * without changing the caller's value. A header whose value is `undefined`
 * is one undici leaves out, so here it is not there either.
 */
type HeaderBag = unknown;

type UndiciHeaders = NonNullable<Dispatcher.DispatchOptions['headers']>;

const isPairs = (headers: unknown[]): boolean => headers.length > 0 && Array.isArray(headers[0]);

/** `name` must be lower case. */
export function hasHeader(headers: HeaderBag, name: string): boolean {
  if (headers == null || typeof headers !== 'object') return false;
  if (Array.isArray(headers)) {
    // undici refuses an array of pairs, but a key in one must still be seen.
    if (isPairs(headers)) return headers.some((pair) => named(pair as unknown[], name));
    for (let i = 0; i < headers.length; i += 2) if (headers[i + 1] !== undefined && String(headers[i]).toLowerCase() === name) return true;
    return false;
  }
  // Headers matches names in any case; a Map's has() would not, so other iterables are walked.
  if (headers instanceof Headers) return headers.has(name);
  if (Symbol.iterator in headers) {
    for (const pair of headers as Iterable<unknown[]>) if (named(pair, name)) return true;
    return false;
  }
  const record = headers as Record<string, unknown>;
  for (const key of Object.keys(record)) if (record[key] !== undefined && key.toLowerCase() === name) return true;
  return false;
}

function named(pair: unknown[], name: string): boolean {
  return pair[1] !== undefined && String(pair[0]).toLowerCase() === name;
}

/**
 * A copy of `headers` with `name: value` in place of any header of that name
 * (in any case), in a shape undici takes; every other header is kept as the
 * caller gave it, for undici to check and send as it would have. `name` must
 * be lower case.
 */
export function withHeader(headers: HeaderBag, name: string, value: string): UndiciHeaders {
  if (headers == null || typeof headers !== 'object') return { [name]: value };
  if (Array.isArray(headers) || Symbol.iterator in headers) {
    // Pairs become a flat array, not an object: a name may come more than once, and an object keeps only the last.
    const out: unknown[] = [];
    if (Array.isArray(headers) && !isPairs(headers)) {
      for (let i = 0; i < headers.length; i += 2) if (String(headers[i]).toLowerCase() !== name) out.push(headers[i], headers[i + 1]);
    } else {
      for (const [key, v] of headers as Iterable<unknown[]>) if (String(key).toLowerCase() !== name) out.push(key, v);
    }
    out.push(name, value);
    return out as string[];
  }
  const out: Record<string, string | string[]> = {};
  for (const [key, v] of Object.entries(headers as Record<string, string | string[]>)) if (key.toLowerCase() !== name) out[key] = v;
  out[name] = value;
  return out;
}

/**
 * A one-shot iterator of pairs (`map.entries()`, a generator) would be used up
 * by its first reader, ours or undici's, and a retry would go without
 * headers: read once into a flat array. Any other shape is returned as it is.
 */
export function replayableHeaders<T>(headers: T): T | UndiciHeaders {
  if (headers == null || typeof (headers as { next?: unknown }).next !== 'function') return headers;
  const out: unknown[] = [];
  for (const [key, value] of headers as unknown as Iterable<unknown[]>) out.push(key, value);
  return out as string[];
}
