import type { CircuitBreaker } from './breaker.js';
import { breakerPort } from './breaker-port.js';
import type { RetryBudget } from './budget.js';
import { TypedEvents, type Listener } from './events.js';
import { startCall, type PolicyShared } from './retry-loop.js';
import {
  callOptionsProblem,
  operationProblem,
  policyOptionsProblem,
  type RetryableOperation,
  type RetryCallOptions,
  type RetryEvents,
  type RetryPolicyOptions,
} from './retry-options.js';

/** Counters of a `RetryPolicy` over all its calls. */
export interface RetryPolicyStats {
  /** Calls started. */
  readonly calls: number;
  /** Retries made (immediate ones included). */
  readonly retries: number;
  /** Retries made at once after a connection fault while the peer was alive. */
  readonly immediateRetries: number;
  /** Calls that succeeded after at least one retry: the peer is flaky but alive. */
  readonly recovered: number;
  /** Calls that failed for good (any reason but the caller's abort). */
  readonly gaveUp: number;
  /** Budget tokens given back by retries that proved not wasted. */
  readonly refundedTokens: number;
}

/**
 * One schedule, budget, breaker and set of listeners for many calls: what a
 * client holds per peer (the HTTP package keeps one per origin). Options are
 * checked once here; each `execute()` only checks the options it is given.
 */
export class RetryPolicy {
  readonly #options: RetryPolicyOptions;
  readonly #events: TypedEvents<RetryEvents>;
  readonly #shared: PolicyShared;

  constructor(options: RetryPolicyOptions = {}) {
    const problem = policyOptionsProblem(options);
    if (problem !== undefined) throw problem;
    this.#options = Object.freeze({ ...options });
    this.#events = new TypedEvents<RetryEvents>(options.publish === false ? false : {});
    this.#shared = {
      sleepers: new Set(),
      counters: { calls: 0, retries: 0, immediateRetries: 0, recovered: 0, gaveUp: 0, refundedTokens: 0 },
      port: options.breaker === undefined ? undefined : breakerPort(options.breaker),
    };
  }

  /** The shared budget, when one was given. */
  get budget(): RetryBudget | undefined {
    return this.#options.budget;
  }

  /** The breaker every attempt goes through, when one was given. */
  get breaker(): CircuitBreaker | undefined {
    return this.#options.breaker;
  }

  /** Counters over every call of this policy. */
  stats(): RetryPolicyStats {
    const { calls, retries, immediateRetries, recovered, gaveUp, refundedTokens } = this.#shared.counters;
    return { calls, retries, immediateRetries, recovered, gaveUp, refundedTokens: Math.round(refundedTokens * 1000) / 1000 };
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
    return startCall(operation, this.#options, options, this.#events, this.#shared);
  }

  /**
   * Ends the backoff sleep of every call of this policy now: each runs its
   * next attempt at once (deadline, attempts and budget still apply; the
   * retry was already granted). For when the peer is known to be back, for
   * instance on a breaker's `close` event: waiting out the rest of a backoff
   * then only delays callers. Returns how many sleeps it ended.
   */
  wake(): number {
    const sleeping = [...this.#shared.sleepers];
    for (const wake of sleeping) wake();
    return sleeping.length;
  }

  /** Adds a listener; returns a function that removes it. Events are also published on `holdfast:<event>`. */
  on<K extends keyof RetryEvents>(name: K, listener: Listener<RetryEvents[K]>): () => void {
    return this.#events.on(name, listener);
  }

  once<K extends keyof RetryEvents>(name: K, listener: Listener<RetryEvents[K]>): () => void {
    return this.#events.once(name, listener);
  }

  off<K extends keyof RetryEvents>(name: K, listener: Listener<RetryEvents[K]>): void {
    this.#events.off(name, listener);
  }
}

export function createRetryPolicy(options: RetryPolicyOptions = {}): RetryPolicy {
  return new RetryPolicy(options);
}
