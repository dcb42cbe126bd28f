/**
 * classify() is handed whatever was thrown: frozen objects, getters that throw,
 * Proxies whose traps throw, revoked Proxies. Every read of a foreign value goes
 * through here, so one hostile property costs that property, not the answer.
 */
export function readProp(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

export function readString(value: object, key: string): string | undefined {
  const v = readProp(value, key);
  return typeof v === 'string' ? v : undefined;
}

export function readNumber(value: object, key: string): number | undefined {
  const v = readProp(value, key);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function readObject(value: object, key: string): object | undefined {
  const v = readProp(value, key);
  return typeof v === 'object' && v !== null ? v : undefined;
}

export function isArray(value: unknown): value is readonly unknown[] {
  try {
    return Array.isArray(value);
  } catch {
    // Array.isArray throws on a revoked Proxy.
    return false;
  }
}

/** The first bytes of a Buffer, Uint8Array or string that a parser rejected, for sniffing the protocol. */
export function leadingBytes(value: unknown, count: number): number[] | undefined {
  try {
    if (typeof value === 'string') {
      const out: number[] = [];
      for (let i = 0; i < Math.min(count, value.length); i++) out.push(value.charCodeAt(i) & 0xff);
      return out;
    }
    if (value instanceof Uint8Array) return Array.from(value.subarray(0, count));
  } catch {
    // A detached buffer or a hostile subclass: no bytes to sniff.
  }
  return undefined;
}
