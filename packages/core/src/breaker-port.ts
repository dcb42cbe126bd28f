import type { BreakerState, CircuitBreaker } from './breaker.js';

/**
 * What a retry loop uses to run the attempts of one operation through a
 * breaker and report the operation's final outcome once. Internal to
 * @holdfast/core: not exported from the package.
 */
export interface BreakerPort {
  state(): BreakerState;
  /** Closed, and not in the middle of a run of failures: a connection fault is worth an immediate retry. */
  alive(): boolean;
  /** A call succeeded since the breaker was made or last opened: something answers there. */
  answered(): boolean;
  /** Runs one attempt: refused (BreakerOpenError) while open, the probe while half-open. */
  attempt<T>(fn: () => Promise<T>): Promise<T>;
  /** An attempt run outside `attempt()` (the bare first attempt while closed) succeeded. */
  succeeded(): void;
  /** An attempt run outside `attempt()` failed with `error`. */
  failed(error: unknown): void;
  /** The operation is over: counts it once in the window, by its final outcome (`undefined` for success). */
  settle(error: unknown): void;
}

/** Filled by each CircuitBreaker's constructor. */
export const ports = new WeakMap<CircuitBreaker, BreakerPort>();

/** The port a retry loop drives `breaker` through. */
export function breakerPort(breaker: CircuitBreaker): BreakerPort {
  return ports.get(breaker) as BreakerPort;
}
