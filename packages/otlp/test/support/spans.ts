import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

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
