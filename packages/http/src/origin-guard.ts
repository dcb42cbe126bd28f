import {
  CircuitBreaker,
  RetryBudget,
  RetryPolicy,
  type BreakerStats,
  type Fault,
  type RetryBudgetStats,
  type RetryPolicyStats,
  type TypedEvents,
} from '@holdfast/core';
import type { HttpClientEvents, OriginHealth } from './http-events.js';
import type { ResolvedRetryOptions } from './retry-interceptor-options.js';

/** One origin's counters and state, while holdfast keeps state for it. */
export interface OriginStats {
  readonly origin: string;
  readonly health: OriginHealth;
  readonly retry: RetryPolicyStats;
  readonly breaker: BreakerStats | undefined;
  readonly budget: RetryBudgetStats | undefined;
  readonly staleConnections: number;
}

/**
 * What one origin shares between all its requests once it has failed: a
 * retry policy (schedule, attempts) with its own `RetryBudget` and circuit
 * breaker. One origin's outage spends its own budget and opens its own
 * breaker; others go on.
 *
 * A healthy origin has no guard at all: its requests run bare and cost
 * nothing here (issue 9: a crawler's thousands of origins). The first failed
 * attempt creates one; `OriginGuards` releases it once it is quiet again (its
 * breaker closed, no failure for a window, no request of its in flight).
 * While a failure is recent every request goes through the policy, so the
 * breaker sees the outcomes of the requests that follow.
 */
export class OriginGuard {
  readonly origin: string;
  readonly policy: RetryPolicy;
  readonly budget: RetryBudget | undefined;
  readonly breaker: CircuitBreaker | undefined;
  readonly #events: TypedEvents<HttpClientEvents>;
  readonly #name: string;
  readonly #watchMs: number;
  #watchUntil = 0;
  #inFlight = 0;
  #staleConnections = 0;
  #health: OriginHealth = 'healthy';

  constructor(origin: string, options: ResolvedRetryOptions, events: TypedEvents<HttpClientEvents>) {
    this.origin = origin;
    this.#name = options.name ?? origin;
    this.#events = events;
    this.budget = options.budget === false ? undefined : new RetryBudget({ name: origin, ...options.budget });
    // The probe schedule's defaults are already in options.breaker (BREAKER_DEFAULTS).
    this.breaker = options.breaker === false ? undefined : new CircuitBreaker({ name: origin, ...options.breaker });
    this.policy = new RetryPolicy({
      attempts: options.attempts,
      immediateRetries: options.immediateRetries,
      schedule: options.schedule,
      name: options.name ?? origin,
      // The client publishes these itself, with the origin (one publish per event).
      publish: false,
      ...(this.budget === undefined ? {} : { budget: this.budget }),
      ...(this.breaker === undefined ? {} : { breaker: this.breaker }),
    });
    this.#watchMs = options.breaker === false ? 0 : (options.breaker.windowMs ?? 10_000);
    this.policy.on('retry', (event) => events.emit('retry', { ...event, origin }));
    this.policy.on('recovered', (event) => {
      events.emit('recovered', { ...event, origin });
      if (this.#health === 'healthy') this.#setHealth('flaky', event.fault);
    });
    this.policy.on('give-up', (event) => {
      events.emit('give-up', { ...event, origin });
      if (this.#health === 'healthy' && event.reason !== 'not-transient' && event.reason !== 'outcome-unknown') this.#setHealth('flaky', event.fault);
    });
    const breaker = this.breaker;
    if (breaker !== undefined) {
      breaker.on('open', (event) => this.#setHealth('down', event.fault));
      breaker.on('close', () => {
        this.#setHealth('flaky', undefined);
        // A probe got through: the origin is back, so requests sleeping out a backoff go now instead of later.
        this.policy.wake();
      });
    }
  }

  /** `healthy`, `flaky` (attempts fail, retries recover them) or `down` (the breaker is open: requests fail fast). */
  get health(): OriginHealth {
    return this.#health;
  }

  /** Requests whose reused keep-alive connection died before any byte of the answer. */
  get staleConnections(): number {
    return this.#staleConnections;
  }

  /** Counts a stale keep-alive connection and tells the listeners. */
  noteStaleConnection(method: string, fault: Fault, repeatable: boolean): void {
    this.#staleConnections++;
    this.#events.emit('stale-connection', { event: 'stale-connection', name: this.#name, origin: this.origin, method, fault, repeatable });
  }

  /** True when requests must go through the policy from their first attempt (the breaker is not closed, or a failure is recent). */
  get guarded(): boolean {
    return this.breaker !== undefined && (this.breaker.state !== 'closed' || Date.now() < this.#watchUntil);
  }

  /** An attempt failed: watch the origin closely for a while. */
  noteFailure(): void {
    this.#watchUntil = Date.now() + this.#watchMs;
  }

  /** A request of this origin entered its retries; `leave()` when it settles. */
  enter(): void {
    this.#inFlight++;
  }

  leave(): void {
    this.#inFlight--;
  }

  /**
   * Nothing worth remembering: no request in its retries, the breaker closed,
   * no failure for a whole window. A new guard would decide the same.
   */
  get quiet(): boolean {
    return this.#inFlight === 0 && Date.now() >= this.#watchUntil && (this.breaker === undefined || this.breaker.state === 'closed');
  }

  stats(): OriginStats {
    return {
      origin: this.origin,
      health: this.#health,
      retry: this.policy.stats(),
      breaker: this.breaker?.stats(),
      budget: this.budget?.stats(),
      staleConnections: this.#staleConnections,
    };
  }

  /** Released as quiet: its origin is healthy again. */
  release(): void {
    this.#setHealth('healthy', undefined);
    this.close();
  }

  close(): void {
    this.breaker?.close();
  }

  #setHealth(to: OriginHealth, fault: Fault | undefined): void {
    const from = this.#health;
    if (from === to) return;
    this.#health = to;
    this.#events.emit('health', { event: 'health', name: this.#name, origin: this.origin, from, to, ...(fault === undefined ? {} : { fault }) });
  }
}
