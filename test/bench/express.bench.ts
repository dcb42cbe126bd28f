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
import { CONTENDERS, IDLE_RULES, autocannon, shutdownRound, startExpressApp, startRedis, type ShutdownRound } from './lib/express-peers.js';
import { fmt, median, printTable, type BenchOptions } from './lib/report.js';

const CONNECTIONS = 50;

async function rps(mode: string, seconds: number, post = false): Promise<{ rps: number; p99: number; errors: number }> {
  const app = await startExpressApp(mode);
  try {
    const options = post
      ? {
          url: `${app.url}/orders`,
          connections: CONNECTIONS,
          duration: seconds,
          requests: [
            {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              setupRequest: (req: Record<string, unknown>) => ({
                ...req,
                headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
                body: '{"id":1}',
              }),
            },
          ],
        }
      : { url: `${app.url}/`, connections: CONNECTIONS, duration: seconds };
    // A short warm-up (JIT, connections), then the measured run.
    await autocannon({ ...options, duration: Math.min(1, seconds) });
    const result = await autocannon(options);
    return { rps: result.requests.average, p99: result.latency.p99, errors: result.errors + result.non2xx };
  } finally {
    await app.close();
  }
}

async function throughput(opts: BenchOptions): Promise<void> {
  const seconds = opts.smoke ? 0.5 : 4;
  const rounds = opts.smoke ? 1 : 5;
  const raw: number[] = [];
  const ours: number[] = [];
  const ratios: number[] = [];
  let errors = 0;
  let previous = await rps('plain', seconds);
  raw.push(previous.rps);
  for (let round = 0; round < rounds; round++) {
    const h = await rps('holdfast', seconds);
    const next = await rps('plain', seconds);
    ours.push(h.rps);
    raw.push(next.rps);
    errors += h.errors + previous.errors + next.errors;
    ratios.push(h.rps / ((previous.rps + next.rps) / 2));
    previous = next;
  }
  console.log(`\nGET on Express 5, ${CONNECTIONS} connections, ${seconds} s per round, ${rounds} holdfast rounds each between two plain rounds`);
  printTable(
    ['app', 'req/s (median)', 'rounds', 'ratio to the plain rounds around it (median)'],
    [
      ['plain Express', fmt(median(raw)), raw.map((r) => fmt(r)).join(' '), '1'],
      [
        '+ every holdfast middleware',
        fmt(median(ours)),
        ours.map((r) => fmt(r)).join(' '),
        `${fmt(median(ratios), 3)} (${ratios.map((r) => fmt(r, 3)).join(' ')})`,
      ],
    ],
  );
  if (errors > 0) console.log(`errors or non-2xx answers: ${errors}`);
}

async function shutdowns(opts: BenchOptions): Promise<void> {
  const contenders = opts.smoke ? ['holdfast'] : [...CONTENDERS, ...IDLE_RULES.slice(1)];
  const rounds = opts.smoke ? 1 : 3;
  const results: ShutdownRound[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const contender of contenders) {
      for (const client of ['undici', 'node:http'] as const) {
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
    for (const client of ['undici', 'node:http'] as const) {
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
}

async function idempotencyCost(opts: BenchOptions): Promise<void> {
  const seconds = opts.smoke ? 0.5 : 4;
  const rounds = opts.smoke ? 1 : 3;
  const redis = opts.smoke ? undefined : await startRedis();
  try {
    const modes = ['plain', 'idempotency-memory', ...(redis ? [`idempotency-redis:${redis.port}`] : [])];
    const figures = Object.fromEntries(modes.map((m) => [m, [] as number[]]));
    for (let round = 0; round < rounds; round++) {
      for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) figures[mode]!.push((await rps(mode, seconds, true)).rps);
    }
    const plain = median(figures.plain!);
    console.log(`\nPOST /orders (JSON) with a new Idempotency-Key each request, ${CONNECTIONS} connections, ${rounds} round(s) of ${seconds} s`);
    printTable(
      ['app', 'req/s (median)', 'ratio', 'cost per request (µs of the server, median)'],
      modes.map((mode) => {
        const r = median(figures[mode]!);
        return [mode.replace(/:\d+$/, ''), fmt(r), fmt(r / plain, 3), mode === 'plain' ? '-' : fmt(1e6 / r - 1e6 / plain, 1)];
      }),
    );
    if (!redis) console.log('(Redis store skipped in smoke mode)');
  } finally {
    await redis?.stop();
  }
}

export default async function (opts: BenchOptions): Promise<void> {
  await throughput(opts);
  await idempotencyCost(opts);
  await shutdowns(opts);
}
