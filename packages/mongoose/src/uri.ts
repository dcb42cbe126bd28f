/**
 * What this package reads from a connection string without parsing it the
 * way the driver does (the driver stays the judge of what is valid): the
 * option names in its query, so a value the user put there is not overridden
 * and insecure TLS switches are refused.
 */

/** Option names in the URI's query, lower-cased, with their values. */
export function uriOptions(uri: string): ReadonlyMap<string, string> {
  const options = new Map<string, string>();
  const start = uri.indexOf('?');
  if (start < 0) return options;
  const end = uri.indexOf('#', start);
  for (const pair of uri.slice(start + 1, end < 0 ? undefined : end).split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const key = decodeComponent(equals < 0 ? pair : pair.slice(0, equals)).toLowerCase();
    options.set(key, decodeComponent(equals < 0 ? '' : pair.slice(equals + 1)));
  }
  return options;
}

function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** TLS switches that turn certificate or host-name verification off. */
const INSECURE_TLS = ['tlsallowinvalidcertificates', 'tlsallowinvalidhostnames', 'tlsinsecure', 'sslvalidate'];

/** The first option that turns TLS verification off, in the URI's query or in `options`, or undefined. */
export function insecureTlsOption(options: ReadonlyMap<string, string>, given: Readonly<Record<string, unknown>>): string | undefined {
  for (const name of INSECURE_TLS) {
    const disabling = name === 'sslvalidate' ? 'false' : 'true';
    if (options.get(name)?.toLowerCase() === disabling) return name;
  }
  for (const [key, value] of Object.entries(given)) {
    const lower = key.toLowerCase();
    if (!INSECURE_TLS.includes(lower)) continue;
    if (lower === 'sslvalidate' ? value === false : value === true) return key;
  }
  return undefined;
}
