import type { Duplex } from 'node:stream';

/**
 * The handler format undici 7's Client and Pool call natively (`onConnect`,
 * `onHeaders` with raw header buffers, `onData`, `onComplete`, `onError`),
 * and the one undici 7's own `request`, `stream` and `fetch` handlers speak.
 * undici 8 calls only the controller format (`onRequestStart`,
 * `onResponseStart` with parsed headers…) and refuses this one
 * (docs/decisions/0010-undici-7-and-8.md).
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

/**
 * True when a handler speaks the core format. undici 7's compose() wraps a
 * core-format handler in one that speaks both, so any core method wins: the
 * dispatcher below undici 7's compose calls it natively, and undici 8's
 * handlers never have one.
 */
export function speaksCoreFormat(handler: object): boolean {
  const h = handler as { onRequestStart?: unknown; onHeaders?: unknown; onConnect?: unknown };
  return typeof h.onHeaders === 'function' || typeof h.onConnect === 'function' || typeof h.onRequestStart !== 'function';
}
