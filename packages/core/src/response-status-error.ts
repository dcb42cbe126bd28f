import { classifyResponse } from './classify/index.js';
import { HoldfastError } from './errors.js';

/** What a response must show: a fetch `Response`, an undici `request()` result or any `{ status, headers }`. */
export interface ResponseLike {
  /** `statusCode` (undici, node:http) is read when there is no `status`. */
  readonly status?: number;
  readonly statusCode?: number;
  readonly statusText?: string;
  /** Any header bag: `Headers`, a plain object, undici's raw array; only `Retry-After` is read. */
  readonly headers?: unknown;
}

/**
 * A response the caller counts as a failure (`!response.ok`), thrown as an
 * error that `classify()` reads like any other: an `http-status` fault with
 * the status, whether trying again can help (503 yes, 400 no) and the peer's
 * `Retry-After`. For retry loops that only see errors (p-retry, `retry()`
 * around `fetch`). The headers are read once and not kept: an error gets
 * logged, and a response's headers may hold cookies.
 */
export class ResponseStatusError extends HoldfastError {
  readonly status: number;
  readonly statusText: string;

  constructor(response: ResponseLike) {
    const status = response.status ?? response.statusCode ?? 0;
    const statusText = typeof response.statusText === 'string' ? response.statusText : '';
    super(`the server answered ${status}${statusText === '' ? '' : ` ${statusText}`}`, classifyResponse(status, response.headers));
    this.status = status;
    this.statusText = statusText;
  }
}
