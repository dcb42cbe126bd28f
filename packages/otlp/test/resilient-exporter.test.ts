import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
        protocol === 'grpc'
          ? new GrpcTraceExporter({ url: collector.grpcUrl })
          : new ProtoTraceExporter({ url: `${collector.httpUrl}/v1/traces` });
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

  it('leaves no socket or timer behind once the exporters are shut down and the collector is gone', async () => {
    await collector.close();
    expect(await settleHandles(baseline)).toEqual([]);
  });
});
