import { CALLER_ABORT_CODE, CALLER_TIMEOUT_CODE } from './classify/abort.js';
import type { GiveUpReason } from './errors.js';
import type { Fault } from './fault.js';

/**
 * May this operation be tried again? Only when trying again can help (the
 * fault is transient) AND repeating it cannot do harm: nothing reached the
 * peer (`connect`), a pooled connection died before any byte of the answer
 * (`idle`), the server said it did not process the request (425, 429), or
 * the operation is idempotent (its HTTP method, the caller's word, or an
 * idempotency key the peer deduplicates on). The caller's own abort is never
 * retried, whatever else is true.
 */
export type RetryVerdict =
  { readonly retry: true } | { readonly retry: false; readonly reason: Extract<GiveUpReason, 'not-transient' | 'outcome-unknown'> | 'aborted' };

/** What the caller knows about repeating the operation. */
export interface RepeatSafety {
  /** HTTP method, any case. GET, HEAD, OPTIONS, PUT, DELETE, TRACE and QUERY are idempotent (RFC 9110 §9.2.2). */
  readonly method?: string;
  /** The caller's word: `true` makes any operation repeatable, `false` overrides an idempotent method. */
  readonly idempotent?: boolean;
  /** An idempotency key is sent (a non-empty string, or `true`), so the peer deduplicates repeats. */
  readonly idempotencyKey?: string | boolean;
}

const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'QUERY']);

/** RFC 9110 idempotent methods (and QUERY), in any letter case. */
export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT_METHODS.has(method) || IDEMPOTENT_METHODS.has(method.toUpperCase());
}

const RETRY: RetryVerdict = Object.freeze({ retry: true });
const ABORTED: RetryVerdict = Object.freeze({ retry: false, reason: 'aborted' });
const NOT_TRANSIENT: RetryVerdict = Object.freeze({ retry: false, reason: 'not-transient' });
const OUTCOME_UNKNOWN: RetryVerdict = Object.freeze({ retry: false, reason: 'outcome-unknown' });

// 425 Too Early (RFC 8470) and 429 Too Many Requests are answers given instead of processing the request.
const NOT_PROCESSED_STATUS: ReadonlySet<number | undefined> = new Set([425, 429]);

function isRepeatable(operation: RepeatSafety | undefined): boolean {
  if (!operation) return false;
  const { idempotent, idempotencyKey, method } = operation;
  if (idempotent !== undefined) return idempotent;
  if (idempotencyKey === true || (typeof idempotencyKey === 'string' && idempotencyKey.length > 0)) return true;
  return typeof method === 'string' && isIdempotentMethod(method);
}

/** Whether to retry, and if not, why not. Returns shared frozen verdicts (no allocation). */
export function retryVerdict(fault: Fault, operation?: RepeatSafety): RetryVerdict {
  if (fault.kind === 'aborted' || fault.code === CALLER_ABORT_CODE || fault.code === CALLER_TIMEOUT_CODE) return ABORTED;
  if (!fault.transient) return NOT_TRANSIENT;
  if (fault.phase === 'connect' || fault.phase === 'idle') return RETRY;
  if (fault.kind === 'http-status' && NOT_PROCESSED_STATUS.has(fault.status)) return RETRY;
  return isRepeatable(operation) ? RETRY : OUTCOME_UNKNOWN;
}

/** `retryVerdict(fault, operation).retry`: transient and safe to repeat. */
export function isSafeToRetry(fault: Fault, operation?: RepeatSafety): boolean {
  return retryVerdict(fault, operation).retry;
}
