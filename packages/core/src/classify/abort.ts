import { type Rule, type RuleTable, rule, ruleTable } from './rule.js';
import { readProp, readString } from './safe-read.js';

/**
 * The caller's own cancellation: an `AbortSignal` that fired. It is a decision,
 * not a network fault, so it is never transient and never retried. A signal
 * from `AbortSignal.timeout()` fires with a `TimeoutError` reason: that is the
 * caller's deadline, kind `timeout`, still not transient (the same signal
 * would cancel the next attempt too).
 */
export const ABORT_HINT = "the caller's AbortSignal cancelled the operation; not a network fault, nothing to retry";
export const CALLER_TIMEOUT_HINT =
  "the caller's deadline (AbortSignal.timeout) passed first; raise that deadline or find out why the peer is slow, retrying under the same signal cannot help";

/** Codes of the caller's own cancellation (DOMException's legacy names); `retryVerdict` never retries them. */
export const CALLER_ABORT_CODE = 'ABORT_ERR';
export const CALLER_TIMEOUT_CODE = 'TIMEOUT_ERR';

export const ABORTED: Rule = rule(CALLER_ABORT_CODE, { kind: 'aborted', phase: 'unknown', transient: false, hint: ABORT_HINT });
export const CALLER_TIMEOUT: Rule = rule(CALLER_TIMEOUT_CODE, {
  kind: 'timeout',
  phase: 'unknown',
  transient: false,
  hint: CALLER_TIMEOUT_HINT,
});

export const ABORT_RULES: RuleTable = ruleTable({
  ABORT_ERR: () => ABORTED,
});

/** Recognises aborts by name, for DOMException (numeric `code` 20 / 23) and libraries that copy its name. */
export function abortByName(error: object, name: string): Rule | undefined {
  if (name === 'AbortError') return ABORTED;
  // got names its own timeouts TimeoutError too, with an `event` and code ETIMEDOUT (see got.ts).
  if (name === 'TimeoutError' && readProp(error, 'event') === undefined) return CALLER_TIMEOUT;
  return undefined;
}

/** The reason an AbortSignal fired with, when it says "deadline": the signal came from AbortSignal.timeout(). */
export function isTimeoutReason(reason: unknown): boolean {
  return typeof reason === 'object' && reason !== null && readString(reason, 'name') === 'TimeoutError';
}
