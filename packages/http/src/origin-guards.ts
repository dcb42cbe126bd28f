import { TypedEvents, type Listener } from '@holdfast/core';
import type { HttpClientEvents } from './http-events.js';
import { OriginGuard, type OriginStats } from './origin-guard.js';
import type { ResolvedRetryOptions } from './retry-interceptor-options.js';

/** Counters of a retry interceptor or client, over all its origins since it was made. */
export interface HttpRetryStats {
  /** Requests whose reused keep-alive connection died before any byte of the answer (see the `stale-connection` event). */
  readonly staleConnections: number;
  /** Retries made, immediate ones included. */
  readonly retries: number;
  /** Retries made at once after a connection fault while the origin was alive. */
  readonly immediateRetries: number;
  /** Requests that succeeded after retries (a flaky origin). */
  readonly recovered: number;
  /** Requests that failed for good. */
  readonly gaveUp: number;
  /** The origins holdfast keeps state for now: those that failed lately. A healthy origin has none. */
  readonly origins: readonly OriginStats[];
}

/**
 * One `OriginGuard` per origin that failed lately, shared by every face of
 * one client, and the client's events. A guard is made on an origin's first
 * failed attempt and released once it is quiet (checked every breaker window
 * by one unref'd timer that runs only while there are guards), so state does
 * not grow with the number of origins a client ever called.
 */
export class OriginGuards {
  // Each event is published once, here, on holdfast:<event> (the guards' policies publish nothing themselves).
  readonly events = new TypedEvents<HttpClientEvents>();
  readonly #options: ResolvedRetryOptions;
  readonly #byOrigin = new Map<string, OriginGuard>();
  readonly #sweepMs: number;
  #sweeper: NodeJS.Timeout | undefined;
  // Counters of the guards already released.
  #released = { staleConnections: 0, retries: 0, immediateRetries: 0, recovered: 0, gaveUp: 0 };
  #closed = false;

  constructor(options: ResolvedRetryOptions) {
    this.#options = options;
    this.#sweepMs = options.breaker === false ? 10_000 : (options.breaker.windowMs ?? 10_000);
    const { onRetry, onGiveUp, onStaleConnection } = options;
    if (onRetry !== undefined) this.events.on('retry', onRetry);
    if (onGiveUp !== undefined) this.events.on('give-up', onGiveUp);
    if (onStaleConnection !== undefined) this.events.on('stale-connection', onStaleConnection);
  }

  get options(): ResolvedRetryOptions {
    return this.#options;
  }

  /** The origin's guard, made now if it has none. */
  for(origin: string): OriginGuard {
    let guard = this.#byOrigin.get(origin);
    if (guard === undefined) {
      guard = new OriginGuard(origin, this.#options, this.events);
      this.#byOrigin.set(origin, guard);
      if (this.#sweeper === undefined && !this.#closed) {
        this.#sweeper = setInterval(() => this.sweep(), this.#sweepMs);
        this.#sweeper.unref();
      }
    }
    return guard;
  }

  /** The origin's guard, if it failed lately. */
  get(origin: string): OriginGuard | undefined {
    return this.#byOrigin.get(origin);
  }

  /** Releases the guards of origins that are quiet again. */
  sweep(): void {
    for (const [origin, guard] of this.#byOrigin) {
      if (!guard.quiet) continue;
      this.#byOrigin.delete(origin);
      this.#count(guard);
      guard.release();
    }
    if (this.#byOrigin.size === 0) this.#stopSweeping();
  }

  stats(): HttpRetryStats {
    const totals = { ...this.#released };
    const origins: OriginStats[] = [];
    for (const guard of this.#byOrigin.values()) {
      const stats = guard.stats();
      origins.push(stats);
      add(totals, stats);
    }
    return { ...totals, origins };
  }

  on<K extends keyof HttpClientEvents>(name: K, listener: Listener<HttpClientEvents[K]>): () => void {
    return this.events.on(name, listener);
  }

  once<K extends keyof HttpClientEvents>(name: K, listener: Listener<HttpClientEvents[K]>): () => void {
    return this.events.once(name, listener);
  }

  off<K extends keyof HttpClientEvents>(name: K, listener: Listener<HttpClientEvents[K]>): void {
    this.events.off(name, listener);
  }

  close(): void {
    this.#closed = true;
    this.#stopSweeping();
    for (const guard of this.#byOrigin.values()) guard.close();
  }

  #count(guard: OriginGuard): void {
    add(this.#released, guard.stats());
  }

  #stopSweeping(): void {
    if (this.#sweeper === undefined) return;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}

function add(
  totals: { staleConnections: number; retries: number; immediateRetries: number; recovered: number; gaveUp: number },
  stats: OriginStats,
): void {
  totals.staleConnections += stats.staleConnections;
  totals.retries += stats.retry.retries;
  totals.immediateRetries += stats.retry.immediateRetries;
  totals.recovered += stats.retry.recovered;
  totals.gaveUp += stats.retry.gaveUp;
}
