/**
 * The herd benchmarks' arithmetic, shared by net and ws: a fleet loses its
 * server, the server comes back, and each round records when the server
 * accepted connections and when the clients saw themselves back (connect or
 * open events), in ms from the server listening again.
 */
import { busiestWindow } from '../../../packages/ws/test/support/seeded-random.js';
import { fmt, median } from './report.js';

export interface HerdRound {
  /** Clients back before the wait ran out. */
  readonly back: number;
  /** TCP connections the server accepted, retries included. */
  readonly accepts: number;
  readonly busiestAccepts: number;
  /** The most clients back (connect / open events) within any 100 ms. */
  readonly busiestArrivals: number;
  readonly lastArrivalMs: number;
}

/** One round's figures from the server's accept times and the clients' arrival times. */
export function herdFigures(accepted: readonly number[], arrivals: readonly number[]): HerdRound {
  return {
    back: arrivals.length,
    accepts: accepted.length,
    busiestAccepts: busiestWindow(accepted, 100),
    busiestArrivals: busiestWindow(arrivals, 100),
    lastArrivalMs: arrivals.length === 0 ? Number.NaN : Math.max(...arrivals),
  };
}

/** Table columns for `herdRows`, with the clients' event named (`connects`, `opens`). */
export function herdHeader(arrival: string): string[] {
  return [
    'client',
    'back (worst round)',
    'accepts',
    'most accepts in 100 ms',
    `most ${arrival} in 100 ms`,
    'worst round',
    `last ${arrival.replace(/s$/, '')} ms`,
    'worst round',
  ];
}

/** One row per contender: medians over its rounds, the worst round beside. */
export function herdRows(
  results: Readonly<Record<string, readonly HerdRound[]>>,
  names: readonly string[],
  clients: number,
  waitMs: number,
): string[][] {
  const share = (n: number): string => `${fmt(n)} (${fmt((100 * n) / clients, 1)} %)`;
  return names.map((name) => {
    const of = (field: keyof HerdRound): number[] => results[name]!.map((round) => round[field]);
    const worstBack = Math.min(...of('back'));
    return [
      name,
      worstBack === clients ? `${clients}/${clients}` : `${worstBack}/${clients} after ${fmt(waitMs / 1000)} s`,
      fmt(median(of('accepts'))),
      share(median(of('busiestAccepts'))),
      share(median(of('busiestArrivals'))),
      share(Math.max(...of('busiestArrivals'))),
      fmt(median(of('lastArrivalMs'))),
      fmt(Math.max(...of('lastArrivalMs'))),
    ];
  });
}
