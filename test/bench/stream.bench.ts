/**
 * A download that survives its connection, against a server in another
 * process:
 *
 * 1. Throughput without faults: holdfast's resumablePipeline over httpSource,
 *    plain `stream.pipeline` over undici's `request()` body (the same
 *    transport, nothing resumable), and undici's RetryAgent; each of the
 *    latter two runs between two plain downloads and is compared with them.
 *    Client CPU per 100 MB beside throughput: it moves less with the load of
 *    a shared machine. Goal: holdfast >= 0.95x plain. `STREAM_BENCH_ONLY_THROUGHPUT=1`
 *    stops after this part.
 * 2. Ten real resets (RST) spread over the entity: bytes the server wrote
 *    twice (what was in flight at each reset, and nothing more, is the
 *    goal), time against the same contender's fault-free run, and whether
 *    the output is exact (sha256). Every contender reopens at once (holdfast
 *    `schedule: constant(0)`, RetryAgent `minTimeout: 0`): the figures are the
 *    mechanism's, not a backoff policy's.
 * 3. The servers that must not be spliced, and a stall while a slow consumer
 *    holds the pipe: what each contender does.
 */
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constant } from '../../packages/core/src/index.js';
import { httpSource } from '../../packages/http/src/index.js';
import { resumablePipeline } from '../../packages/stream/src/index.js';
import { startChildServer, type ChildServer } from './lib/child-server.js';
import { collectGarbage } from './lib/gc.js';
import { Agent, RetryAgent, request } from './lib/http-peers.js';
import { rangeServerSource, type RangeServerStats } from './lib/range-server-process.js';
import { fmt, median, percentile, printTable, type BenchOptions } from './lib/report.js';
import { recordFigure } from './lib/results.js';

const MB = 1024 * 1024;

/** Counts (and optionally hashes) what it is given; the destination of every download. */
class Sink extends Writable {
  bytes = 0;
  readonly #hash: ReturnType<typeof createHash> | undefined;
  #slowWrites: number;
  readonly #slowMs: number;

  constructor(hash: boolean, slow: { writes: number; ms: number } = { writes: 0, ms: 0 }) {
    super({ highWaterMark: 64 * 1024 });
    this.#hash = hash ? createHash('sha256') : undefined;
    this.#slowWrites = slow.writes;
    this.#slowMs = slow.ms;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytes += chunk.length;
    this.#hash?.update(chunk);
    if (this.#slowWrites-- > 0) setTimeout(callback, this.#slowMs);
    else callback();
  }

  digest(): string {
    return this.#hash?.digest('hex') ?? '';
  }
}

type Download = (url: string, sink: Sink, timeoutMs: number) => Promise<void>;

interface Contender {
  readonly name: string;
  readonly download: Download;
  close(): Promise<void>;
  /** Ends every connection and anything the contender still runs. */
  destroy(): Promise<void>;
}

const PLAIN = 'stream.pipeline (plain undici)';
const HOLDFAST = 'holdfast resumablePipeline';
const UNDICI_RETRY = 'undici RetryAgent';

/** One contender with an Agent of its own; `stallMs` is holdfast's stallTimeoutMs and the RetryAgent's bodyTimeout. */
function contender(name: string, stallMs: number): Contender {
  const agent = new Agent({ keepAliveTimeout: 30_000, ...(name === UNDICI_RETRY ? { bodyTimeout: stallMs } : {}) });
  const lifecycle = { close: () => agent.close(), destroy: () => agent.destroy() };
  if (name === HOLDFAST) {
    return {
      name,
      download: (url, sink) =>
        resumablePipeline(httpSource(url, { dispatcher: agent }), sink, { schedule: constant(0), attempts: 20, stallTimeoutMs: stallMs }),
      ...lifecycle,
    };
  }
  const dispatcher = name === UNDICI_RETRY ? new RetryAgent(agent, { maxRetries: 20, minTimeout: 0, maxTimeout: 0, timeoutFactor: 1 }) : agent;
  return {
    name,
    download: async (url, sink) => {
      const { body } = await request(url, { dispatcher });
      await pipeline(body, sink);
    },
    ...lifecycle,
  };
}

async function stats(server: ChildServer): Promise<RangeServerStats> {
  return JSON.parse(await server.command('stats')) as RangeServerStats;
}

/** Runs one download; a download still running after `timeoutMs` counts as hung and its sink is destroyed. */
async function attempt(
  contender: Contender,
  url: string,
  sink: Sink,
  timeoutMs: number,
): Promise<{ ms: number; cpuMs: number; error?: unknown; hung: boolean }> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), timeoutMs)));
  const outcome = await Promise.race([
    contender.download(url, sink, timeoutMs).then(
      () => 'ok' as const,
      (error: unknown) => ({ error }),
    ),
    hung,
  ]);
  clearTimeout(timer);
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  if (outcome === 'hung') {
    sink.destroy();
    return { ms, cpuMs, hung: true };
  }
  return outcome === 'ok' ? { ms, cpuMs, hung: false } : { ms, cpuMs, hung: false, error: outcome.error };
}

/** `count` chunks of 64 KiB from memory, as fast as they are read. */
function fromMemory(count: number): Readable {
  const chunk = Buffer.alloc(64 * 1024, 1);
  let sent = 0;
  return new Readable({
    highWaterMark: chunk.length,
    read() {
      this.push(sent++ < count ? chunk : null);
    },
  });
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const detail = (error as { refusal?: string; code?: string }).refusal ?? (error as { code?: string }).code ?? error.name;
  return `${detail}: ${error.message.slice(0, 70)}`;
}

export default async function (opts: BenchOptions): Promise<void> {
  const size = opts.smoke ? 4 * MB : 200 * MB;
  const rounds = opts.smoke ? 1 : Number(process.env.STREAM_BENCH_ROUNDS ?? 9);
  const stallMs = opts.smoke ? 100 : 2_000;
  const server = await startChildServer(rangeServerSource(size));
  // Every download gets a path of its own (see the server's `path` command).
  let runs = 0;
  const nextUrl = async (label: string): Promise<string> => {
    const path = `/${++runs}-${label.replace(/[^a-z]+/gi, '-')}`;
    await server.command(`path ${path}`);
    return `${server.url}${path}`;
  };
  const all = [PLAIN, HOLDFAST, UNDICI_RETRY].map((name) => contender(name, stallMs));
  const [plain, holdfast, undiciRetry] = all as [Contender, Contender, Contender];

  // 1. Throughput without faults. Each holdfast or RetryAgent download runs between two plain ones and is compared
  // with their mean: on a shared machine the load drifts within seconds, and a neighbour's ratio follows it best.
  // Plain's own row compares each plain download with its two neighbours: the noise floor of the ratios.
  const throughputRounds = opts.smoke ? 1 : Number(process.env.STREAM_BENCH_THROUGHPUT_ROUNDS ?? 11);
  const throughput = new Map<string, number[]>(all.map((c) => [c.name, []]));
  const ratios = new Map<string, number[]>(all.map((c) => [c.name, []]));
  const cpuPer100 = new Map<string, number[]>(all.map((c) => [c.name, []]));
  const cpuRatios = new Map<string, number[]>(all.map((c) => [c.name, []]));
  const others = all.filter((c) => c !== plain);
  const measure = async (c: Contender): Promise<{ mbps: number; cpu: number }> => {
    collectGarbage();
    const sink = new Sink(false);
    const run = await attempt(c, await nextUrl(c.name), sink, 60_000);
    if (run.error !== undefined || sink.bytes !== size) throw new Error(`${c.name} failed without faults: ${describeError(run.error)}`);
    const result = { mbps: size / MB / (run.ms / 1000), cpu: (run.cpuMs * 100 * MB) / size };
    throughput.get(c.name)!.push(result.mbps);
    cpuPer100.get(c.name)!.push(result.cpu);
    return result;
  };
  // Warm the pools and the JIT first.
  for (const c of all) await attempt(c, await nextUrl(c.name), new Sink(false), 60_000);
  const plainRuns: { mbps: number; cpu: number }[] = [];
  let before = await measure(plain);
  plainRuns.push(before);
  for (let round = 0; round < throughputRounds; round++) {
    for (const c of round % 2 === 0 ? others : [...others].reverse()) {
      const run = await measure(c);
      const after = await measure(plain);
      plainRuns.push(after);
      ratios.get(c.name)!.push(run.mbps / ((before.mbps + after.mbps) / 2));
      cpuRatios.get(c.name)!.push(run.cpu / ((before.cpu + after.cpu) / 2));
      before = after;
    }
  }
  for (let i = 1; i + 1 < plainRuns.length; i++) {
    ratios.get(plain.name)!.push(plainRuns[i]!.mbps / ((plainRuns[i - 1]!.mbps + plainRuns[i + 1]!.mbps) / 2));
    cpuRatios.get(plain.name)!.push(plainRuns[i]!.cpu / ((plainRuns[i - 1]!.cpu + plainRuns[i + 1]!.cpu) / 2));
  }
  console.log(
    `\nwithout faults: ${fmt(size / MB)} MB per download, ${throughputRounds} rounds, each holdfast and RetryAgent download between two plain ones; server in a child process`,
  );
  printTable(
    ['contender', 'MB/s (median)', 'x plain neighbours (median)', 'middle half of the ratios', 'client CPU ms per 100 MB', 'CPU x plain neighbours'],
    all.map((c) => [
      c === plain ? `${c.name} (vs its neighbours)` : c.name,
      fmt(median(throughput.get(c.name)!)),
      fmt(median(ratios.get(c.name)!), 3),
      `${fmt(percentile(ratios.get(c.name)!, 25), 3)}-${fmt(percentile(ratios.get(c.name)!, 75), 3)}`,
      fmt(median(cpuPer100.get(c.name)!)),
      fmt(median(cpuRatios.get(c.name)!), 3),
    ]),
  );
  recordFigure({
    id: 'throughput-ratio',
    title: 'A download with nothing failing: throughput against plain stream.pipeline',
    metric: "MB/s as a ratio to plain's neighbouring downloads (median of rounds)",
    better: 'higher',
    note: `${fmt(size / MB)} MB per download, ${throughputRounds} round(s); each holdfast and RetryAgent download runs between two plain ones and is divided by their mean; plain's own row compares each plain download with its neighbours (the noise floor). The spread is the middle half of the ratios; server in a child process.`,
    values: all.map((c) => ({
      contender: c === plain ? `${c.name} (vs its neighbours)` : c.name,
      value: median(ratios.get(c.name)!),
      low: percentile(ratios.get(c.name)!, 25),
      high: percentile(ratios.get(c.name)!, 75),
      note: `${fmt(median(throughput.get(c.name)!))} MB/s, CPU x${fmt(median(cpuRatios.get(c.name)!), 3)}`,
    })),
  });
  // The pipe's own cost, without a network to add noise: 64 KiB chunks from memory into a sink that takes them at once.
  const chunks = opts.smoke ? 2_000 : 16_000;
  const memoryRounds = opts.smoke ? 1 : 9;
  const perChunk: Record<'plain' | 'holdfast', number[]> = { plain: [], holdfast: [] };
  for (let round = 0; round < memoryRounds + 1; round++) {
    for (const which of round % 2 === 0 ? (['plain', 'holdfast'] as const) : (['holdfast', 'plain'] as const)) {
      collectGarbage();
      const before = process.cpuUsage();
      if (which === 'plain') await pipeline(fromMemory(chunks), new Sink(false));
      else await resumablePipeline(() => fromMemory(chunks), new Sink(false));
      const used = process.cpuUsage(before);
      // The first round warms the JIT.
      if (round > 0) perChunk[which].push((used.user + used.system) / chunks);
    }
  }
  console.log(`\nthe pipe itself: ${fmt(chunks)} chunks of 64 KiB from memory, ${memoryRounds} alternating rounds (medians)`);
  printTable(
    ['contender', 'client CPU µs per chunk'],
    [
      ['stream.pipeline', fmt(median(perChunk.plain), 2)],
      ['holdfast resumablePipeline', fmt(median(perChunk.holdfast), 2)],
    ],
  );

  if (process.env.STREAM_BENCH_ONLY_THROUGHPUT === '1') {
    for (const c of all) await c.close();
    await server.close();
    return;
  }

  // 2. Ten resets over the entity, at offsets spread evenly (each shifted by up to a fifth of a step).
  const resets = opts.smoke ? 2 : 10;
  const step = Math.floor(size / (resets + 1));
  const offsets = (round: number): string =>
    Array.from({ length: resets }, (_, i) => Math.floor(step * (i + 1) + ((((round + 1) * (i + 7) * 7919) % 400) / 1000 - 0.2) * step)).join(',');
  const faultRows = new Map<
    string,
    { clean: number[]; faulty: number[]; wasted: number[]; requests: number[]; exact: boolean[]; errors: string[] }
  >();
  for (const c of [plain, holdfast, undiciRetry]) faultRows.set(c.name, { clean: [], faulty: [], wasted: [], requests: [], exact: [], errors: [] });
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? all : [...all].reverse();
    for (const contender of order) {
      const row = faultRows.get(contender.name)!;
      collectGarbage();
      const clean = new Sink(true);
      const cleanRun = await attempt(contender, await nextUrl(contender.name), clean, 120_000);
      row.clean.push(cleanRun.ms);
      const expected = (await stats(server)).sha256a;
      await server.command('clear');
      const faultyUrl = await nextUrl(contender.name);
      await server.command(`reset ${offsets(round)}`);
      collectGarbage();
      const sink = new Sink(true);
      const run = await attempt(contender, faultyUrl, sink, 120_000);
      const after = await stats(server);
      await server.command('clear');
      if (run.error !== undefined || run.hung) {
        row.errors.push(run.hung ? 'hung' : describeError(run.error));
        continue;
      }
      row.faulty.push(run.ms);
      row.wasted.push(after.written - size);
      row.requests.push(after.requests);
      row.exact.push(sink.bytes === size && sink.digest() === expected);
    }
  }
  console.log(`\n${resets} real resets (RST) over ${fmt(size / MB)} MB, ${rounds} rounds (medians); every contender reopens at once`);
  printTable(
    [
      'contender',
      'completed',
      'exact (sha256)',
      'requests',
      'bytes served twice',
      'x entity',
      'time, faults',
      'time, no faults',
      'x no faults',
      'failures',
    ],
    [...faultRows].map(([name, r]) => [
      name,
      `${r.faulty.length}/${rounds}`,
      r.exact.length === 0 ? '-' : `${r.exact.filter(Boolean).length}/${r.exact.length}`,
      r.requests.length === 0 ? '-' : fmt(median(r.requests)),
      r.wasted.length === 0 ? '-' : `${fmt(median(r.wasted) / MB, 2)} MB`,
      r.wasted.length === 0 ? '-' : fmt(median(r.wasted) / size, 4),
      r.faulty.length === 0 ? '-' : `${fmt(median(r.faulty))} ms`,
      `${fmt(median(r.clean))} ms`,
      r.faulty.length === 0 ? '-' : fmt(median(r.faulty) / median(r.clean), 2),
      r.errors.length === 0 ? '' : [...new Set(r.errors)].join('; '),
    ]),
  );

  const resetsHow = `${resets} real resets (RST) spread over ${fmt(size / MB)} MB, ${rounds} round(s); every contender reopens at once; medians of the completed rounds.`;
  recordFigure({
    id: 'resets-served-twice',
    title: `${resets} resets during a ${fmt(size / MB)} MB download: bytes the server sent twice`,
    metric: 'MB served twice (median)',
    better: 'lower',
    note: `${resetsHow} "none": no round completed.`,
    values: [...faultRows].map(([name, r]) => ({
      contender: name,
      value: r.wasted.length === 0 ? Number.NaN : median(r.wasted) / MB,
      note: `${r.faulty.length}/${rounds} completed, ${r.exact.filter(Boolean).length} exact (sha256)`,
    })),
  });
  recordFigure({
    id: 'resets-time',
    title: `${resets} resets during a ${fmt(size / MB)} MB download: time against the same client without faults`,
    metric: 'x the fault-free time (median)',
    better: 'lower',
    note: `${resetsHow} "none": no round completed.`,
    values: [...faultRows].map(([name, r]) => ({
      contender: name,
      value: r.faulty.length === 0 ? Number.NaN : median(r.faulty) / median(r.clean),
      note: r.faulty.length === 0 ? undefined : `${fmt(median(r.faulty))} ms`,
    })),
  });

  // 3. Servers that must not be spliced, and a stall behind a slow consumer.
  const cut = Math.floor(size / 3) - (Math.floor(size / 3) % 4);
  const slowWrites = opts.smoke ? 2 : 3;
  // The reset comes 100 ms after the bytes before it left, so the client surely holds part of the first version.
  const scenarios: { name: string; mode: object; resets: string; slow?: { writes: number; ms: number } }[] = [
    { name: 'content changes, new ETag', mode: { change: true, resetDelayMs: 100 }, resets: String(cut) },
    { name: 'content changes, Last-Modified only', mode: { change: true, validator: 'lm', resetDelayMs: 100 }, resets: String(cut) },
    { name: 'content changes, no validator', mode: { change: true, validator: 'none', resetDelayMs: 100 }, resets: String(cut) },
    { name: 'server ignores Range (200)', mode: { ignoreRange: true, resetDelayMs: 100 }, resets: String(cut) },
    {
      name: `healthy server, the consumer holds the pipe for 2x the timeout (${stallMs} ms), ${slowWrites} times`,
      mode: {},
      resets: '',
      slow: { writes: slowWrites, ms: 2 * stallMs },
    },
    {
      name: `server silent mid-body while a slow consumer holds the pipe (timeout ${stallMs} ms)`,
      mode: { stallAt: cut },
      resets: '',
      slow: { writes: slowWrites, ms: 2 * stallMs },
    },
  ];
  const hangAfterMs = opts.smoke ? 4 * stallMs + 2_000 : 5 * stallMs + 10_000;
  const afterMs = opts.smoke ? 50 : 1_000;
  const outcomes: string[][] = [];
  // Per contender: scenarios that ended with a spliced output or a hang (the caller neither got the bytes nor an error).
  const silentHarm = new Map<string, number>([
    [HOLDFAST, 0],
    [UNDICI_RETRY, 0],
  ]);
  for (const scenario of scenarios) {
    const row = [scenario.name];
    for (const name of [HOLDFAST, UNDICI_RETRY]) {
      // A fresh contender per scenario, destroyed after it: whatever it leaves running must not reach the next one.
      const fresh = contender(name, stallMs);
      await server.command('clear');
      const scenarioUrl = await nextUrl(`${name} ${scenario.name}`);
      await server.command(`mode ${JSON.stringify(scenario.mode)}`);
      if (scenario.resets !== '') await server.command(`reset ${scenario.resets}`);
      const sink = new Sink(true, scenario.slow);
      const run = await attempt(fresh, scenarioUrl, sink, hangAfterMs);
      const after = await stats(server);
      // Requests that still arrive once the caller has its answer.
      await new Promise((resolve) => setTimeout(resolve, afterMs));
      const later = (await stats(server)).requests - after.requests;
      await fresh.destroy();
      let outcome: string;
      if (run.hung) outcome = `no error after ${fmt(hangAfterMs / 1000)} s (hung)`;
      else if (run.error !== undefined) outcome = `refused: ${describeError(run.error)}`;
      else {
        const digest = sink.digest();
        if (digest === after.sha256a && sink.bytes === size) outcome = `exact (${after.requests} requests)`;
        else if (digest === after.sha256b && sink.bytes === size) outcome = `the new version, whole (${after.requests} requests)`;
        else outcome = `SPLICED: ${fmt(sink.bytes)} bytes, neither version's sha256, no error`;
      }
      if (run.hung || outcome.startsWith('SPLICED')) silentHarm.set(name, silentHarm.get(name)! + 1);
      row.push(later > 0 ? `${outcome}; then ${fmt(later)} more requests in the next ${fmt(afterMs)} ms` : outcome);
    }
    outcomes.push(row);
  }
  await server.command('clear');
  console.log(`\nwhat each does (${fmt(size / MB)} MB, one reset at a third of it)`);
  printTable(['server', HOLDFAST, UNDICI_RETRY], outcomes);
  recordFigure({
    id: 'unsafe-servers',
    title: `Servers that must not be spliced, and stalls behind a slow consumer: downloads spliced or hung`,
    metric: `scenarios of ${scenarios.length} ending spliced or hung`,
    better: 'lower',
    note: `${scenarios.map((s) => s.name).join('; ')}. A refusal with an error is not harm: the caller was told. One run each.`,
    values: [...silentHarm].map(([name, count]) => ({ contender: name, value: count })),
  });

  for (const c of all) await c.close();
  await server.close();
}
