import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { afterAll, describe, expect, it } from 'vitest';
import { resilientExporter } from '@holdfast/otlp';
import { startCollector } from './support/collector.js';
import { watchProcessFaults } from './support/process-faults.js';
import { expectEverySpanDelivered, tracerWith } from './support/spans.js';

describe('a collector restart (down 5 s) while the app produces 2 000 spans/s', () => {
  const faults = watchProcessFaults();
  afterAll(() => faults.stop());

  for (const protocol of ['http/protobuf', 'grpc'] as const) {
    it(`${protocol}: every span arrives, duplicates stay within the reported possible duplicates, nothing escapes`, async () => {
      let collector = await startCollector();
      const { httpPort, grpcPort, spans } = collector;
      const inner =
        protocol === 'grpc'
          ? new GrpcTraceExporter({ url: collector.grpcUrl, timeoutMillis: 2_000 })
          : new ProtoTraceExporter({ url: `${collector.httpUrl}/v1/traces`, timeoutMillis: 2_000 });
      const exporter = resilientExporter(inner, { name: `restart ${protocol}`, shutdownTimeoutMs: 15_000 });
      const app = tracerWith(exporter);

      await app.produce(2_000, 500);
      await collector.close();
      await app.produce(2_000, 5_000);
      collector = await startCollector({ httpPort, grpcPort }, collector);
      await app.produce(2_000, 500);
      await app.provider.shutdown();
      await collector.close();

      const stats = exporter.stats();
      expect(app.ids.length).toBeGreaterThan(10_000);
      const duplicates = expectEverySpanDelivered(app.ids, spans, stats);
      expect(faults.uncaught).toEqual([]);
      expect(faults.unhandled).toEqual([]);
      console.log(
        `${protocol}: ${app.ids.length} spans, retried ${stats.retried}, possible duplicates ${stats.possibleDuplicates}, duplicates ${duplicates}`,
      );
    }, 40_000);
  }
});
