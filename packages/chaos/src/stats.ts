import type { ToxicType } from './toxic.js';
import { TOXIC_TYPES } from './toxic.js';

/** Counters since the proxy was created; `stats()` returns a copy. */
export interface ChaosProxyStats {
  readonly connections: {
    /** Connections accepted and proxied. */
    readonly total: number;
    /** Of those, not yet closed. */
    readonly open: number;
    /** Accepted while disabled in `reset` mode, and reset at once (not in `total`). */
    readonly rejected: number;
  };
  /** Bytes forwarded: `upstream` client -> server, `downstream` server -> client. */
  readonly bytes: { readonly upstream: number; readonly downstream: number };
  /** Bytes discarded, by toxics or because the connection ended while a toxic still held them. */
  readonly dropped: { readonly upstream: number; readonly downstream: number };
  /** How many times a toxic of each type was applied to a direction of a connection (after toxicity). */
  readonly faults: Readonly<Record<ToxicType, number>>;
  /** Connections the proxy reset (toxics, `resetConnection`, `disable`, a reset or error on the other side). */
  readonly resets: number;
  /** Connections closed by a toxic (`timeout`, `limit_data`) or by `disable()` in close mode. */
  readonly closes: number;
  /** Socket errors absorbed, by side (an unreachable upstream counts as an upstream error). */
  readonly errors: { readonly client: number; readonly upstream: number };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

export type StatsCounters = Mutable<ChaosProxyStats>;

export function createStatsCounters(): StatsCounters {
  return {
    connections: { total: 0, open: 0, rejected: 0 },
    bytes: { upstream: 0, downstream: 0 },
    dropped: { upstream: 0, downstream: 0 },
    faults: Object.fromEntries(TOXIC_TYPES.map((t) => [t, 0])) as Record<ToxicType, number>,
    resets: 0,
    closes: 0,
    errors: { client: 0, upstream: 0 },
  };
}

export function snapshotStats(counters: StatsCounters): ChaosProxyStats {
  return {
    connections: { ...counters.connections },
    bytes: { ...counters.bytes },
    dropped: { ...counters.dropped },
    faults: { ...counters.faults },
    resets: counters.resets,
    closes: counters.closes,
    errors: { ...counters.errors },
  };
}
