/**
 * Every invalid option fails the same way: the error names where it was
 * passed, the option, what is accepted and what was given, so a typo in a
 * test's setup is fixed from the message alone.
 */
export function invalidOption(where: string, option: string, accepted: string, value: unknown): RangeError {
  return new RangeError(`${where}: option '${option}' must be ${accepted}, got ${describeValue(value)}`);
}

/** A short, credential-free rendering of what the caller passed. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(withoutUserinfo(value));
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  let text: string;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? withoutUserinfo(v) : v));
  } catch {
    return 'an object';
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

// An address someone pastes may carry `user:password@`; it never reaches a message.
function withoutUserinfo(text: string): string {
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const scheme = text.indexOf('://');
  const start = scheme >= 0 && scheme < at ? scheme + 3 : 0;
  return `${text.slice(0, start)}[redacted]${text.slice(at)}`;
}

export function isNonNegativeNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

export function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535;
}
