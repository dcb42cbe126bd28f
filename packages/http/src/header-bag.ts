/**
 * undici takes request headers in three shapes (an object, a flat
 * `[name, value, …]` array, or an iterable of pairs); these read and extend
 * any of them without changing the caller's value.
 */
type HeaderBag = unknown;

/** `name` must be lower case. */
export function hasHeader(headers: HeaderBag, name: string): boolean {
  if (headers == null) return false;
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) return headers.some((pair) => String((pair as unknown[])[0]).toLowerCase() === name);
    for (let i = 0; i < headers.length; i += 2) if (String(headers[i]).toLowerCase() === name) return true;
    return false;
  }
  if (typeof headers !== 'object') return false;
  if (typeof (headers as { has?: unknown }).has === 'function') return (headers as { has(n: string): boolean }).has(name);
  if (Symbol.iterator in headers) {
    for (const pair of headers as Iterable<unknown[]>) if (String(pair[0]).toLowerCase() === name) return true;
    return false;
  }
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return true;
  return false;
}

/** A copy of `headers` with `name: value` added, in the shape undici accepts. */
export function withHeader(headers: HeaderBag, name: string, value: string): Record<string, string | string[]> | string[] {
  if (headers == null) return { [name]: value };
  if (Array.isArray(headers) && !(headers.length > 0 && Array.isArray(headers[0]))) return [...(headers as string[]), name, value];
  const out: Record<string, string | string[]> = {};
  const entries: Iterable<unknown[]> =
    typeof headers === 'object' && Symbol.iterator in headers ? (headers as Iterable<unknown[]>) : Object.entries(headers);
  for (const [key, v] of entries) out[String(key)] = Array.isArray(v) ? v.map(String) : String(v);
  out[name] = value;
  return out;
}
