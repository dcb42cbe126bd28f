import { OriginGuard } from './origin-guard.js';
import type { ResolvedRetryOptions } from './retry-interceptor-options.js';

/** Counters of a retry interceptor or client, over all its origins. */
export interface HttpRetryStats {
  /** Requests whose reused keep-alive connection died before any byte of the answer (see `onStaleConnection`). */
  readonly staleConnections: number;
}

/** One `OriginGuard` per origin, created on first use, shared by every face of one client. */
export class OriginGuards {
  readonly #options: ResolvedRetryOptions;
  readonly #byOrigin = new Map<string, OriginGuard>();

  constructor(options: ResolvedRetryOptions) {
    this.#options = options;
  }

  get options(): ResolvedRetryOptions {
    return this.#options;
  }

  for(origin: string): OriginGuard {
    let guard = this.#byOrigin.get(origin);
    if (guard === undefined) {
      guard = new OriginGuard(origin, this.#options);
      this.#byOrigin.set(origin, guard);
    }
    return guard;
  }

  get(origin: string): OriginGuard | undefined {
    return this.#byOrigin.get(origin);
  }

  /** Totals over every origin. */
  stats(): HttpRetryStats {
    let staleConnections = 0;
    for (const guard of this.#byOrigin.values()) staleConnections += guard.staleConnections;
    return { staleConnections };
  }

  close(): void {
    for (const guard of this.#byOrigin.values()) guard.close();
  }
}
