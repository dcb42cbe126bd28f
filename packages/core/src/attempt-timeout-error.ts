import { HoldfastError } from './errors.js';

const HINT =
  "the peer did not answer in time (overloaded, a firewall dropping packets, or the host is down); retry with backoff and check the timeout against the peer's real latency";

/**
 * An attempt ran out of time: `attemptTimeoutMs`, or the overall deadline cut
 * it short. Unlike the caller's own `AbortSignal.timeout()` it is transient
 * (the next attempt gets time of its own), so its fault is a retryable
 * `timeout` with Node's `ETIMEDOUT` code (existing `err.code === 'ETIMEDOUT'`
 * checks keep working), in the `unknown` phase: the caller's context given to
 * classify() still decides how far the attempt got.
 */
export class AttemptTimeoutError extends HoldfastError {
  /** The attempt that ran out of time (1 for the first). */
  readonly attempt: number;
  /** How long it was given. */
  readonly timeoutMs: number;
  /** True when the overall deadline, not `attemptTimeoutMs`, ended it. */
  readonly byDeadline: boolean;

  constructor(attempt: number, timeoutMs: number, byDeadline: boolean) {
    const message = byDeadline
      ? `attempt ${attempt} was cut short by the overall deadline after ${Math.round(timeoutMs)} ms`
      : `attempt ${attempt} timed out after attemptTimeoutMs (${timeoutMs} ms)`;
    super(message, { kind: 'timeout', code: 'ETIMEDOUT', phase: 'unknown', transient: true, hint: HINT, message });
    this.attempt = attempt;
    this.timeoutMs = timeoutMs;
    this.byDeadline = byDeadline;
  }
}
