/**
 * A 1 s outage under 50 concurrent callers (and then a 2.5 s one): the
 * backend resets every request it gets, then comes back. Each caller loops
 * (GET; after a failure it waits 25-75 ms, as an application would). Per client: how many attempts reached
 * the backend per request started during the outage (the no-retry baseline
 * is 1.00; retries add load exactly when the backend can least take it),
 * how long after the backend came back the first request succeeded (any
 * caller), and how long until every caller had succeeded again.
 *
 * Time after recovery counts from the moment the server process starts
 * answering again, as it reports it (epoch time with sub-millisecond
 * resolution, read the same way in both processes): not from when the
 * command was sent, because the server, busy with the outage's requests,
 * reads it a variable few milliseconds later, and the clients that sent it
 * more requests delayed it more. "First success" favours clients that keep
 * sending during the outage: 50 callers without a breaker put a request on
 * the wire every millisecond or so; "all callers back" is what an
 * application sees, and includes each client's retry backoff. Every round
 * uses fresh clients, so no client starts an outage with state left from
 * the previous one.
 */
import { startChildServer, type ChildServer } from './lib/child-server.js';
import { EFFECT_SERVER, contenders } from './lib/http-contenders.js';
import { fmt, median, printTable, type BenchOptions } from './lib/report.js';
import { recordFigure } from './lib/results.js';

const CALLERS = 50;

export default async function (opts: BenchOptions): Promise<void> {
  const server = await startChildServer(EFFECT_SERVER);
  // The 1 s outage, and a longer one: a client whose fixed retry delay happens to match the outage's
  // length looks fast in the first and shows its real schedule in the second.
  for (const outageMs of opts.smoke ? [200] : [1_000, 2_500]) await outage(opts, server, outageMs);
  await server.close();
}

async function outage(opts: BenchOptions, server: ChildServer, outageMs: number): Promise<void> {
  const rounds = opts.smoke ? 1 : Number(process.env.HTTP_OUTAGE_ROUNDS ?? 5);
  // HTTP_OUTAGE_CLIENTS=holdfast,baseline runs only the clients whose names contain one of these.
  const only = process.env.HTTP_OUTAGE_CLIENTS?.split(',');
  const names = contenders()
    .map((c) => c.name)
    .filter((n) => only === undefined || only.some((o) => n.includes(o)));
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
      // Epoch times of each caller's first success after the outage (measured against the server's own 'up' time below).
      const backAt: number[] = [];
      // Set by a caller still failing when the round stops (an object: the callers set it, not this function).
      const stopped = { any: false };
      let id = 0;
      const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
      const caller = async (): Promise<void> => {
        const stopAt = (): number => (upAt === 0 ? Number.POSITIVE_INFINITY : upAt + (opts.smoke ? 1_000 : 3_000));
        for (;;) {
          const startedIn = phase;
          const outcome = await client.send(`${server.url}/o`, 'GET', `o-${id++}`);
          if (startedIn === 'down' || (startedIn === 'before' && phase !== 'before')) duringOutage++;
          if (outcome === 'ok' && phase === 'after') {
            backAt.push(performance.timeOrigin + performance.now());
            return;
          }
          if (phase === 'after' && performance.now() > stopAt()) {
            stopped.any = true;
            return;
          }
          // 25-75 ms, 50 on average: a fixed wait would keep the callers in lockstep (all fail at the outage's first
          // moment, so all come back together), and requests would arrive in bursts of 50 every ~50 ms.
          if (outcome !== 'ok') await sleep(25 + Math.random() * 50);
        }
      };
      const running = Promise.all(Array.from({ length: CALLERS }, caller));
      await sleep(200);
      const arrivalsAtDown = Number(await server.command('down'));
      phase = 'down';
      await sleep(outageMs);
      phase = 'after';
      upAt = performance.now();
      const [arrivalsAtUp, serverUpAt] = (await server.command('up')).split(' ').map(Number) as [number, number];
      await running;
      const firstSuccessAfterUp = Math.min(...backAt) - serverUpAt;
      const lastCallerBack = stopped.any ? Number.POSITIVE_INFINITY : Math.max(...backAt) - serverUpAt;
      const entry = results.get(client.name) ?? { ratio: [], recovery: [], allBack: [], attempts: [] };
      entry.ratio.push((arrivalsAtUp - arrivalsAtDown) / Math.max(1, duringOutage));
      entry.attempts.push(arrivalsAtUp - arrivalsAtDown);
      entry.recovery.push(firstSuccessAfterUp);
      entry.allBack.push(lastCallerBack);
      results.set(client.name, entry);
      for (const c of fresh) await c.close();
    }
  }
  console.log(`\n#### ${outageMs} ms outage`);
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
  console.log(
    `${CALLERS} callers, ${outageMs} ms outage (every request reset), medians of ${rounds} rounds (each round's figure in brackets); server in a child process`,
  );
  const how = `${CALLERS} callers, each waiting 25-75 ms after a failure; the backend resets every request for ${outageMs} ms; fresh clients each round; medians of ${rounds} round(s), the spread is the lowest and highest round.`;
  const spread = (values: number[]) => ({ value: median(values), low: Math.min(...values), high: Math.max(...values) });
  recordFigure({
    id: `load-${outageMs}ms`,
    title: `A ${outageMs} ms outage: attempts reaching the backend per request started during it`,
    metric: 'attempts per request',
    better: 'lower',
    baseline: names.find((n) => n.includes('baseline')),
    note: `${how} The no-retry baseline sends 1.`,
    values: [...results].map(([name, r]) => ({ contender: name, ...spread(r.ratio), note: `${fmt(median(r.attempts), 0)} attempts` })),
  });
  recordFigure({
    id: `all-back-${outageMs}ms`,
    title: `A ${outageMs} ms outage: time until every caller succeeded again`,
    metric: 'ms after the backend came back',
    better: 'lower',
    note: `${how} "none": some caller had not succeeded 3 s after the return. Beside each value: when the first caller succeeded.`,
    values: [...results].map(([name, r]) => ({
      contender: name,
      ...spread(r.allBack),
      note: `first success after ${fmt(median(r.recovery), 0)} ms`,
    })),
  });
}
