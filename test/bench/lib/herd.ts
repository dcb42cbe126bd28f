/**
 * The herd benchmarks' arithmetic, shared by net and ws: a fleet loses its
 * server, the server comes back, and each round records when the server
 * accepted connections and when the clients saw themselves back (connect or
 * open events), in ms from the server listening again.
 */
import { busiestWindow } from '../../../packages/ws/test/support/seeded-random.js';
import { fmt, median } from './report.js';
import { recordFigure } from './results.js';

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

/**
 * Records a herd's two headline figures: how much of the fleet came back in
 * the busiest 100 ms (the spike the server takes), and when the last client
 * was back. Medians over rounds, the worst round as the spread's top.
 */
export function recordHerd(
  results: Readonly<Record<string, readonly HerdRound[]>>,
  names: readonly string[],
  clients: number,
  arrival: string,
  note: string,
): void {
  const of = (name: string, field: keyof HerdRound): number[] => results[name]!.map((round) => round[field]);
  recordFigure({
    id: 'herd-spike',
    title: `${fmt(clients)} clients after a restart: the busiest 100 ms`,
    metric: `% of the fleet's ${arrival} within any 100 ms`,
    better: 'lower',
    note,
    values: names.map((name) => {
      const shares = of(name, 'busiestArrivals').map((n) => (100 * n) / clients);
      return { contender: name, value: median(shares), low: Math.min(...shares), high: Math.max(...shares) };
    }),
  });
  recordFigure({
    id: 'herd-last-back',
    title: `${fmt(clients)} clients after a restart: the last one back`,
    metric: 'ms from the server listening again',
    better: 'lower',
    note: `${note} "none": not every client was back before the wait ran out.`,
    values: names.map((name) => {
      const last = of(name, 'lastArrivalMs');
      const back = Math.min(...of(name, 'back'));
      return {
        contender: name,
        value: back === clients ? median(last) : Number.NaN,
        low: Math.min(...last),
        high: Math.max(...last),
        note: back === clients ? undefined : `${back}/${clients} back in the worst round`,
      };
    }),
  });
}
