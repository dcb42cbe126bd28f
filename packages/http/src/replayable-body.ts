/**
 * Whether a request body can be sent again as it is. Strings, bytes,
 * `URLSearchParams`, `FormData` and `Blob` are values: each attempt
 * serialises them afresh. A stream or an (async) iterator is consumed by
 * the first attempt that reads it, and half of it must never go out as if it
 * were the whole.
 */
export function isReplayableBody(body: unknown): boolean {
  if (body === undefined || body === null || typeof body === 'string') return true;
  if (ArrayBuffer.isView(body) || body instanceof ArrayBuffer) return true;
  if (body instanceof URLSearchParams) return true;
  if (typeof Blob !== 'undefined' && body instanceof Blob) return true;
  if (typeof FormData !== 'undefined' && body instanceof FormData) return true;
  return false;
}

export const STREAM_BODY_DETAIL =
  'the request body is a stream that the failed attempt had started to send, so it cannot be sent again; pass a bodyFactory to allow retries';
