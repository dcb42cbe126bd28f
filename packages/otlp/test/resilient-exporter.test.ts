import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exponential } from '@holdfast/core';
import { resilientExporter } from '@holdfast/otlp';
import { startCollector, type Collector } from './support/collector.js';
import { openHandles, settleHandles, watchProcessFaults } from './support/process-faults.js';
import { tracerWith } from './support/spans.js';

describe('resilientExporter against a real collector', () => {
  let collector: Collector;
  const faults = watchProcessFaults();
  let baseline: string[];

  beforeAll(async () => {
    baseline = openHandles();
    collector = await startCollector();
  });
  afterAll(() => {
    faults.stop();
  });

  for (const protocol of ['http/protobuf', 'grpc'] as const) {
    it(`delivers every span exactly once over ${protocol}, and shutdown() leaves nothing open`, async () => {
      collector.spans.clear();
      const inner =
        protocol === 'grpc' ? new GrpcTraceExporter({ url: collector.grpcUrl }) : new ProtoTraceExporter({ url: `${collector.httpUrl}/v1/traces` });
      const exporter = resilientExporter(inner, { name: protocol });
      const app = tracerWith(exporter);
      // Batches of 500 with a turn of the event loop between them, as a service would produce (the SDK's own 2 048-span queue is not the subject here).
      for (let i = 0; i < 6; i++) {
        app.emit(500);
        await new Promise((r) => setImmediate(r));
      }
      await app.provider.shutdown();

      expect(app.ids.filter((id) => collector.spans.get(id) !== 1)).toEqual([]);
      const stats = exporter.stats();
      expect(stats.exported).toBe(3_000);
      expect(stats.dropped.total).toBe(0);
      expect(stats.retried).toBe(0);
      expect(faults.uncaught).toEqual([]);
      expect(faults.unhandled).toEqual([]);
    });
  }

  it('a wrapped exporter that throws, calls back twice or fails without an error never reaches the app: export() calls back once, every batch is accounted for', async () => {
    let calls = 0;
    const hostile = {
      export(_spans: unknown[], done: (result: { code: number; error?: Error }) => void): void {
        calls++;
        if (calls === 1) throw new Error('exporter bug');
        if (calls === 2) return done({ code: 1 });
        done({ code: 0 });
        done({ code: 1, error: new Error('second callback') });
      },
      shutdown(): Promise<void> {
        throw new Error('shutdown bug');
      },
    };
    const exporter = resilientExporter(hostile as never, {
      name: 'hostile',
      schedule: exponential({ initialMs: 10, maxMs: 20 }),
      breaker: false,
      budget: false,
    });
    const results: number[] = [];
    for (let i = 0; i < 3; i++) {
      exporter.export([{ name: `span ${i}` }] as never, (result) => void results.push(result.code));
      await exporter.forceFlush();
    }
    await exporter.shutdown();
    const stats = exporter.stats();
    // Each batch was queued (SUCCESS to the SDK at once). An exception and a FAILED without an error are not
    // faults a retry can fix: those batches are dropped as rejected, with events; the double callback counts once.
    expect(results).toEqual([0, 0, 0]);
    expect(calls).toBe(3);
    expect(stats.exported).toBe(1);
    expect(stats.dropped.rejected).toBe(2);
    expect(stats.retried).toBe(0);
    expect(faults.uncaught).toEqual([]);
    expect(faults.unhandled).toEqual([]);
  });

  it('leaves no socket or timer behind once the exporters are shut down and the collector is gone', async () => {
    await collector.close();
    expect(await settleHandles(baseline)).toEqual([]);
  });
});
