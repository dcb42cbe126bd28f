/**
 * What wrapping a call in retry costs when nothing fails, beside p-retry,
 * cockatiel and undici's RetryAgent in the same run:
 *   1. an operation that succeeds at once (`async () => 1`): pure wrapper cost;
 *   2. `undici.request` against a keep-alive server in another process,
 *      64 requests in flight: what an HTTP client actually pays.
 * Rounds alternate between contenders; figures are medians over rounds, and
 * each ratio is the median of per-round ratios to the bare call.
 */
import { createRetryPolicy, retry } from '@holdfast/core';
import { collectGarbage } from './lib/gc.js';
import { startOkServerProcess } from './lib/ok-server-process.js';
import { Agent, ExponentialBackoff, RetryAgent, cockatielRetry, handleAll, pRetry, request } from './lib/core-peers.js';
import { alternate, fmt, median, printTable, type BenchOptions } from './lib/report.js';
import { recordFigure, type FigureValue } from './lib/results.js';

type Call = () => Promise<unknown>;

/** Per contender: the median over rounds, their range, and the median of the per-round ratios to `bare`. */
function figureValues<T extends string>(names: readonly T[], bare: T, results: Record<T, number[]>): FigureValue[] {
  return names.map((name) => {
    const perRound = results[name];
    return {
      contender: name,
      value: median(perRound),
      low: Math.min(...perRound),
      high: Math.max(...perRound),
      ratio: median(perRound.map((value, round) => value / results[bare][round]!)),
    };
  });
}

function summarise<T extends string>(names: readonly T[], bare: T, results: Record<T, number[]>, withCost: boolean): (string | number)[][] {
  return names.map((name) => {
    const perRound = results[name];
    const ratios = perRound.map((value, round) => value / results[bare][round]!);
    // What the wrapper adds to each call, from the per-round rates: 1/rate − 1/bare rate.
    const addedNs = perRound.map((value, round) => 1e9 / value - 1e9 / results[bare][round]!);
    const row = [name, fmt(median(perRound)), `${fmt(Math.min(...perRound))} – ${fmt(Math.max(...perRound))}`, `${fmt(median(ratios), 3)}x`];
    return withCost ? [...row, name === bare ? '-' : fmt(median(addedNs))] : row;
  });
}

async function happyPathOverhead(smoke: boolean): Promise<void> {
  const calls = smoke ? 2_000 : 300_000;
  const rounds = smoke ? 1 : 11;
  const operation = (): Promise<number> => Promise.resolve(1);
  const policy = createRetryPolicy();
  const cockatiel = cockatielRetry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() });
  const contenders = {
    'bare call': () => operation(),
    'holdfast retry()': () => retry(operation),
    'holdfast policy.execute()': () => policy.execute(operation),
    'p-retry': () => pRetry(operation, { retries: 2 }),
    'cockatiel retry': () => cockatiel.execute(operation),
  } satisfies Record<string, Call>;
  const names = Object.keys(contenders) as (keyof typeof contenders)[];
  const measure = async (call: Call, count: number): Promise<number> => {
    collectGarbage();
    const start = performance.now();
    for (let i = 0; i < count; i++) await call();
    return count / ((performance.now() - start) / 1000);
  };
  for (const name of names) await measure(contenders[name], Math.min(calls, 50_000));
  const results = await alternate(names, rounds, (name) => measure(contenders[name], calls));
  console.log(`\n1. operation that succeeds at once: ${fmt(calls)} sequential calls per round, ${rounds} round(s)\n`);
  printTable(['contender', 'calls/s (median)', 'range', 'vs bare', 'added ns/call'], summarise(names, 'bare call', results, true));
  recordFigure({
    id: 'happy-path',
    title: 'Wrapping an operation that succeeds at once',
    metric: 'calls/s',
    better: 'higher',
    baseline: 'bare call',
    note: `${fmt(calls)} sequential calls per round, ${rounds} alternating round(s); median, the spread is the lowest and highest round, the ratio the median of per-round ratios.`,
    values: figureValues(names, 'bare call', results),
  });
}

async function undiciThroughput(smoke: boolean): Promise<void> {
  const inFlight = 64;
  // Many short rounds rather than a few long ones: load from other processes then hits every contender alike.
  const requests = smoke ? 256 : 4_000;
  const rounds = smoke ? 1 : 25;
  const server = await startOkServerProcess();
  const agents: Agent[] = [];
  const newAgent = (): Agent => {
    const agent = new Agent();
    agents.push(agent);
    return agent;
  };
  try {
    const url = `${server.origin}/`;
    let failures = 0;
    const getOk = (dispatcher: Agent | RetryAgent) => async (): Promise<string> => {
      const { statusCode, body } = await request(url, { dispatcher });
      const text = await body.text();
      if (statusCode !== 200 || text !== 'ok') failures++;
      return text;
    };
    const bare = getOk(newAgent());
    const bareControl = getOk(newAgent());
    const viaRetry = getOk(newAgent());
    const viaPolicy = getOk(newAgent());
    const viaPRetry = getOk(newAgent());
    const retryAgent = new RetryAgent(newAgent());
    const viaRetryAgent = getOk(retryAgent);
    const viaCockatiel = getOk(newAgent());
    const policy = createRetryPolicy();
    const cockatiel = cockatielRetry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() });
    const contenders = {
      'bare undici.request': bare,
      // The same bare call on its own agent: how far two identical contenders drift apart in this run.
      'bare again (noise floor)': bareControl,
      'holdfast retry()': () => retry(viaRetry),
      'holdfast policy.execute()': () => policy.execute(viaPolicy),
      'p-retry': () => pRetry(viaPRetry, { retries: 2 }),
      'undici RetryAgent': viaRetryAgent,
      'cockatiel retry': () => cockatiel.execute(viaCockatiel),
    } satisfies Record<string, Call>;
    const names = Object.keys(contenders) as (keyof typeof contenders)[];
    // This process's CPU time per request: what the client pays, and far less
    // sensitive than wall-clock throughput to other processes sharing the cores.
    const cpuPerRequest = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<(typeof names)[number], number[]>;
    const measure = async (name: (typeof names)[number], total: number): Promise<number> => {
      const call: Call = contenders[name];
      let issued = 0;
      const worker = async (): Promise<void> => {
        while (issued < total) {
          issued++;
          await call();
        }
      };
      collectGarbage();
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      await Promise.all(Array.from({ length: inFlight }, worker));
      const elapsedMs = performance.now() - start;
      const cpu = process.cpuUsage(cpuStart);
      cpuPerRequest[name].push((cpu.user + cpu.system) / total);
      return total / (elapsedMs / 1000);
    };
    for (const name of names) await measure(name, requests);
    for (const name of names) cpuPerRequest[name].length = 0;
    const results = await alternate(names, rounds, (name) => measure(name, requests));
    console.log(
      `\n2. undici.request, keep-alive server in another process, ${inFlight} in flight, ${fmt(requests)} requests per round, ${rounds} round(s)\n`,
    );
    const bareName = 'bare undici.request';
    const rows = summarise(names, bareName, results, false).map((row, i) => {
      const cpu = cpuPerRequest[names[i]!];
      const cpuRatios = cpu.map((value, round) => value / cpuPerRequest[bareName][round]!);
      return [...row, fmt(median(cpu), 1), `${fmt(median(cpuRatios), 3)}x`];
    });
    printTable(['contender', 'requests/s (median)', 'range', 'vs bare', 'client CPU µs/request', 'CPU/request vs bare'], rows);
    const note = `${fmt(requests)} requests per round, ${inFlight} in flight, keep-alive server in another process, ${rounds} alternating round(s).`;
    recordFigure({
      id: 'undici-throughput',
      title: 'undici.request wrapped in each retry library, nothing failing',
      metric: 'requests/s',
      better: 'higher',
      baseline: bareName,
      note,
      values: figureValues(names, bareName, results),
    });
    recordFigure({
      id: 'undici-cpu',
      title: 'Client CPU per request, undici.request wrapped in each retry library',
      metric: 'µs of client CPU per request',
      better: 'lower',
      baseline: bareName,
      note,
      values: names.map((name) => ({
        contender: name,
        value: median(cpuPerRequest[name]),
        ratio: median(cpuPerRequest[name].map((value, round) => value / cpuPerRequest[bareName][round]!)),
      })),
    });
    if (failures > 0) console.log(`\n${failures} responses were not '200 ok': the figures above are not comparable`);
  } finally {
    await Promise.allSettled(agents.map((agent) => agent.close()));
    await server.stop();
  }
}

export default async function retryBenchmark(options: BenchOptions): Promise<void> {
  await happyPathOverhead(options.smoke);
  await undiciThroughput(options.smoke);
}
