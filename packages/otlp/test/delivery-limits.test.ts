import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it, vi } from 'vitest';
import { createChaosProxy } from '@holdfast/chaos';
import { exponential } from '@holdfast/core';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  createTraceExporter,
  resilientExporter,
  type BatchDropEvent as DropEvent,
  type BreakerEvent,
  type OtlpExporterOptions,
} from '@holdfast/otlp';
import { settleHandles } from './support/process-faults.js';
import { collectorSuite } from './support/suite.js';
import { tracerWith } from './support/spans.js';

/**
 * The wrapper's own limits under real faults: the bounded queue while the
 * collector is unreachable (which batch a full queue loses, each loss an
 * event and a counter), the circuit breaker (a dead collector stops costing
 * connections), shutdown() and forceFlush() deadlines against a collector
 * that stalls, and the debug log and diagnostics channels (never a secret).
 */
describe('queue bound, breaker, deadlines and self-telemetry (chaos proxy)', () => {
  const suite = collectorSuite();
  const { faults } = suite;

  const fast = { env: {}, timeoutMillis: 500, schedule: exponential({ initialMs: 20, maxMs: 60 }) } satisfies OtlpExporterOptions;

  for (const overflow of ['drop-oldest', 'drop-newest'] as const) {
    it(`a full queue while the collector is refused (${overflow}): every lost batch is a drop event and a counter, the rest arrives once`, async () => {
      suite.collector.spans.clear();
      const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: suite.collector.httpPort } });
      await proxy.disable();
      const exporter = createTraceExporter({
        ...fast,
        endpoint: proxy.url('http'),
        queue: { maxItems: 3, overflow },
        concurrency: 1,
        breaker: false,
        shutdownTimeoutMs: 10_000,
      });
      const drops: DropEvent[] = [];
      exporter.on('drop', (event) => void drops.push(event));
      const app = tracerWith(exporter, { scheduledDelayMillis: 10_000 });
      // Eight batches of 100: one in flight (retrying), three queued, four over the bound.
      const batches: string[][] = [];
      let refused = 0;
      for (let i = 0; i < 8; i++) {
        app.emit(100);
        // A batch the queue refuses is reported to the SDK as FAILED, which its forceFlush() passes on.
        await app.provider.forceFlush().catch(() => {
          refused++;
        });
        batches.push(app.ids.slice(-100));
      }
      expect(refused).toBe(overflow === 'drop-newest' ? 4 : 0);
      expect(exporter.stats().queued.batches).toBe(3);
      await proxy.enable();
      await app.provider.shutdown();
      await proxy.close();

      const stats = exporter.stats();
      const arrived = batches.map((ids) => ids.filter((id) => suite.collector.spans.get(id) === 1).length);
      // The first batch was in flight, never in the queue; drop-oldest loses the queue's oldest, drop-newest refuses the newcomers.
      expect(arrived).toEqual(overflow === 'drop-oldest' ? [100, 0, 0, 0, 0, 100, 100, 100] : [100, 100, 100, 100, 0, 0, 0, 0]);
      expect(stats.dropped.overflow).toBe(400);
      expect(stats.dropped.total).toBe(400);
      expect(drops.map((d) => [d.reason, d.items])).toEqual(Array.from({ length: 4 }, () => ['overflow', 100]));
      expect(stats.exported).toBe(400);
      expect([...suite.collector.spans.values()].every((n) => n === 1)).toBe(true);
    });
  }

  it('the byte bound, a batch larger than it, and maxBatchAgeMs: each loss has its reason, an event and a counter', async () => {
    suite.collector.spans.clear();
    const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: suite.collector.httpPort } });
    await proxy.disable();
    // The estimate for these spans (no attributes or events) is 200 bytes each: 20 000 per batch of 100.
    const exporter = createTraceExporter({
      ...fast,
      endpoint: proxy.url('http'),
      queue: { maxBytes: 45_000 },
      concurrency: 1,
      breaker: false,
      maxBatchAgeMs: 400,
      shutdownTimeoutMs: 10_000,
    });
    const drops: DropEvent[] = [];
    exporter.on('drop', (event) => void drops.push(event));
    const app = tracerWith(exporter, { scheduledDelayMillis: 10_000 });
    let refused = 0;
    const flush = () =>
      app.provider.forceFlush().catch(() => {
        refused++;
      });
    // One batch in flight, two fit in 45 000 bytes, the fourth pushes the oldest queued one out.
    for (let i = 0; i < 4; i++) {
      app.emit(100);
      await flush();
    }
    expect(exporter.stats().dropped.overflow).toBe(100);
    // 300 spans (60 000 bytes) cannot fit even in an empty queue: refused at once.
    app.emit(300);
    await flush();
    expect(exporter.stats().dropped['too-large']).toBe(300);
    expect(refused).toBe(1);
    // The collector stays away past maxBatchAgeMs: every batch still waiting expires.
    const started = Date.now();
    while (exporter.stats().dropped.expired < 300 && Date.now() - started < 5_000) await new Promise((r) => setTimeout(r, 25));
    expect(exporter.stats().dropped.expired).toBe(300);
    expect(exporter.stats().queued.batches).toBe(0);
    await proxy.enable();
    app.emit(100);
    await app.provider.shutdown();
    await proxy.close();

    const stats = exporter.stats();
    expect(stats.dropped).toMatchObject({ overflow: 100, 'too-large': 300, rejected: 0, expired: 300, closed: 0, total: 700 });
    expect(drops.map((d) => d.reason).sort()).toEqual(['expired', 'expired', 'expired', 'overflow', 'too-large']);
    expect(drops.reduce((sum, d) => sum + d.items, 0)).toBe(700);
    expect(stats.exported).toBe(100);
    expect(app.ids.filter((id) => suite.collector.spans.has(id))).toEqual(app.ids.slice(-100));
  });

  it('the breaker opens on a collector that resets every connection, so retries stop costing connections, and closes when it is back', async () => {
    suite.collector.spans.clear();
    /** Connections a 1.5 s reset period costs one exporter, and the exporter. */
    const attemptsDuring = async (breaker: OtlpExporterOptions['breaker']) => {
      const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: suite.collector.httpPort } });
      await proxy.disable({ mode: 'reset' });
      const exporter = createTraceExporter({ ...fast, endpoint: proxy.url('http'), budget: false, breaker, shutdownTimeoutMs: 10_000 });
      const states: BreakerEvent['state'][] = [];
      exporter.on('breaker', (event) => void states.push(event.state));
      const app = tracerWith(exporter, { scheduledDelayMillis: 20 });
      app.emit(400);
      await app.provider.forceFlush();
      await new Promise((r) => setTimeout(r, 1_500));
      const attempts = proxy.stats().connections.rejected;
      const during = exporter.stats();
      await proxy.enable();
      await app.provider.shutdown();
      await proxy.close();
      return { attempts, during, states, stats: exporter.stats(), ids: app.ids };
    };
    const without = await attemptsDuring(false);
    const withBreaker = await attemptsDuring({ minimumRequests: 3, resetTimeoutMs: 500 });

    expect(without.states).toEqual([]);
    expect(withBreaker.states[0]).toBe('open');
    expect(withBreaker.during.breaker).not.toBe('closed');
    expect(withBreaker.states.at(-1)).toBe('closed');
    // Without a breaker the two workers retry every 20-60 ms; with one, a probe every 500 ms.
    expect(without.attempts).toBeGreaterThan(20);
    expect(withBreaker.attempts).toBeLessThan(without.attempts / 3);
    for (const run of [without, withBreaker]) {
      expect(run.stats.dropped.total).toBe(0);
      expect(run.stats.exported).toBe(400);
      expect(run.ids.filter((id) => suite.collector.spans.get(id) !== 1)).toEqual([]);
    }
  });

  // gRPC: the call in flight is cancelled at the deadline and the channel closed (the handle check at the end).
  for (const protocol of ['http/protobuf', 'grpc'] as const) {
    it(`${protocol}: forceFlush() and shutdown() keep their deadlines while the collector stalls; what shutdown() could not deliver is dropped with events`, async () => {
      const proxy = await createChaosProxy({
        upstream: { host: '127.0.0.1', port: protocol === 'grpc' ? suite.collector.grpcPort : suite.collector.httpPort },
      });
      proxy.addToxic({ type: 'timeout', stream: 'upstream', attributes: { timeout: 0 } });
      const exporter = createTraceExporter({
        ...fast,
        protocol,
        endpoint: proxy.url('http'),
        timeoutMillis: 30_000,
        flushTimeoutMs: 200,
        shutdownTimeoutMs: 300,
      });
      const drops: DropEvent[] = [];
      exporter.on('drop', (event) => void drops.push(event));
      const app = tracerWith(exporter, { scheduledDelayMillis: 20 });
      app.emit(300);
      await app.provider.forceFlush();

      let started = performance.now();
      await exporter.forceFlush();
      const flushMs = performance.now() - started;
      started = performance.now();
      await app.provider.shutdown();
      const shutdownMs = performance.now() - started;
      // The stalled attempt was cut at the deadline (its socket closed, the gRPC call cancelled), not left to its 30 s timeout.
      const openAfterShutdown = await settledCount(() => proxy.stats().connections.open, 2_000);
      await proxy.close();

      const stats = exporter.stats();
      // Deadline plus room for a loaded CI machine; the stalled attempt's own timeout (30 s) is far away.
      expect(flushMs).toBeGreaterThanOrEqual(190);
      expect(flushMs).toBeLessThan(2_000);
      expect(shutdownMs).toBeLessThan(3_000);
      expect(openAfterShutdown).toBe(0);
      expect(stats.exported).toBe(0);
      expect(stats.dropped.closed).toBe(300);
      expect(drops.reduce((sum, d) => sum + d.items, 0)).toBe(300);
      expect(drops.every((d) => d.reason === 'closed')).toBe(true);
    });
  }

  it('debug log and diagnostics channels report retries and deliveries without the headers or URL credentials', async () => {
    suite.collector.spans.clear();
    const secret = 'sekret-api-key-123';
    const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: suite.collector.httpPort } });
    await proxy.disable();
    const lines: string[] = [];
    const published: unknown[] = [];
    const onMessage = (message: unknown): void => void published.push(message);
    for (const channel of ['holdfast:otlp', 'holdfast:drop', 'holdfast:breaker']) subscribe(channel, onMessage);
    try {
      const exporter = createTraceExporter({
        ...fast,
        endpoint: proxy.url('http').replace('http://', `http://user:${secret}@`),
        headers: { 'x-otlp-api-key': secret, authorization: `Bearer ${secret}` },
        name: 'debug-test',
        debug: (line) => void lines.push(line),
        shutdownTimeoutMs: 10_000,
      });
      const app = tracerWith(exporter, { scheduledDelayMillis: 20 });
      app.emit(50);
      await app.provider.forceFlush();
      await new Promise((r) => setTimeout(r, 300));
      await proxy.enable();
      await app.provider.shutdown();
      await proxy.close();
      expect(exporter.stats().exported).toBe(50);
    } finally {
      for (const channel of ['holdfast:otlp', 'holdfast:drop', 'holdfast:breaker']) unsubscribe(channel, onMessage);
    }
    const mine = published.filter((m) => (m as { name?: string }).name === 'debug-test') as { event: string }[];
    expect(mine.map((m) => m.event)).toContain('retry');
    expect(mine.map((m) => m.event)).toContain('delivered');
    expect(lines.some((line) => line.startsWith("holdfast otlp 'debug-test': retry attempt 2"))).toBe(true);
    expect(lines.join('\n')).not.toContain(secret);
    expect(
      JSON.stringify(mine, (_key, value: unknown) => (value instanceof Error ? `${value.message} ${String(value.cause)}` : value)),
    ).not.toContain(secret);
  });

  it("OTEL_LOG_LEVEL=debug in the factories' env turns the debug log on (stderr)", async () => {
    const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: suite.collector.httpPort } });
    await proxy.disable();
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const exporter = createTraceExporter({
        ...fast,
        env: { OTEL_LOG_LEVEL: 'debug' },
        endpoint: proxy.url('http'),
        name: 'env-debug',
        shutdownTimeoutMs: 100,
      });
      const retried = new Promise<void>((resolve) => exporter.on('retry', () => resolve()));
      const app = tracerWith(exporter, { scheduledDelayMillis: 20 });
      app.emit(10);
      await app.provider.forceFlush();
      await retried;
      await app.provider.shutdown();
    } finally {
      spy.mockRestore();
      await proxy.close();
    }
    expect(written.some((line) => line.startsWith("holdfast otlp 'env-debug': retry attempt 2"))).toBe(true);
  });

  it('refuses a wrong option at construction, naming the option, what it accepts and the value; an unknown one with a hint', () => {
    const inner = new ProtoTraceExporter({ url: `${suite.collector.httpUrl}/v1/traces` });
    expect(() => resilientExporter(inner, { queue: { maxItems: 0 } })).toThrow(
      "resilientExporter: option 'queue.maxItems' must be an integer >= 1 or Infinity, got 0",
    );
    expect(() => resilientExporter(inner, { queue: { overflow: 'drop-random' as never } })).toThrow(
      /option 'queue.overflow' must be 'drop-oldest' or 'drop-newest', got .*drop-random/,
    );
    expect(() => resilientExporter(inner, { concurrency: 100 })).toThrow(/option 'concurrency' must be an integer from 1 to 64, got 100/);
    expect(() => resilientExporter(inner, { budget: 10 as never })).toThrow(
      /option 'budget' must be RetryBudget options .* or false, or a RetryBudget, got 10/,
    );
    // The budget's options have the HTTP client's shape, checked under the name the user wrote.
    expect(() => resilientExporter(inner, { budget: { ratios: 0.2 } } as never)).toThrow("unknown option 'budget.ratios' (did you mean ratio?)");
    expect(resilientExporter(inner, { budget: { ratio: 0.2 } })).toBeDefined();
    expect(() => resilientExporter(inner, { maxBatchAge: 10 } as never)).toThrow(
      "resilientExporter: unknown option 'maxBatchAge' (did you mean maxBatchAgeMs?)",
    );
    expect(() => resilientExporter(inner, { queue: { maxBatches: 10 } } as never)).toThrow("unknown option 'queue.maxBatches'");
    expect(() => createTraceExporter({ env: {}, timeout: 10 } as never)).toThrow("createTraceExporter: unknown option 'timeout'");
    expect(() => createTraceExporter({ env: {}, endpont: 'http://x' } as never)).toThrow('(did you mean endpoint?)');
    expect(() => resilientExporter({} as never)).toThrow(TypeError);
    void inner.shutdown();
  });

  it('the old names work for one release, with one DeprecationWarning each: maxQueueBatches/maxQueueBytes/overflow, dropped.shutdown', async () => {
    const warnings: (Error & { code?: string })[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const inner = new ProtoTraceExporter({ url: `${suite.collector.httpUrl}/v1/traces` });
      const exporter = resilientExporter(inner, { maxQueueBatches: 2, maxQueueBytes: 1_000_000, overflow: 'drop-newest' });
      const stats = exporter.stats();
      expect((stats.dropped as unknown as { shutdown: number }).shutdown).toBe(stats.dropped.closed);
      await exporter.shutdown();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'DeprecationWarning').map((w) => w.code)).toEqual(['HOLDFAST_DEP012', 'HOLDFAST_DEP013']);
  });

  it('nothing escaped to the process, and nothing stays open', async () => {
    expect(faults.uncaught).toEqual([]);
    expect(faults.unhandled).toEqual([]);
    await suite.collector.close();
    expect(await settleHandles(suite.baseline)).toEqual([]);
  });
});

/** Polls `count` until it is 0 or `withinMs` passed; returns the last value. */
async function settledCount(count: () => number, withinMs: number): Promise<number> {
  const until = Date.now() + withinMs;
  while (count() > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
  return count();
}
