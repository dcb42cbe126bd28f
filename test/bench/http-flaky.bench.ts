/**
 * A flaky but alive server (issue 9): it resets a random share of the
 * requests it receives with a real RST before any effect (a bad node behind
 * a balancer, a NAT dropping mappings, a proxy recycling connections), and
 * answers every other one. 8 callers send 400 GETs; every client runs with
 * its documented defaults. Each retry of these requests can succeed, so a
 * client should deliver them all, quickly, without a breaker or budget
 * mistaking the flakiness for an outage. The same seed resets the same
 * arrivals for every client; each share is run in several rounds (fresh
 * clients each round, the seed varying by round) and the medians printed.
 */
import { startChildServer } from './lib/child-server.js';
import { EFFECT_SERVER, contenders, parseStats } from './lib/http-contenders.js';
import { fmt, median, percentile, printTable, type BenchOptions } from './lib/report.js';
import { recordFigure } from './lib/results.js';

const CALLERS = 8;

export default async function (opts: BenchOptions): Promise<void> {
  const total = opts.smoke ? 40 : 400;
  const rounds = opts.smoke ? 1 : Number(process.env.HTTP_FLAKY_ROUNDS ?? 3);
  const shares = opts.smoke ? [0.3] : (process.env.HTTP_FLAKY_SHARES ?? '0.1,0.2,0.3,0.5').split(',').map(Number);
  const server = await startChildServer(EFFECT_SERVER);
  const rows: (string | number)[][] = [];
  for (const share of shares) {
    // HTTP_FLAKY_CLIENTS=holdfast,axios runs only the clients whose names contain one of these.
    const only = process.env.HTTP_FLAKY_CLIENTS?.split(',');
    const names = contenders()
      .map((c) => c.name)
      .filter((n) => !n.includes('baseline') && (only === undefined || only.some((o) => n.includes(o))));
    const byName = new Map(
      names.map((n) => [
        n,
        {
          ok: [] as number[],
          attempts: [] as number[],
          p50: [] as number[],
          p99: [] as number[],
          totalMs: [] as number[],
          failures: new Map<string, number>(),
        },
      ]),
    );
    for (let round = 0; round < rounds; round++) {
      for (const name of round % 2 === 0 ? names : [...names].reverse()) {
        const fresh = contenders();
        const client = fresh.find((c) => c.name === name)!;
        await server.command(`mode random ${share} ${1000 + round}`);
        const latencies: number[] = [];
        let ok = 0;
        let next = 0;
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: CALLERS }, async () => {
            while (next < total) {
              const id = `flaky-${next++}`;
              const started = performance.now();
              if ((await client.send(`${server.url}/f`, 'GET', id)) === 'ok') ok++;
              latencies.push(performance.now() - started);
            }
          }),
        );
        const elapsed = performance.now() - t0;
        const stats = parseStats(await server.command('stats'));
        const entry = byName.get(name)!;
        entry.ok.push(ok);
        entry.attempts.push(stats.arrivals / total);
        entry.p50.push(percentile(latencies, 50));
        entry.p99.push(percentile(latencies, 99));
        entry.totalMs.push(elapsed);
        for (const [error, count] of client.failures) entry.failures.set(error, (entry.failures.get(error) ?? 0) + count);
        for (const c of fresh) await c.close();
      }
    }
    const pct = Math.round(share * 100);
    const how = `${total} GETs from ${CALLERS} callers, a seeded random ${pct} % of arrivals reset (real RST, before any effect); medians of ${rounds} round(s), fresh clients each round; the spread is the lowest and highest round.`;
    const all = [...byName];
    recordFigure({
      id: `delivered-${pct}`,
      title: `A flaky server resetting ${pct} % of requests: GETs delivered`,
      metric: `% of ${total} GETs delivered`,
      better: 'higher',
      note: how,
      values: all.map(([name, r]) => ({
        contender: name,
        value: (100 * median(r.ok)) / total,
        low: (100 * Math.min(...r.ok)) / total,
        high: (100 * Math.max(...r.ok)) / total,
        note: `${fmt(median(r.attempts), 2)} attempts/request`,
      })),
    });
    recordFigure({
      id: `duration-${pct}`,
      title: `A flaky server resetting ${pct} % of requests: time for all ${total} GETs`,
      metric: 'ms',
      better: 'lower',
      note: how,
      values: all.map(([name, r]) => ({
        contender: name,
        value: median(r.totalMs),
        low: Math.min(...r.totalMs),
        high: Math.max(...r.totalMs),
        note: `p99 ${fmt(median(r.p99), 0)} ms`,
      })),
    });
    for (const [name, r] of byName) {
      rows.push([
        `${Math.round(share * 100)} %`,
        name,
        `${fmt(median(r.ok), 0)} / ${total} (${r.ok.join(', ')})`,
        fmt(median(r.attempts), 2),
        fmt(median(r.p50), 1),
        fmt(median(r.p99), 1),
        fmt(median(r.totalMs), 0),
        [...r.failures].map(([error, count]) => `${error} ${count}`).join(', ') || '-',
      ]);
    }
  }
  printTable(
    ['reset share', 'client', 'delivered (each round)', 'attempts/request', 'p50 ms', 'p99 ms', 'total ms', 'failures over all rounds'],
    rows,
  );
  console.log(
    `${total} GETs, ${CALLERS} callers, a seeded random share of arrivals reset (real RST, before any effect); medians of ${rounds} rounds; server in a child process`,
  );
  await server.close();
}
