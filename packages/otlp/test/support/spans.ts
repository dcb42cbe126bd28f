import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { expect } from 'vitest';
import type { BatchRetryEvent, ResilientExporter, ResilientExporterStats } from '@holdfast/otlp';

/** The real SDK pipeline a Node service runs: BasicTracerProvider → BatchSpanProcessor → exporter. */
export function tracerWith(exporter: SpanExporter, options: { maxQueueSize?: number; scheduledDelayMillis?: number } = {}) {
  const processor = new BatchSpanProcessor(exporter, {
    maxQueueSize: options.maxQueueSize ?? 2048,
    maxExportBatchSize: 512,
    scheduledDelayMillis: options.scheduledDelayMillis ?? 200,
  });
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  const tracer = provider.getTracer('holdfast-otlp-test');
  const ids: string[] = [];
  return {
    provider,
    ids,
    /** Ends `count` spans now; returns their ids. */
    emit(count: number): void {
      for (let i = 0; i < count; i++) {
        const span = tracer.startSpan(`op-${ids.length}`);
        ids.push(span.spanContext().spanId);
        span.end();
      }
    },
    /** Produces `perSecond` spans a second for `ms`, in 10 ms ticks. */
    async produce(perSecond: number, ms: number): Promise<void> {
      const perTick = Math.max(1, Math.round(perSecond / 100));
      const until = Date.now() + ms;
      let next = Date.now();
      while (Date.now() < until) {
        this.emit(perTick);
        next += 10;
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      }
    },
  };
}

/** Ends `count` spans through `exporter` with the real SDK and shuts the pipeline down; returns their ids and the retries reported. */
export async function sendAndShutDown(
  exporter: SpanExporter & Pick<ResilientExporter<unknown>, 'on'>,
  count: number,
): Promise<{ ids: string[]; retries: BatchRetryEvent[] }> {
  const retries: BatchRetryEvent[] = [];
  exporter.on('retry', (event) => void retries.push(event));
  const app = tracerWith(exporter, { scheduledDelayMillis: 20 });
  app.emit(count);
  await app.provider.shutdown();
  return { ids: app.ids, retries };
}

/**
 * Every span the app ended reached the collector, none was dropped, and the
 * copies that arrived twice stay within what the exporter counted as possible
 * duplicates. Returns how many arrived twice.
 */
export function expectEverySpanDelivered(ids: readonly string[], spans: ReadonlyMap<string, number>, stats: ResilientExporterStats): number {
  const missing = ids.filter((id) => (spans.get(id) ?? 0) === 0);
  const duplicates = [...spans.values()].reduce((sum, n) => sum + n - 1, 0);
  expect(missing).toEqual([]);
  expect(stats.dropped.total).toBe(0);
  expect(duplicates).toBeLessThanOrEqual(stats.possibleDuplicates);
  expect(stats.exported).toBe(ids.length);
  return duplicates;
}
