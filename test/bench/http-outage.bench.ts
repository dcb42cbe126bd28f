/**
 * A 1 s outage under 50 concurrent callers: the backend resets every request
 * it gets, then comes back. Each caller loops (GET; after a failure it waits
 * 50 ms, as an application would). Per client: how many attempts reached
 * the backend per request started during the outage (the no-retry baseline
 * is 1.00; retries add load exactly when the backend can least take it),
 * how long after the backend came back the first request succeeded (any
 * caller), and how long until every caller had succeeded again.
 *
 * Time after recovery counts from just before the `up` command is written to
 * the server's stdin: no request can succeed before that moment, and the
 * command's trip is the same for every client. (Counting from the server's
 * answer to `up` instead let a success that arrived before that answer be
 * measured against zero.) "First success" favours clients that keep
 * sending during the outage: 50 callers without a breaker put a request on
 * the wire every millisecond or so; "all callers back" is what an
 * application sees, and includes each client's retry backoff. Every round
 * uses fresh clients, so no client starts an outage with state left from
 * the previous one.
 */
import { startChildServer } from './lib/child-server.js';
import { EFFECT_SERVER, contenders } from './lib/http-contenders.js';
import { fmt, median, printTable, type BenchOptions } from './lib/report.js';

const CALLERS = 50;

export default async function (opts: BenchOptions): Promise<void> {
  const outageMs = opts.smoke ? 200 : 1_000;
  const rounds = opts.smoke ? 1 : 3;
  const server = await startChildServer(EFFECT_SERVER);
  const names = contenders().map((c) => c.name);
  const results = new Map<string, { ratio: number[]; recovery: number[]; allBack: number[]; attempts: number[] }>();
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      // A fresh client per round: each round is an outage of its own, not the tail of the previous one (a breaker's
      // 10 s window would otherwise still hold the last round's calls and decide differently).
      const fresh = contenders();
      const client = fresh.find((c) => c.name === name)!;
      await server.command('mode none');
      let phase: 'before' | 'down' | 'after' = 'before';
      // Requests in flight at any moment of the outage: started before it and still running, or started during it.
      let duringOutage = 0;
      let upAt = 0;
      let firstSuccessAfterUp = Number.NaN;
      let lastCallerBack = 0;
      let id = 0;
      const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
      const caller = async (): Promise<void> => {
        const stopAt = (): number => (upAt === 0 ? Number.POSITIVE_INFINITY : upAt + (opts.smoke ? 1_000 : 3_000));
        for (;;) {
          const startedIn = phase;
          const outcome = await client.send(`${server.url}/o`, 'GET', `o-${id++}`);
          if (startedIn === 'down' || (startedIn === 'before' && phase !== 'before')) duringOutage++;
          if (outcome === 'ok' && phase === 'after') {
            const since = performance.now() - upAt;
            if (Number.isNaN(firstSuccessAfterUp)) firstSuccessAfterUp = since;
            lastCallerBack = Math.max(lastCallerBack, since);
            return;
          }
          if (phase === 'after' && performance.now() > stopAt()) {
            lastCallerBack = Number.POSITIVE_INFINITY;
            return;
          }
          if (outcome !== 'ok') await sleep(50);
        }
      };
      const running = Promise.all(Array.from({ length: CALLERS }, caller));
      await sleep(200);
      const arrivalsAtDown = Number(await server.command('down'));
      phase = 'down';
      await sleep(outageMs);
      phase = 'after';
      upAt = performance.now();
      const arrivalsAtUp = Number(await server.command('up'));
      await running;
      const entry = results.get(client.name) ?? { ratio: [], recovery: [], allBack: [], attempts: [] };
      entry.ratio.push((arrivalsAtUp - arrivalsAtDown) / Math.max(1, duringOutage));
      entry.attempts.push(arrivalsAtUp - arrivalsAtDown);
      entry.recovery.push(firstSuccessAfterUp);
      entry.allBack.push(lastCallerBack);
      results.set(client.name, entry);
      for (const c of fresh) await c.close();
    }
  }
  printTable(
    ['client', 'attempts/request during outage', 'attempts reaching the backend', 'first success after recovery (ms)', 'all callers back (ms)'],
    [...results].map(([name, r]) => [
      name,
      fmt(median(r.ratio), 2),
      fmt(median(r.attempts), 0),
      `${fmt(median(r.recovery), 0)} (${r.recovery.map((v) => fmt(v, 0)).join(', ')})`,
      `${fmt(median(r.allBack), 0)} (${r.allBack.map((v) => (Number.isFinite(v) ? fmt(v, 0) : '>stop')).join(', ')})`,
    ]),
  );
  console.log(`${CALLERS} callers, ${outageMs} ms outage (every request reset), medians of ${rounds} rounds (each round's figure in brackets); server in a child process`);
  await server.close();
}
