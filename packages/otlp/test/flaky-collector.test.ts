import { describe, expect, it } from 'vitest';
import { createChaosProxy } from '@holdfast/chaos';
import { createTraceExporter, type BatchRetryEvent, type BreakerEvent, type BatchDropEvent } from '@holdfast/otlp';
import { settleHandles } from './support/process-faults.js';
import { expectEverySpanDelivered, tracerWith } from './support/spans.js';
import { collectorSuite } from './support/suite.js';

/**
 * Issue 9: a collector path that resets a share of its new connections (the
 * first bytes of each export request meet a real RST) and recycles the
 * healthy ones every 50-300 ms, while the app produces spans; every exporter
 * keeps its defaults (breaker and budget on). Flaky is not down: no span may
 * be lost, and nothing waiting out a backoff may be dropped at shutdown().
 */

/** mulberry32, so the proxy draws the same connections to reset on every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('a flaky collector path (chaos proxy)', () => {
  const suite = collectorSuite();

  for (const protocol of ['http/protobuf', 'grpc'] as const) {
    for (const toxicity of [0.3, 0.5]) {
      it(`${protocol}: ${toxicity * 100} % of new connections reset, the rest recycled every 50-300 ms: 0 spans lost`, async () => {
        suite.collector.spans.clear();
        const random = seeded(Math.round(toxicity * 1000));
        const proxy = await createChaosProxy({
          upstream: { host: '127.0.0.1', port: protocol === 'grpc' ? suite.collector.grpcPort : suite.collector.httpPort },
          random,
        });
        proxy.addToxic({ type: 'reset_peer', stream: 'upstream', toxicity });
        const recycling = new Set<NodeJS.Timeout>();
        proxy.on('connection', ({ id }) => {
          const timer = setTimeout(
            () => {
              recycling.delete(timer);
              proxy.resetConnection(id);
            },
            50 + random() * 250,
          );
          recycling.add(timer);
        });
        const exporter = createTraceExporter({ protocol, endpoint: proxy.url('http'), env: {} });
        const retries: BatchRetryEvent[] = [];
        const drops: BatchDropEvent[] = [];
        const breaker: BreakerEvent[] = [];
        exporter.on('retry', (event) => void retries.push(event));
        exporter.on('drop', (event) => void drops.push(event));
        exporter.on('breaker', (event) => void breaker.push(event));
        const app = tracerWith(exporter, { scheduledDelayMillis: 20 });
        await app.produce(2_000, 1_000);
        // shutdown() comes while batches may still be waiting out a backoff: they must go, not be dropped.
        await app.provider.shutdown();
        for (const timer of recycling) clearTimeout(timer);
        await proxy.close();

        const stats = exporter.stats();
        expect(drops).toEqual([]);
        expectEverySpanDelivered(app.ids, suite.collector.spans, stats);
        // The faults were real: connections were reset and batches retried.
        expect(proxy.stats().resets).toBeGreaterThan(5);
        expect(retries.length).toBeGreaterThan(0);
        expect(suite.faults.uncaught).toEqual([]);
        expect(suite.faults.unhandled).toEqual([]);
      });
    }
  }

  it('a dead collector opens the breaker after 10 failed attempts in a row; batches wait for it instead of being dropped', async () => {
    suite.collector.spans.clear();
    const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: suite.collector.httpPort } });
    await proxy.disable({ mode: 'reset' });
    const exporter = createTraceExporter({ protocol: 'http/protobuf', endpoint: proxy.url('http'), env: {}, breaker: { resetTimeoutMs: 300 } });
    const opened: BreakerEvent[] = [];
    exporter.on('breaker', (event) => {
      if (event.state === 'open') opened.push(event);
    });
    const app = tracerWith(exporter, { scheduledDelayMillis: 20 });
    app.emit(600);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(opened.length).toBeGreaterThan(0);
    expect(exporter.stats().breaker).not.toBe('closed');
    // While it is open the batches wait (few attempts reach the dead collector), and nothing is lost.
    expect(proxy.stats().connections.rejected).toBeLessThan(60);
    expect(exporter.stats().dropped.total).toBe(0);
    await proxy.enable();
    await app.provider.shutdown();
    await proxy.close();
    expectEverySpanDelivered(app.ids, suite.collector.spans, exporter.stats());
  });

  it('leaves no socket or timer behind once exporters, proxies and the collector are closed', async () => {
    await suite.collector.close();
    expect(await settleHandles(suite.baseline)).toEqual([]);
  });
});
