/**
 * Events, logs and error messages never carry secrets: URL userinfo, credential
 * headers and credential-like query parameters are replaced by `[redacted]`.
 */
export const REDACTED = '[redacted]';

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'api-key', 'x-auth-token']);

const SECRET_QUERY = /^(access_token|token|api_key|apikey|api-key|key|sig|signature|password|passwd|secret|client_secret)$/i;

// scheme://user:pass@host — userinfo may hold anything but '/', '@' and whitespace.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi;
const QUERY_PAIR = /([?&])([^=&#\s]+)=([^&#\s]*)/g;

export function isSecretHeader(name: string): boolean {
  return SECRET_HEADERS.has(name.toLowerCase());
}

/** Removes URL credentials and credential-like query values from free text (messages, URLs). */
export function redactText(text: string): string {
  if (!text.includes('://') && !text.includes('=')) return text;
  return text
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(QUERY_PAIR, (whole, sep: string, key: string) => (SECRET_QUERY.test(key) ? `${sep}${key}=${REDACTED}` : whole));
}

/** A header bag (object, array of pairs, flat undici array, or `Headers`) with secret values replaced. */
export function redactHeaders(headers: unknown): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const put = (name: string, value: unknown): void => {
    const text = Array.isArray(value) ? value.map(String) : String(value);
    out[name] = isSecretHeader(name) ? REDACTED : text;
  };
  try {
    if (headers == null) return out;
    if (typeof (headers as { forEach?: unknown }).forEach === 'function' && !Array.isArray(headers)) {
      (headers as { forEach(cb: (v: string, k: string) => void): void }).forEach((v, k) => put(k, v));
    } else if (Array.isArray(headers)) {
      if (headers.every((h) => Array.isArray(h))) {
        for (const [k, v] of headers as [unknown, unknown][]) put(String(k), v);
      } else {
        for (let i = 0; i + 1 < headers.length; i += 2) put(String(headers[i]), headers[i + 1]);
      }
    } else if (typeof headers === 'object') {
      for (const [k, v] of Object.entries(headers)) put(k, v);
    }
  } catch {
    // A hostile header object is not worth a crash; what was read so far is returned.
  }
  return out;
}

const MAX_DEPTH = 6;

/**
 * A copy of `value` that is safe to publish: strings lose URL credentials,
 * `headers` objects lose secret values, keys that name a secret are replaced.
 * Cycles and depth are bounded; getters that throw are skipped.
 */
export function redact<T>(value: T): T {
  return redactValue(value, 0, new WeakSet()) as T;
}

function redactValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof URL) return redactText(value.href);
  if (value instanceof Error) return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (seen.has(value) || depth >= MAX_DEPTH) return '[…]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  let keys: string[];
  try {
    keys = Object.keys(value);
  } catch {
    return '[unreadable]';
  }
  for (const key of keys) {
    let v: unknown;
    try {
      v = (value as Record<string, unknown>)[key];
    } catch {
      continue;
    }
    if (isSecretHeader(key) || /^(password|passwd|secret|token|apikey|api_key|credentials?)$/i.test(key)) {
      out[key] = REDACTED;
    } else if (key.toLowerCase() === 'headers') {
      out[key] = redactHeaders(v);
    } else {
      out[key] = redactValue(v, depth + 1, seen);
    }
  }
  return out;
}
