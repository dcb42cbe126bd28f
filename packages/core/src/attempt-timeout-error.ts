/**
 * An attempt ran out of time: `attemptTimeoutMs`, or the overall deadline cut
 * it short. Unlike the caller's own `AbortSignal.timeout()` it is transient
 * (the next attempt gets time of its own), so it carries Node's `ETIMEDOUT`
 * code rather than the `TimeoutError` name: classify() reads it as a
 * retryable timeout, the caller's context still decides its phase, and
 * existing `err.code === 'ETIMEDOUT'` checks keep working.
 */
export class AttemptTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  /** The attempt that ran out of time (1 for the first). */
  readonly attempt: number;
  /** How long it was given. */
  readonly timeoutMs: number;
  /** True when the overall deadline, not `attemptTimeoutMs`, ended it. */
  readonly byDeadline: boolean;

  constructor(attempt: number, timeoutMs: number, byDeadline: boolean) {
    super(
      byDeadline
        ? `attempt ${attempt} was cut short by the overall deadline after ${Math.round(timeoutMs)} ms`
        : `attempt ${attempt} timed out after attemptTimeoutMs (${timeoutMs} ms)`,
    );
    this.name = 'AttemptTimeoutError';
    this.attempt = attempt;
    this.timeoutMs = timeoutMs;
    this.byDeadline = byDeadline;
  }
}
