import type { Fault } from './fault.js';

/** Why a retry loop stopped without a result. */
export type GiveUpReason =
  | 'not-transient' // trying again cannot help (a bad certificate, a 400)
  | 'outcome-unknown' // transient, but the peer may have applied it and it is not idempotent
  | 'attempts-exhausted'
  | 'deadline' // the next attempt could not finish before the overall deadline
  | 'budget-exhausted' // the shared RetryBudget refused a retry
  | 'breaker-open'
  | 'should-retry' // the caller's shouldRetry() said no
  | 'response-started'; // the response had begun reaching the caller, so the operation could not be repeated

/** Base of every error holdfast raises; always carries the classified Fault. */
export class HoldfastError extends Error {
  readonly fault: Fault;
  /** The fault's code, so existing `err.code === 'ECONNRESET'` checks keep working. */
  readonly code: string;

  constructor(message: string, fault: Fault, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.fault = fault;
    this.code = fault.code;
  }
}

/**
 * The operation failed for good: `attempts` were made and `reason` says why no
 * further one was. `cause` is the last attempt's error.
 */
export class RetryError extends HoldfastError {
  readonly attempts: number;
  readonly reason: GiveUpReason;

  constructor(fault: Fault, attempts: number, reason: GiveUpReason, cause: unknown, detail?: string) {
    super(
      `${fault.code} (${fault.kind}, ${fault.phase} phase) after ${attempts} attempt${attempts === 1 ? '' : 's'}; ` +
        `stopped: ${detail ?? describeReason(reason)}. ${fault.hint}`,
      fault,
      { cause },
    );
    this.attempts = attempts;
    this.reason = reason;
  }
}

/**
 * The operation may or may not have been applied by the peer (for example a
 * POST whose connection reset after the request was sent), and repeating it is
 * not known to be safe. The caller must find out (look the result up, or
 * send it again with an idempotency key); holdfast never repeats it silently.
 */
export class OutcomeUnknownError extends RetryError {
  constructor(fault: Fault, attempts: number, cause: unknown) {
    super(
      fault,
      attempts,
      'outcome-unknown',
      cause,
      'the outcome is unknown: the peer may have applied the operation, and it is not idempotent, so it was not repeated',
    );
  }
}

/** The circuit breaker is open: the call failed fast without touching the peer. */
export class BreakerOpenError extends HoldfastError {
  /** When the breaker will let a probe through (epoch ms). */
  readonly retryAt: number;

  constructor(name: string, retryAt: number, lastFault?: Fault) {
    const waitMs = Math.max(0, retryAt - Date.now());
    super(
      `circuit '${name}' is open after repeated failures${lastFault ? ` (last: ${lastFault.code})` : ''}; failing fast, next probe in ${waitMs} ms`,
      {
        kind: 'circuit-open',
        code: 'HOLDFAST_BREAKER_OPEN',
        phase: 'connect',
        transient: true,
        hint: "the peer failed repeatedly, so calls fail fast until a probe succeeds; check the peer's health, the breaker recovers by itself",
        retryAfterMs: waitMs,
        message: `circuit '${name}' is open`,
      },
    );
    this.retryAt = retryAt;
  }
}

function describeReason(reason: GiveUpReason): string {
  switch (reason) {
    case 'not-transient':
      return 'the fault is not transient, trying again cannot help';
    case 'outcome-unknown':
      return 'the outcome is unknown and the operation is not idempotent';
    case 'attempts-exhausted':
      return 'no attempts left';
    case 'deadline':
      return 'the overall deadline leaves no time for another attempt';
    case 'budget-exhausted':
      return 'the retry budget is empty (retries are limited to a share of traffic)';
    case 'breaker-open':
      return 'the circuit breaker is open';
    case 'should-retry':
      return 'shouldRetry() declined';
    case 'response-started':
      return 'the response had already started reaching the caller, so the request was not repeated';
  }
}
