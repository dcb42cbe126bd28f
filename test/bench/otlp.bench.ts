/**
 * OTLP span export through @holdfast/otlp vs the plain OTel exporters (0.223),
 * both behind the SDK's BatchSpanProcessor (its defaults), to a real
 * collector (mockotlpserver) in another process (otlp-collector.ts), so that
 * this process holds only the app and its exporter and the figures below are
 * theirs. The collector decodes every request and counts span ids.
 *
 * 1. No faults: spans/s with the producer waiting for each 2 048-span flush
 *    to be acknowledged, and this process's CPU per span, in alternating
 *    rounds after a warm-up (goal: holdfast >= 0.95 of plain, the median of
 *    the per-round ratios).
 * 2. A collector outage (10 s; open connections destroyed, new ones refused,
 *    then the collector listens again on the same port) while 2 000 spans/s
 *    are produced: spans lost and duplicated (by span id, at the collector),
 *    this process's event-loop delay p99 during the outage (goal < 20 ms) and
 *    over the whole run (recovery included) with its maximum, the peak heap
 *    growth, and how long after the collector came back the last span
 *    produced during the outage arrived.
 */
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { exponential } from '@holdfast/core';
import { createTraceExporter, type OtlpExporterOptions } from '@holdfast/otlp';
import { startCollectorProcess, type CollectorProcess } from './otlp-collector-process.js';
import { fmt, median, printTable, type BenchOptions } from './lib/report.js';
import { recordFigure } from './lib/results.js';

// The SDK and the plain OTLP exporters come from @holdfast/otlp's dependencies (the versions its tests use).
const load = createRequire(new URL('../../packages/otlp/package.json', import.meta.url));

const { BasicTracerProvider, BatchSpanProcessor } = load(
  '@opentelemetry/sdk-trace-base',
) as typeof import('../../packages/otlp/node_modules/@opentelemetry/sdk-trace-base/build/src/index-shim.js');
type SpanExporter = import('../../packages/otlp/node_modules/@opentelemetry/sdk-trace-base/build/src/index-shim.js').SpanExporter;
const { OTLPTraceExporter: GrpcTraceExporter } = load(
  '@opentelemetry/exporter-trace-otlp-grpc',
) as typeof import('../../packages/otlp/node_modules/@opentelemetry/exporter-trace-otlp-grpc/build/src/index.js');
const { OTLPTraceExporter: ProtoTraceExporter } = load(
  '@opentelemetry/exporter-trace-otlp-proto',
) as typeof import('../../packages/otlp/node_modules/@opentelemetry/exporter-trace-otlp-proto/build/src/index.js');

type Protocol = 'http/protobuf' | 'grpc';
type Flavour = 'holdfast' | 'plain';
const FLAVOURS: readonly Flavour[] = ['plain', 'holdfast'];

// A full collection before each outage run, so that its heap growth is its own, not the previous run's garbage.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// --smoke only proves the benchmark runs: there holdfast retries sooner, so that shutdown() does not sit out a 2 s breaker wait.
let smokeRetries: Pick<OtlpExporterOptions, 'schedule' | 'breaker'> = {};

function exporterFor(flavour: Flavour, protocol: Protocol, origin: string): SpanExporter & { forceFlush(): Promise<void> } {
  if (flavour === 'holdfast') return createTraceExporter({ protocol, endpoint: origin, env: {}, shutdownTimeoutMs: 60_000, ...smokeRetries });
  return protocol === 'grpc' ? new GrpcTraceExporter({ url: origin }) : new ProtoTraceExporter({ url: `${origin}/v1/traces` });
}

function pipeline(exporter: SpanExporter) {
  const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
  const tracer = provider.getTracer('bench');
  const ids: string[] = [];
  const emit = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const span = tracer.startSpan('op', { attributes: { 'http.route': '/orders/:id', 'http.status_code': 200 } });
      ids.push(span.spanContext().spanId);
      span.end();
    }
  };
  return { provider, ids, emit };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// monitorEventLoopDelay records the interval between its samples (an idle loop shows ~10 ms at a 10 ms
// resolution): the delay is what exceeds the resolution.
const LOOP_RESOLUTION_MS = 10;
const loopDelayMs = (ns: number): number => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
const cpuMs = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

interface ThroughputResult {
  spansPerSecond: number;
  cpuUsPerSpan: number;
  /** Spans the collector did not receive (there is no fault: should be 0). */
  missing: number;
}

async function throughput(
  flavour: Flavour,
  protocol: Protocol,
  collector: CollectorProcess,
  origin: string,
  total: number,
): Promise<ThroughputResult> {
  await collector.reset();
  const exporter = exporterFor(flavour, protocol, origin);
  const app = pipeline(exporter);
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let sent = 0; sent < total; sent += 2048) {
    app.emit(2048);
    await app.provider.forceFlush();
    // BatchSpanProcessor.forceFlush() never calls the exporter's; holdfast's export() only queued the batch.
    await exporter.forceFlush();
  }
  const elapsed = performance.now() - start;
  const cpuUsed = cpuMs(cpu);
  await app.provider.shutdown();
  const { unique } = await collector.summary();
  return { spansPerSecond: (app.ids.length / elapsed) * 1000, cpuUsPerSpan: (cpuUsed * 1000) / app.ids.length, missing: app.ids.length - unique };
}

interface OutageResult {
  produced: number;
  lost: number;
  duplicates: number;
  outageP99Ms: number;
  runP99Ms: number;
  runMaxMs: number;
  heapMb: number;
  /** Seconds from the collector's return until the last span produced during the outage arrived (NaN if none did). */
  backlogS: number;
}

async function outage(
  flavour: Flavour,
  protocol: Protocol,
  collector: CollectorProcess,
  origin: string,
  upMs: number,
  downMs: number,
): Promise<OutageResult> {
  await collector.reset();
  const exporter = exporterFor(flavour, protocol, origin);
  const app = pipeline(exporter);
  gc();
  const heapBase = process.memoryUsage().heapUsed;
  let heapPeak = heapBase;
  const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 100);
  const run = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  const down = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  run.enable();
  // 2 000 spans/s in 10 ms ticks, on time whatever the outage control below is waiting for.
  const producing = (async () => {
    const until = performance.now() + 2 * upMs + downMs;
    let next = performance.now();
    while (performance.now() < until) {
      app.emit(20);
      next += 10;
      await sleep(Math.max(0, next - performance.now()));
    }
  })();
  await sleep(upMs);
  await collector.stop();
  const outageFrom = app.ids.length;
  down.enable();
  await sleep(downMs);
  down.disable();
  await collector.start();
  const backAt = Date.now();
  const outageTo = app.ids.length;
  await producing;
  run.disable();
  clearInterval(sampler);
  // The plain exporters reject shutdown() when the last export failed; what was lost is counted below.
  await app.provider.shutdown().catch(() => undefined);
  const { counts, firstAt } = await collector.report();
  let lost = 0;
  let duplicates = 0;
  for (const id of app.ids) {
    const n = counts.get(id) ?? 0;
    if (n === 0) lost++;
    else duplicates += n - 1;
  }
  let lastBacklog = Number.NaN;
  for (const id of app.ids.slice(outageFrom, outageTo)) {
    const at = firstAt.get(id);
    if (at !== undefined && !(at <= lastBacklog)) lastBacklog = at;
  }
  return {
    produced: app.ids.length,
    lost,
    duplicates,
    outageP99Ms: loopDelayMs(down.percentile(99)),
    runP99Ms: loopDelayMs(run.percentile(99)),
    runMaxMs: loopDelayMs(run.max),
    heapMb: (heapPeak - heapBase) / 1024 / 1024,
    backlogS: Math.max(0, lastBacklog - backAt) / 1000,
  };
}

const EXPORTER_NAMES: Record<Flavour, string> = { plain: 'plain OTel exporter', holdfast: 'holdfast createTraceExporter' };

/** The headline figures of one protocol: throughput with no faults, spans lost to an outage, the event loop during it. */
function recordOtlp(
  protocol: Protocol,
  speed: Record<Flavour, ThroughputResult[]>,
  ratios: number[],
  outages: Record<Flavour, OutageResult[]>,
  run: { total: number; rounds: number; outageRounds: number; upMs: number; downMs: number },
): void {
  const id = protocol.replace(/[^a-z]+/g, '-');
  const spans = (flavour: Flavour): number[] => speed[flavour].map((r) => r.spansPerSecond);
  recordFigure({
    id: `${id}-throughput`,
    title: `OTLP ${protocol} span export, no faults`,
    metric: 'spans/s',
    better: 'higher',
    baseline: EXPORTER_NAMES.plain,
    note: `${fmt(run.total)} spans per run, each 2 048-span flush acknowledged before the next; ${run.rounds} alternating round(s), medians; the ratio is the median of the per-round ratios, the spread the lowest and highest round.`,
    values: FLAVOURS.map((flavour) => ({
      contender: EXPORTER_NAMES[flavour],
      value: median(spans(flavour)),
      low: Math.min(...spans(flavour)),
      high: Math.max(...spans(flavour)),
      ...(flavour === 'holdfast' ? { ratio: median(ratios) } : {}),
      note: `${fmt(median(speed[flavour].map((r) => r.cpuUsPerSpan)), 1)} µs CPU/span`,
    })),
  });
  const outage = `Collector down ${run.downMs / 1000} s (connections destroyed, new ones refused) while 2 000 spans/s are produced, ${run.upMs / 1000} s up before and after; ${run.outageRounds} round(s).`;
  recordFigure({
    id: `${id}-outage-lost`,
    title: `OTLP ${protocol}, a ${run.downMs / 1000} s collector outage: spans lost`,
    metric: 'spans lost (worst round)',
    better: 'lower',
    note: `${outage} Counted by span id at the collector.`,
    values: FLAVOURS.map((flavour) => {
      const o = outages[flavour];
      return {
        contender: EXPORTER_NAMES[flavour],
        value: Math.max(...o.map((r) => r.lost)),
        note: `of ${fmt(median(o.map((r) => r.produced)))}, ${fmt(Math.max(...o.map((r) => r.duplicates)))} duplicated`,
      };
    }),
  });
  recordFigure({
    id: `${id}-outage-loop-delay`,
    title: `OTLP ${protocol}, a ${run.downMs / 1000} s collector outage: the application's event loop`,
    metric: 'event-loop delay p99 during the outage, ms (median of rounds)',
    better: 'lower',
    note: `${outage} The spread is the lowest and highest round.`,
    values: FLAVOURS.map((flavour) => {
      const p99 = outages[flavour].map((r) => r.outageP99Ms);
      return {
        contender: EXPORTER_NAMES[flavour],
        value: median(p99),
        low: Math.min(...p99),
        high: Math.max(...p99),
        note: `max over the run ${fmt(median(outages[flavour].map((r) => r.runMaxMs)), 0)} ms`,
      };
    }),
  });
}

export default async function (opts: BenchOptions): Promise<void> {
  const collector = await startCollectorProcess();
  if (opts.smoke) smokeRetries = { schedule: exponential({ initialMs: 20, maxMs: 100 }), breaker: false };
  const origins: Record<Protocol, string> = {
    'http/protobuf': `http://127.0.0.1:${collector.httpPort}`,
    grpc: `http://127.0.0.1:${collector.grpcPort}`,
  };
  const total = opts.smoke ? 2_048 : 81_920;
  const rounds = opts.smoke ? 1 : 9;
  const outageRounds = opts.smoke ? 1 : 2;
  const [upMs, downMs] = opts.smoke ? [200, 400] : [2_000, 10_000];
  try {
    const speedRows: (string | number)[][] = [];
    const outageRows: (string | number)[][] = [];
    for (const protocol of ['http/protobuf', 'grpc'] as const) {
      const origin = origins[protocol];
      if (!opts.smoke) for (const flavour of FLAVOURS) await throughput(flavour, protocol, collector, origin, total / 4);
      const speed: Record<Flavour, ThroughputResult[]> = { holdfast: [], plain: [] };
      const ratios: number[] = [];
      for (let round = 0; round < rounds; round++) {
        for (const flavour of round % 2 === 0 ? FLAVOURS : [...FLAVOURS].reverse())
          speed[flavour].push(await throughput(flavour, protocol, collector, origin, total));
        ratios.push(speed.holdfast[round]!.spansPerSecond / speed.plain[round]!.spansPerSecond);
      }
      const outages: Record<Flavour, OutageResult[]> = { holdfast: [], plain: [] };
      for (let round = 0; round < outageRounds; round++) {
        for (const flavour of round % 2 === 0 ? FLAVOURS : [...FLAVOURS].reverse())
          outages[flavour].push(await outage(flavour, protocol, collector, origin, upMs, downMs));
      }
      for (const flavour of FLAVOURS) {
        const s = speed[flavour];
        speedRows.push([
          protocol,
          flavour,
          fmt(median(s.map((r) => r.spansPerSecond))),
          flavour === 'plain' ? '1.00' : `${fmt(median(ratios), 2)} (${fmt(Math.min(...ratios), 2)}–${fmt(Math.max(...ratios), 2)})`,
          fmt(median(s.map((r) => r.cpuUsPerSpan)), 1),
          fmt(Math.max(...s.map((r) => r.missing))),
        ]);
        const o = outages[flavour];
        const worst = (pick: (r: OutageResult) => number): string => fmt(Math.max(...o.map(pick)));
        outageRows.push([
          protocol,
          flavour,
          `${worst((r) => r.lost)} / ${fmt(median(o.map((r) => r.produced)))}`,
          worst((r) => r.duplicates),
          fmt(median(o.map((r) => r.outageP99Ms)), 1),
          fmt(median(o.map((r) => r.runP99Ms)), 1),
          fmt(median(o.map((r) => r.runMaxMs)), 0),
          fmt(median(o.map((r) => r.heapMb)), 1),
          fmt(median(o.map((r) => r.backlogS).filter(Number.isFinite)), 1),
        ]);
      }
      recordOtlp(protocol, speed, ratios, outages, { total, rounds, outageRounds, upMs, downMs });
    }
    console.log(`\nNo faults: ${fmt(total)} spans per run, ${rounds} alternating round(s), medians; ratio = median of the per-round ratios to plain`);
    printTable(['protocol', 'exporter', 'spans/s', 'ratio to plain (range)', 'CPU µs/span (this process)', 'spans missing (worst run)'], speedRows);
    console.log(
      `\nCollector down ${downMs / 1000} s at 2 000 spans/s (${upMs / 1000} s up before and after), ${outageRounds} round(s); lost and duplicates: worst round; others: median`,
    );
    printTable(
      [
        'protocol',
        'exporter',
        'lost / produced',
        'duplicates',
        'loop delay p99 ms (outage)',
        'p99 (whole run)',
        'max',
        'peak heap growth MB',
        'outage spans in, s after return',
      ],
      outageRows,
    );
  } finally {
    await collector.close();
  }
}
