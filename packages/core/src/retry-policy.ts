import type { RetryBudget } from './budget.js';
import { TypedEvents, type Listener } from './events.js';
import { startCall } from './retry-loop.js';
import {
  callOptionsProblem,
  operationProblem,
  policyOptionsProblem,
  type RetryableOperation,
  type RetryCallOptions,
  type RetryEvents,
  type RetryPolicyOptions,
} from './retry-options.js';

/**
 * One schedule, budget and set of listeners for many calls: what a client
 * holds (the HTTP package keeps one per client). Options are checked once
 * here; each `execute()` only checks the options it is given.
 */
export class RetryPolicy {
  readonly #options: RetryPolicyOptions;
  readonly #events = new TypedEvents<RetryEvents>();
  readonly #sleepers = new Set<() => void>();

  constructor(options: RetryPolicyOptions = {}) {
    const problem = policyOptionsProblem(options);
    if (problem !== undefined) throw problem;
    this.#options = Object.freeze({ ...options });
  }

  /** The shared budget, when one was given. */
  get budget(): RetryBudget | undefined {
    return this.#options.budget;
  }

  /**
   * Runs `operation`; if it fails with a transient fault that is safe to
   * repeat, runs it again as the policy and `options` allow. Rejects with the
   * result's error: `RetryError` / `OutcomeUnknownError` when it gives up,
   * the caller's abort reason when `signal` fires.
   */
  execute<T>(operation: RetryableOperation<T>, options?: RetryCallOptions): Promise<T> {
    const problem = operationProblem('RetryPolicy.execute', operation) ?? (options === undefined ? undefined : callOptionsProblem(options));
    if (problem !== undefined) return Promise.reject(problem);
    return startCall(operation, this.#options, options, this.#events, this.#sleepers);
  }

  /**
   * Ends the backoff sleep of every call of this policy now: each runs its
   * next attempt at once (deadline, attempts and budget still apply; the
   * retry was already granted). For when the peer is known to be back, for
   * instance on a breaker's `close` event: waiting out the rest of a backoff
   * then only delays callers. Returns how many sleeps it ended.
   */
  wake(): number {
    const sleeping = [...this.#sleepers];
    for (const wake of sleeping) wake();
    return sleeping.length;
  }

  /** Adds a listener; returns a function that removes it. Events are also published on `holdfast:<event>`. */
  on<K extends keyof RetryEvents>(name: K, listener: Listener<RetryEvents[K]>): () => void {
    return this.#events.on(name, listener);
  }

  off<K extends keyof RetryEvents>(name: K, listener: Listener<RetryEvents[K]>): void {
    this.#events.off(name, listener);
  }
}

export function createRetryPolicy(options: RetryPolicyOptions = {}): RetryPolicy {
  return new RetryPolicy(options);
}
