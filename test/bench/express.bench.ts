/**
 * @holdfast/express, three questions, each against its peers in one run:
 *
 * 1. What the middleware costs when nothing fails: requests/s of an Express 5
 *    app (GET, keep-alive, autocannon with 50 connections, app in its own
 *    process) plain and with every holdfast middleware and helper, each
 *    holdfast round between two plain rounds. Goal: >= 0.97x plain.
 * 2. A shutdown under load (50 keep-alive clients sending back to back):
 *    resets, hang-ups and requests that reached the app unanswered, per
 *    contender (holdfast, server.close(), http-terminator, terminus,
 *    lightship) and per client (undici, node:http); plus the idle-close rules
 *    decision 0009 compares.
 * 3. What idempotency() costs per POST, with a new key each request: the
 *    memory store and the Redis store (a redis-server the benchmark starts;
 *    skipped in smoke mode).
 */
import { randomUUID } from 'node:crypto';
import {
  CONTENDERS,
  IDLE_RULES,
  autocannon,
  shutdownRound,
  startExpressApp,
  startRedis,
  type AutocannonOptions,
  type ExpressApp,
  type ShutdownRound,
} from './lib/express-peers.js';
import { fmt, median, printTable, type BenchOptions } from './lib/report.js';
import { recordFigure, type FigureValue } from './lib/results.js';

const CONNECTIONS = 50;

interface Round {
  readonly rps: number;
  /** CPU time of the app's process per request (µs): it moves less than req/s with the other load on a shared machine. */
  readonly cpuUs: number;
  readonly errors: number;
}

function loadFor(app: ExpressApp, seconds: number, post: boolean): AutocannonOptions {
  if (!post) return { url: `${app.url}/`, connections: CONNECTIONS, duration: seconds };
  return {
    url: `${app.url}/orders`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        // A new key each request: every one is a first request (claim, run, store).
        setupRequest: (req: Record<string, unknown>) => ({
          ...req,
          headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
          body: '{"id":1}',
        }),
      },
    ],
  };
}

async function measure(app: ExpressApp, seconds: number, post = false): Promise<Round> {
  const before = await app.cpuMicros();
  const result = await autocannon(loadFor(app, seconds, post));
  const cpu = (await app.cpuMicros()) - before;
  return { rps: result.requests.average, cpuUs: cpu / Math.max(1, result.requests.total), errors: result.errors + result.non2xx };
}

async function throughput(opts: BenchOptions): Promise<void> {
  const seconds = opts.smoke ? 0.3 : 3;
  const rounds = opts.smoke ? 1 : 7;
  const [plain, holdfast] = await Promise.all([startExpressApp('plain'), startExpressApp('holdfast')]);
  try {
    // Warm-up (JIT, connections), not counted.
    if (!opts.smoke) for (const app of [plain, holdfast]) await measure(app, 1);
    const raw: Round[] = [await measure(plain, seconds)];
    const ours: Round[] = [];
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const h = await measure(holdfast, seconds);
      const next = await measure(plain, seconds);
      const before = raw[raw.length - 1]!;
      ratios.push(h.rps / ((before.rps + next.rps) / 2));
      cpuRatios.push(h.cpuUs / ((before.cpuUs + next.cpuUs) / 2));
      ours.push(h);
      raw.push(next);
    }
    const errors = [...raw, ...ours].reduce((n, r) => n + r.errors, 0);
    console.log(
      `\nGET on Express 5 (app in its own process), autocannon ${CONNECTIONS} connections, ${seconds} s rounds, each holdfast round between two plain rounds`,
    );
    printTable(
      ['app', 'req/s (median)', 'ratio to the plain rounds around it (median; all)', 'app CPU µs/request (median)', 'CPU ratio (median)'],
      [
        ['plain Express', fmt(median(raw.map((r) => r.rps))), '1', fmt(median(raw.map((r) => r.cpuUs)), 1), '1'],
        [
          '+ every holdfast middleware',
          fmt(median(ours.map((r) => r.rps))),
          `${fmt(median(ratios), 3)} (${ratios.map((r) => fmt(r, 3)).join(' ')})`,
          fmt(median(ours.map((r) => r.cpuUs)), 1),
          fmt(median(cpuRatios), 3),
        ],
      ],
    );
    if (errors > 0) console.log(`errors or non-2xx answers: ${errors}`);
    recordFigure({
      id: 'middleware-throughput',
      title: 'GET on Express 5 with every holdfast middleware mounted, nothing failing',
      metric: 'requests/s',
      better: 'higher',
      baseline: 'plain Express',
      note: `autocannon, ${CONNECTIONS} connections, app in its own process; ${rounds} round(s) of ${seconds} s, each holdfast round between two plain ones; the ratio is the median of the per-round ratios, the spread the lowest and highest round.`,
      values: [
        {
          contender: 'plain Express',
          value: median(raw.map((r) => r.rps)),
          low: Math.min(...raw.map((r) => r.rps)),
          high: Math.max(...raw.map((r) => r.rps)),
        },
        {
          contender: '+ every holdfast middleware',
          value: median(ours.map((r) => r.rps)),
          low: Math.min(...ours.map((r) => r.rps)),
          high: Math.max(...ours.map((r) => r.rps)),
          ratio: median(ratios),
          note: `CPU ratio ${fmt(median(cpuRatios), 3)}`,
        },
      ],
    });
  } finally {
    await Promise.all([plain.close(), holdfast.close()]);
  }
}

async function shutdowns(opts: BenchOptions): Promise<void> {
  const contenders = opts.smoke ? ['holdfast'] : [...CONTENDERS, ...IDLE_RULES.slice(1)];
  const rounds = opts.smoke ? 1 : 3;
  const results: ShutdownRound[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const contender of contenders) {
      for (const client of opts.smoke ? (['undici'] as const) : (['undici', 'node:http'] as const)) {
        results.push(await shutdownRound(contender, client, { warmupMs: opts.smoke ? 100 : 300, graceMs: 4_000 }));
      }
    }
  }
  const range = (values: readonly number[]): string => {
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    return lo === hi ? String(lo) : `${lo}-${hi}`;
  };
  console.log(
    `\nShutdown under load: 50 keep-alive clients sending back to back to Express 5 (1-10 ms per request), ${rounds} round(s); ranges over rounds`,
  );
  const rows: string[][] = [];
  for (const contender of contenders) {
    for (const client of opts.smoke ? (['undici'] as const) : (['undici', 'node:http'] as const)) {
      const mine = results.filter((r) => r.contender === contender && r.client === client);
      const times = mine.map((r) => r.shutdownMs);
      rows.push([
        contender,
        client,
        range(mine.map((r) => r.resets)),
        range(mine.map((r) => r.hangUps)),
        range(mine.map((r) => r.unanswered)),
        times.every((t) => t === undefined) ? 'never (4 s cap)' : times.map((t) => (t === undefined ? 'never' : `${t}`)).join(' / '),
      ]);
    }
  }
  printTable(['contender', 'client', 'resets', 'hang-ups', 'unanswered', 'shutdown ms'], rows);
  const harmed: FigureValue[] = [];
  for (const contender of contenders) {
    for (const client of opts.smoke ? (['undici'] as const) : (['undici', 'node:http'] as const)) {
      const mine = results.filter((r) => r.contender === contender && r.client === client);
      const perRound = mine.map((r) => r.resets + r.hangUps + r.unanswered);
      const times = mine.map((r) => r.shutdownMs).filter((t): t is number => t !== undefined);
      harmed.push({
        contender: `${contender}, ${client} clients`,
        holdfast: contender === 'holdfast',
        value: Math.max(...perRound),
        note:
          times.length === mine.length
            ? `done in ${fmt(median(times), 0)} ms`
            : `not done in 4 s in ${mine.length - times.length} of ${mine.length} rounds`,
      });
    }
  }
  recordFigure({
    id: 'shutdown-harm',
    title: 'Shutdown under load: requests reset, hung up or left unanswered (worst round)',
    metric: 'requests harmed (resets + hang-ups + unanswered)',
    better: 'lower',
    note: `50 keep-alive clients sending back to back to Express 5 (1-10 ms per request), 4 s of grace, ${rounds} round(s). holdfast-immediate and holdfast-after-response are idle-connection rules decision 0009 measured and rejected.`,
    values: harmed,
  });
}

async function idempotencyCost(opts: BenchOptions): Promise<void> {
  const seconds = opts.smoke ? 0.3 : 3;
  const rounds = opts.smoke ? 1 : 3;
  const redis = opts.smoke ? undefined : await startRedis();
  const modes = ['plain', 'idempotency-memory', ...(redis ? [`idempotency-redis:${redis.port}`] : [])];
  const apps = await Promise.all(modes.map((mode) => startExpressApp(mode)));
  try {
    const figures = modes.map(() => [] as Round[]);
    if (!opts.smoke) for (const app of apps) await measure(app, 1, true);
    for (let round = 0; round < rounds; round++) {
      const order = modes.map((_, i) => i);
      for (const i of round % 2 === 0 ? order : order.reverse()) figures[i]!.push(await measure(apps[i]!, seconds, true));
    }
    const plainRps = median(figures[0]!.map((r) => r.rps));
    const plainCpu = median(figures[0]!.map((r) => r.cpuUs));
    console.log(`\nPOST /orders (JSON) with a new Idempotency-Key each request, ${CONNECTIONS} connections, ${rounds} round(s) of ${seconds} s`);
    printTable(
      ['app', 'req/s (median)', 'ratio', 'app CPU µs/request (median)', 'added CPU µs/request'],
      modes.map((mode, i) => {
        const rps = median(figures[i]!.map((r) => r.rps));
        const cpu = median(figures[i]!.map((r) => r.cpuUs));
        return [mode.replace(/:\d+$/, ''), fmt(rps), fmt(rps / plainRps, 3), fmt(cpu, 1), i === 0 ? '-' : fmt(cpu - plainCpu, 1)];
      }),
    );
    if (!redis) console.log('(Redis store skipped in smoke mode)');
    recordFigure({
      id: 'idempotency-cost',
      title: 'POST with a new Idempotency-Key on every request: what idempotency() costs',
      metric: 'requests/s',
      better: 'higher',
      baseline: 'plain',
      note: `autocannon, ${CONNECTIONS} connections, ${rounds} alternating round(s) of ${seconds} s; medians.`,
      values: modes.map((mode, i) => {
        const rps = median(figures[i]!.map((r) => r.rps));
        const cpu = median(figures[i]!.map((r) => r.cpuUs));
        return {
          contender: mode.replace(/:\d+$/, ''),
          holdfast: i > 0,
          value: rps,
          ratio: rps / plainRps,
          note: i === 0 ? `${fmt(cpu, 1)} µs CPU/request` : `+${fmt(cpu - plainCpu, 1)} µs CPU/request`,
        };
      }),
    });
  } finally {
    await Promise.all(apps.map((app) => app.close()));
    await redis?.stop();
  }
}

export default async function (opts: BenchOptions): Promise<void> {
  if (opts.smoke) {
    // Smoke figures mean nothing; what takes the time is starting the apps' processes, so the three run at once.
    await Promise.all([throughput(opts), idempotencyCost(opts), shutdowns(opts)]);
    return;
  }
  await throughput(opts);
  await idempotencyCost(opts);
  await shutdowns(opts);
}
