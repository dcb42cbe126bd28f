export type { BatchExporter, BatchOf, MetricSelectorsOf } from './exporter-shape.js';
export type {
  ResilientExporterEvents,
  ResilientExporterStats,
  BatchDropEvent,
  BatchRetryEvent,
  DeliveredEvent,
  MisconfiguredEvent,
  BreakerEvent,
} from './delivery-events.js';
export type { ResilientExporterOptions, BatchQueueOptions } from './resilient-options.js';
export { classifyExportError, type OtlpFaultContext, type OtlpProtocol } from './otlp-fault.js';
export { ResilientExporter, OtlpExportError, resilientExporter, type ExporterContext } from './resilient-exporter.js';
export { resolveOtlpConnection, type OtlpConnectionOptions, type OtlpConnection, type OtlpSignal } from './otlp-config.js';
export { createTraceExporter, createMetricExporter, createLogExporter, type OtlpExporterOptions } from './otlp-factories.js';

// Old names, kept for one release (issue 10): core's DropReason, and the drop payload under its new name.
/* eslint-disable @typescript-eslint/no-deprecated -- re-exported so that code written against them still compiles */
export type { DropReason, DropEvent } from './delivery-events.js';
/* eslint-enable @typescript-eslint/no-deprecated */
