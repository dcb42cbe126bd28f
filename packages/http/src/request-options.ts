import { formatValue } from '@holdfast/core/internal';

/**
 * What one request tells the retry interceptor beyond undici's own dispatch
 * options. With undici's `request()` or a dispatcher it travels as the
 * `holdfast` key of the options (undici passes unknown keys through to the
 * interceptors); `createHttpClient`, `wrapFetch` and the axios adapter take
 * the same fields as plain request options.
 */
export interface ResilientRequestOptions {
  /** The caller's word that repeating this request is harmless (or, `false`, that it is not, even for a GET). */
  readonly idempotent?: boolean;
  /**
   * Sends an `Idempotency-Key` header, the same on every attempt, so a POST
   * may be retried after it reached the server: `true` generates a key, a
   * string is used as given.
   */
  readonly idempotencyKey?: string | boolean;
  /** Overall time for the request across every attempt and backoff, from its start. */
  readonly deadlineMs?: number;
  /** Overall deadline as epoch milliseconds; with `deadlineMs`, the earlier applies. */
  readonly deadline?: number;
  /**
   * Makes a fresh copy of a stream body for each attempt. Without it a
   * stream body is sent once, and a failure after it started is not retried.
   */
  readonly bodyFactory?: () => unknown;
}

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

const isTimerMs = (v: unknown): boolean => typeof v === 'number' && v > 0 && v <= 2_147_483_647;

/** Throws a TypeError/RangeError that names the option, the value and what is accepted. */
export function validateRequestOptions(where: string, options: ResilientRequestOptions): void {
  const { idempotent, idempotencyKey, deadlineMs, deadline, bodyFactory } = options;
  if (idempotent !== undefined && typeof idempotent !== 'boolean') {
    throw new TypeError(`${where}: option 'idempotent' must be a boolean, got ${formatValue(idempotent)}`);
  }
  if (
    idempotencyKey !== undefined &&
    !(typeof idempotencyKey === 'boolean' || (typeof idempotencyKey === 'string' && /^[\x21-\x7e]{1,255}$/.test(idempotencyKey)))
  ) {
    throw new TypeError(
      `${where}: option 'idempotencyKey' must be true, false or a string of 1 to 255 visible ASCII characters, got ${formatValue(idempotencyKey)}`,
    );
  }
  if (deadlineMs !== undefined && !isTimerMs(deadlineMs)) {
    throw new RangeError(`${where}: option 'deadlineMs' must be a number of milliseconds from 1 to 2147483647, got ${formatValue(deadlineMs)}`);
  }
  if (deadline !== undefined && !(typeof deadline === 'number' && Number.isFinite(deadline))) {
    throw new RangeError(`${where}: option 'deadline' must be a finite epoch time in milliseconds, got ${formatValue(deadline)}`);
  }
  if (bodyFactory !== undefined && typeof bodyFactory !== 'function') {
    throw new TypeError(`${where}: option 'bodyFactory' must be a function returning a fresh body, got ${formatValue(bodyFactory)}`);
  }
}
