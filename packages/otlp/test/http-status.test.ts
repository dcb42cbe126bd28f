import { describe, expect, it } from 'vitest';
import { exponential } from '@holdfast/core';
import { createTraceExporter, type MisconfiguredEvent } from '@holdfast/otlp';
import { settleHandles } from './support/process-faults.js';
import { collectorSuite } from './support/suite.js';
import { sendAndShutDown, tracerWith } from './support/spans.js';
import { startStatusFront } from './support/status-front.js';

/**
 * What the collector answers, read right: 429/503 are retried (Retry-After
 * honoured) and the batch then arrives once; 401, 404 and 413 are reported
 * once with the hint for the fix, cost no retries, and lose their batches
 * with drop counters. And gzip compression, which the same front decodes.
 */
describe('OTLP/HTTP status answers from a real server', () => {
  const suite = collectorSuite();
  const { faults } = suite;

  const options = {
    env: {},
    timeoutMillis: 2_000,
    schedule: exponential({ initialMs: 20, maxMs: 50 }),
    breaker: false as const,
    shutdownTimeoutMs: 10_000,
  };

  for (const [status, headers] of [
    [503, { 'retry-after': '1' }],
    [429, {}],
  ] as const) {
    it(`${status}${'retry-after' in headers ? ' with Retry-After: 1' : ''}: retried${'retry-after' in headers ? ' no sooner than the collector asked' : ''}, then every span arrives once`, async () => {
      suite.collector.spans.clear();
      const front = await startStatusFront(suite.collector.httpPort, status, 1, headers);
      const exporter = createTraceExporter({ ...options, endpoint: front.url });
      const { ids, retries } = await sendAndShutDown(exporter, 100);
      await front.close();

      const stats = exporter.stats();
      expect(front.requests).toHaveLength(2);
      expect(retries.map((r) => r.fault.code)).toEqual([`HTTP_${status}`]);
      expect(retries[0]?.fault.transient).toBe(true);
      // Without Retry-After the schedule waits 20-50 ms; with it, about a second.
      const gap = front.requests[1]! - front.requests[0]!;
      if ('retry-after' in headers) expect(gap).toBeGreaterThanOrEqual(900);
      else expect(gap).toBeLessThan(900);
      expect(stats.exported).toBe(100);
      expect(stats.dropped.total).toBe(0);
      expect(ids.filter((id) => suite.collector.spans.get(id) !== 1)).toEqual([]);
    });
  }

  for (const [status, hint] of [
    [401, /credentials.*OTEL_EXPORTER_OTLP_HEADERS/],
    [404, /no OTLP receiver at this path/],
    [413, /too large.*maxExportBatchSize/],
  ] as const) {
    it(`${status}: one misconfigured event with the hint, no retry, every batch dropped as rejected`, async () => {
      suite.collector.spans.clear();
      const front = await startStatusFront(suite.collector.httpPort, status, Infinity);
      const exporter = createTraceExporter({ ...options, endpoint: front.url });
      const misconfigured: MisconfiguredEvent[] = [];
      exporter.on('misconfigured', (event) => void misconfigured.push(event));
      const app = tracerWith(exporter, { scheduledDelayMillis: 20 });
      for (let i = 0; i < 3; i++) {
        app.emit(50);
        await app.provider.forceFlush();
        await exporter.forceFlush();
      }
      await app.provider.shutdown();
      await front.close();

      const stats = exporter.stats();
      expect(front.requests).toHaveLength(3);
      expect(misconfigured).toHaveLength(1);
      expect(misconfigured[0]?.fault).toMatchObject({ kind: 'http-status', code: `HTTP_${status}`, status, transient: false });
      expect(misconfigured[0]?.fault.hint).toMatch(hint);
      expect(stats.retried).toBe(0);
      expect(stats.dropped.rejected).toBe(150);
      expect(suite.collector.spans.size).toBe(0);
    });
  }

  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    for (const [how, compression] of [
      ['option', { compression: 'gzip' as const }],
      ['OTEL_EXPORTER_OTLP_COMPRESSION', { env: { OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' } }],
    ] as const) {
      it(`${protocol} with gzip from the ${how}: every request is gzipped, every span arrives once`, async () => {
        suite.collector.spans.clear();
        const front = await startStatusFront(suite.collector.httpPort, 200, 0);
        const exporter = createTraceExporter({ ...options, protocol, endpoint: front.url, ...compression });
        const app = tracerWith(exporter, { scheduledDelayMillis: 20 });
        app.emit(300);
        await app.provider.shutdown();
        await front.close();

        expect(front.encodings.length).toBeGreaterThan(0);
        expect(front.encodings.every((e) => e === 'gzip')).toBe(true);
        expect(exporter.stats().exported).toBe(300);
        expect(app.ids.filter((id) => suite.collector.spans.get(id) !== 1)).toEqual([]);
      });
    }
  }

  it('nothing escaped to the process, and nothing stays open', async () => {
    expect(faults.uncaught).toEqual([]);
    expect(faults.unhandled).toEqual([]);
    await suite.collector.close();
    expect(await settleHandles(suite.baseline)).toEqual([]);
  });
});
