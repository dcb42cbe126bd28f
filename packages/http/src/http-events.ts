import type { Fault, GiveUpEvent, RecoveredEvent, RetryEvent } from '@holdfast/core';

/**
 * How an origin is doing, as its client sees it:
 * - `healthy`: nothing failed lately (holdfast keeps no state for it);
 * - `flaky`: attempts fail, and retries recover the requests (or the breaker has just closed again);
 * - `down`: its breaker is open, requests fail fast with `BreakerOpenError` until a probe gets through.
 */
export type OriginHealth = 'healthy' | 'flaky' | 'down';

/** An origin's health changed. `fault` is what made it worse, when it got worse. */
export interface OriginHealthEvent {
  readonly event: 'health';
  /** The client's `name` option, or the origin. */
  readonly name: string;
  readonly origin: string;
  readonly from: OriginHealth;
  readonly to: OriginHealth;
  readonly fault?: Fault;
}

/** A reused keep-alive connection died before any byte of the answer: most often the keep-alive race. */
export interface StaleConnectionEvent {
  readonly event: 'stale-connection';
  /** The client's `name` option, or the origin. */
  readonly name: string;
  readonly origin: string;
  readonly method: string;
  readonly fault: Fault;
  /** The request may be repeated (idempotent, or carries an idempotency key), so it is retried; otherwise its outcome is unknown. */
  readonly repeatable: boolean;
}

/**
 * The events of a client, an interceptor, a wrapped fetch or axios instance.
 * `retry`, `recovered` and `give-up` are core's retry events with the origin
 * added. Every event is published once on `holdfast:<event>`
 * (`holdfast:retry`, `holdfast:recovered`, `holdfast:give-up`,
 * `holdfast:stale-connection`, `holdfast:health`), its payload's `name`
 * being the `name` option or the origin.
 */
export interface HttpClientEvents {
  retry: RetryEvent & { readonly origin: string };
  recovered: RecoveredEvent & { readonly origin: string };
  'give-up': GiveUpEvent & { readonly origin: string };
  'stale-connection': StaleConnectionEvent;
  health: OriginHealthEvent;
}
