import type { Duplex } from 'node:stream';

/**
 * The handler format undici 7's Client and Pool call natively (`onConnect`,
 * `onHeaders` with raw header buffers, `onData`, `onComplete`, `onError`).
 * undici's newer `onRequestStart`/`onResponseStart` format is converted to
 * and from this one on every request (headers parsed into an object, then
 * turned back into buffers), so the retrying request speaks this one and
 * nothing is converted when the request succeeds.
 */
export interface CoreHandler {
  onConnect?(abort: (reason?: Error) => void, context?: unknown): void;
  onRequestSent?(): void;
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage: string): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(rawTrailers: Buffer[] | string[] | null): void;
  onError?(error: Error): void;
  onUpgrade?(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void;
}

/** True when a handler only speaks undici's newer format (and needs a bridge to receive the core one). */
export function speaksOnlyNewApi(handler: object): boolean {
  const h = handler as { onRequestStart?: unknown; onHeaders?: unknown; onConnect?: unknown };
  return typeof h.onRequestStart === 'function' && typeof h.onHeaders !== 'function' && typeof h.onConnect !== 'function';
}
