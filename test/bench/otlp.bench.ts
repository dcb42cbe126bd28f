/**
 * OTLP span export through @holdfast/otlp vs the plain OTel exporters (0.223),
 * both behind the SDK's BatchSpanProcessor (its defaults), to a real
 * collector (mockotlpserver, in this process) through the chaos proxy.
 *
 * 1. No faults: spans/s with the producer waiting for each 2 048-span flush
 *    to be acknowledged (goal: holdfast >= 0.95 of plain).
 * 2. A collector outage (10 s, refused connections) while 2 000 spans/s are
 *    produced: spans lost and duplicated (counted by span id at the
 *    collector), event-loop delay p99 over the run (goal < 20 ms) and the
 *    peak heap growth, per protocol.
 * The collector shares the event loop with the exporters: its parsing adds
 * the same to every contender's loop delay.
 */
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createChaosProxy, type ChaosProxy } from '@holdfast/chaos';
import { createTraceExporter } from '@holdfast/otlp';
import { fmt, median, printTable, type BenchOptions } from './lib/report.js';

// The SDK, the plain OTLP exporters and the receiver come from @holdfast/otlp's dependencies (the versions its tests use).
const load = createRequire(new URL('../../packages/otlp/package.json', import.meta.url));

const { BasicTracerProvider, BatchSpanProcessor } = load('@opentelemetry/sdk-trace-base') as typeof import('../../packages/otlp/node_modules/@opentelemetry/sdk-trace-base/build/src/index-shim.js');
type SpanExporter = import('../../packages/otlp/node_modules/@opentelemetry/sdk-trace-base/build/src/index-shim.js').SpanExporter;
const { OTLPTraceExporter: GrpcTraceExporter } = load('@opentelemetry/exporter-trace-otlp-grpc') as typeof import('../../packages/otlp/node_modules/@opentelemetry/exporter-trace-otlp-grpc/build/src/index.js');
const { OTLPTraceExporter: ProtoTraceExporter } = load('@opentelemetry/exporter-trace-otlp-proto') as typeof import('../../packages/otlp/node_modules/@opentelemetry/exporter-trace-otlp-proto/build/src/index.js');

interface MockOtlpServerLike {
  start(): Promise<void>;
  close(): Promise<void>;
  httpUrl: URL | null;
  grpcUrl: URL | null;
}
const { MockOtlpServer } = load('@elastic/mockotlpserver') as {
  MockOtlpServer: new (options: Record<string, unknown>) => MockOtlpServerLike;
};


type Protocol = 'http/protobuf' | 'grpc';
type Flavour = 'holdfast' | 'plain';

const spans = new Map<string, number>();
const list = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? (v as Record<string, unknown>[]) : []);
function onTrace(request: unknown): void {
  for (const rs of list((request as Record<string, unknown>).resourceSpans)) {
    for (const ss of list(rs.scopeSpans)) {
      for (const span of list(ss.spans)) {
        const id = Buffer.from(span.spanId as Uint8Array).toString('hex');
        spans.set(id, (spans.get(id) ?? 0) + 1);
      }
    }
  }
}

function exporterFor(flavour: Flavour, protocol: Protocol, proxy: ChaosProxy): SpanExporter & { forceFlush(): Promise<void> } {
  if (flavour === 'holdfast') return createTraceExporter({ protocol, endpoint: proxy.url('http'), env: {}, shutdownTimeoutMs: 60_000 });
  return protocol === 'grpc' ? new GrpcTraceExporter({ url: proxy.url('http') }) : new ProtoTraceExporter({ url: `${proxy.url('http')}/v1/traces` });
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

async function throughput(flavour: Flavour, protocol: Protocol, proxy: ChaosProxy, total: number): Promise<number> {
  const exporter = exporterFor(flavour, protocol, proxy);
  const app = pipeline(exporter);
  const start = performance.now();
  for (let sent = 0; sent < total; sent += 2048) {
    app.emit(2048);
    await app.provider.forceFlush();
    // BatchSpanProcessor.forceFlush() never calls the exporter's; holdfast's export() only queued the batch.
    await exporter.forceFlush();
  }
  const elapsed = performance.now() - start;
  await app.provider.shutdown();
  return (app.ids.length / elapsed) * 1000;
}

interface OutageResult {
  lost: number;
  duplicates: number;
  loopP99Ms: number;
  heapMb: number;
}

async function outage(flavour: Flavour, protocol: Protocol, proxy: ChaosProxy, upMs: number, downMs: number): Promise<OutageResult> {
  spans.clear();
  const exporter = exporterFor(flavour, protocol, proxy);
  const app = pipeline(exporter);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const heapBase = process.memoryUsage().heapUsed;
  let heapPeak = heapBase;
  const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 100);
  loop.enable();
  const produce = async (ms: number): Promise<void> => {
    const until = performance.now() + ms;
    let next = performance.now();
    while (performance.now() < until) {
      app.emit(20); // 2 000 spans/s in 10 ms ticks
      next += 10;
      await sleep(Math.max(0, next - performance.now()));
    }
  };
  await produce(upMs);
  await proxy.disable({ mode: 'refuse', existing: 'reset' });
  await produce(downMs);
  await proxy.enable();
  await produce(upMs);
  loop.disable();
  clearInterval(sampler);
  // The plain exporters reject shutdown() when the last export failed; what was lost is counted below.
  await app.provider.shutdown().catch(() => undefined);
  const unique = app.ids.filter((id) => spans.has(id)).length;
  const duplicates = app.ids.reduce((sum, id) => sum + Math.max(0, (spans.get(id) ?? 0) - 1), 0);
  return { lost: app.ids.length - unique, duplicates, loopP99Ms: loop.percentile(99) / 1e6, heapMb: (heapPeak - heapBase) / 1024 / 1024 };
}

export default async function (opts: BenchOptions): Promise<void> {
  const collector = new MockOtlpServer({ logLevel: 'error', services: ['http', 'grpc'], httpHostname: '127.0.0.1', grpcHostname: '127.0.0.1', httpPort: 0, grpcPort: 0, onTrace });
  await collector.start();
  const ports: Record<Protocol, number> = { 'http/protobuf': Number(collector.httpUrl!.port), grpc: Number(collector.grpcUrl!.port) };
  const total = opts.smoke ? 4_096 : 40_960;
  const rounds = opts.smoke ? 1 : 3;
  const [upMs, downMs] = opts.smoke ? [300, 500] : [2_000, 10_000];
  try {
    const rows: (string | number)[][] = [];
    for (const protocol of ['http/protobuf', 'grpc'] as const) {
      const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: ports[protocol] } });
      const rates: Record<Flavour, number[]> = { holdfast: [], plain: [] };
      for (let round = 0; round < rounds; round++) {
        for (const flavour of round % 2 === 0 ? (['plain', 'holdfast'] as const) : (['holdfast', 'plain'] as const)) {
          rates[flavour].push(await throughput(flavour, protocol, proxy, total));
        }
      }
      const outages: Record<Flavour, OutageResult> = {
        plain: await outage('plain', protocol, proxy, upMs, downMs),
        holdfast: await outage('holdfast', protocol, proxy, upMs, downMs),
      };
      await proxy.close();
      const plainRate = median(rates.plain);
      for (const flavour of ['plain', 'holdfast'] as const) {
        const o = outages[flavour];
        const produced = Math.round(((2 * upMs + downMs) / 1000) * 2000);
        rows.push([
          protocol,
          flavour,
          fmt(median(rates[flavour])),
          fmt(median(rates[flavour]) / plainRate, 2),
          `${fmt(o.lost)} / ~${fmt(produced)}`,
          fmt(o.duplicates),
          fmt(o.loopP99Ms, 1),
          fmt(o.heapMb, 1),
        ]);
      }
    }
    printTable(['protocol', 'exporter', 'spans/s (no faults, median)', 'ratio to plain', `lost in a ${downMs / 1000} s outage`, 'duplicates', 'loop delay p99 ms', 'peak heap growth MB'], rows);
  } finally {
    await collector.close();
  }
}
