import type { ExportResult } from '@opentelemetry/core';

/**
 * What the OpenTelemetry SDK's `SpanExporter`, `PushMetricExporter` and
 * `LogRecordExporter` have in common: one batch in, one `ExportResult` out
 * through a callback. Typed structurally so that any exporter (the OTLP ones,
 * a vendor's, a test's) can be wrapped without this package pinning an SDK.
 */
export interface BatchExporter<Batch> {
  export(batch: Batch, resultCallback: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/** The batch type an exporter takes: `ReadableSpan[]`, `ResourceMetrics`, `ReadableLogRecord[]`. */
export type BatchOf<E> = E extends BatchExporter<infer B> ? B : never;

/** The metric exporter's aggregation choices, which a wrapper must pass through unchanged. */
export type MetricSelectorsOf<E> = Pick<E, Extract<keyof E, 'selectAggregationTemporality' | 'selectAggregation'>>;
