import { CircuitBreaker, RetryBudget, RetryPolicy, publish, type BreakerOptions, type Fault } from '@holdfast/core';
import type { ResolvedRetryOptions, StaleConnectionEvent } from './retry-interceptor-options.js';

/**
 * What one origin shares between all its requests: a retry policy (schedule,
 * attempts) with its own `RetryBudget`, and a circuit breaker. One origin's
 * outage spends its own budget and opens its own breaker; others go on.
 *
 * The breaker only sees traffic while the origin is in trouble: a healthy
 * origin's requests run bare (routing each through opossum costs a promise
 * chain per request). After a failure every request goes through the breaker
 * for `watchMs`, so its failure rate is measured over the requests that
 * follow, and it opens only when most of them fail.
 */
export class OriginGuard {
  readonly origin: string;
  readonly policy: RetryPolicy;
  readonly budget: RetryBudget | undefined;
  readonly breaker: CircuitBreaker | undefined;
  readonly #watchMs: number;
  readonly #onStaleConnection: ResolvedRetryOptions['onStaleConnection'];
  #watchUntil = 0;
  #staleConnections = 0;

  constructor(origin: string, options: ResolvedRetryOptions) {
    this.origin = origin;
    this.budget = options.budget === false ? undefined : new RetryBudget({ name: origin, ...options.budget });
    this.policy = new RetryPolicy({
      attempts: options.attempts,
      schedule: options.schedule,
      name: origin,
      ...(this.budget === undefined ? {} : { budget: this.budget }),
    });
    const { onRetry, onGiveUp } = options;
    if (onRetry !== undefined) this.policy.on('retry', (event) => onRetry({ ...event, origin }));
    if (onGiveUp !== undefined) this.policy.on('give-up', (event) => onGiveUp({ ...event, origin }));
    const breakerOptions: BreakerOptions | false = options.breaker;
    // The probe schedule's defaults are already in breakerOptions (BREAKER_DEFAULTS).
    this.breaker = breakerOptions === false ? undefined : new CircuitBreaker({ name: origin, ...breakerOptions });
    // A probe got through: the origin is back, so requests sleeping out a backoff go now instead of later.
    this.breaker?.on('close', () => this.policy.wake());
    this.#watchMs = breakerOptions === false ? 0 : (breakerOptions.windowMs ?? 10_000);
    this.#onStaleConnection = options.onStaleConnection;
  }

  /** Requests whose reused keep-alive connection died before any byte of the answer. */
  get staleConnections(): number {
    return this.#staleConnections;
  }

  /** Counts a stale keep-alive connection and tells the listeners. */
  noteStaleConnection(method: string, fault: Fault, repeatable: boolean): void {
    this.#staleConnections++;
    const event: StaleConnectionEvent = { origin: this.origin, method, fault, repeatable };
    publish('stale-connection', event);
    if (this.#onStaleConnection === undefined) return;
    try {
      this.#onStaleConnection(event);
    } catch (error) {
      // A listener's bug must not break the request that reported it.
      process.emitWarning(`a listener for holdfast event 'stale-connection' threw: ${String(error)}`, { type: 'HoldfastListenerWarning' });
    }
  }

  /** True when requests must go through the breaker (it is not closed, or the origin failed recently). */
  get guarded(): boolean {
    return this.breaker !== undefined && this.#watchUntil !== 0 && (this.breaker.state !== 'closed' || Date.now() < this.#watchUntil);
  }

  /** An attempt failed: watch the origin closely for a while. */
  noteFailure(): void {
    if (this.breaker !== undefined) this.#watchUntil = Date.now() + this.#watchMs;
  }

  close(): void {
    this.breaker?.close();
  }
}
