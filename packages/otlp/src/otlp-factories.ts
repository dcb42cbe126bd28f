import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPMetricExporterBase } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { CompressionAlgorithm, OTLPExporterBase, createOtlpNetworkExportDelegate } from '@opentelemetry/otlp-exporter-base';
import { createOtlpHttpExporterMetrics } from '@opentelemetry/otlp-exporter-base/node-http';
import { createEmptyMetadata, createInsecureCredentials, createSslCredentials } from '@opentelemetry/otlp-grpc-exporter-base';
import {
  JsonLogsSerializer,
  JsonMetricsSerializer,
  JsonTraceSerializer,
  LogsExporterMetricsHelper,
  MetricsExporterMetricsHelper,
  ProtobufLogsSerializer,
  ProtobufMetricsSerializer,
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
  type IExporterMetricsHelper,
  type ISerializer,
} from '@opentelemetry/otlp-transformer';
import { OtlpHttpTransport } from './http-transport.js';
import { resolveOtlpConnection, type OtlpConnection, type OtlpConnectionOptions, type OtlpSignal } from './otlp-config.js';
import { debugFromEnv } from './debug-level.js';
import type { ResilientExporterOptions } from './resilient-options.js';
import { resilientExporter, type ResilientExporter } from './resilient-exporter.js';
import type { BatchOf, MetricSelectorsOf } from './exporter-shape.js';
import type { SpoolCodec } from './disk-spool.js';

/**
 * The OTel OTLP exporters for one protocol, configured from options and the
 * standard environment, each wrapped by `resilientExporter()`. TLS material
 * goes to the agent (HTTP) or the channel credentials (gRPC); certificate
 * verification stays on: there is no option to turn it off.
 */
export type OtlpExporterOptions = OtlpConnectionOptions & ResilientExporterOptions;

/**
 * An OTel exporter whose transport sends each batch once (see OtlpHttpTransport):
 * the OTel exporter keeps its serializer, concurrency bound and self-metrics.
 */
function httpExporter<Batch>(
  connection: OtlpConnection,
  serializer: ISerializer<Batch, unknown>,
  componentType: string,
  metricsHelper: IExporterMetricsHelper<Batch>,
): { delegate: ReturnType<typeof createOtlpNetworkExportDelegate<Batch, unknown>>; transport: OtlpHttpTransport } {
  const contentType = connection.protocol === 'http/json' ? 'application/json' : 'application/x-protobuf';
  const transport = new OtlpHttpTransport(connection, contentType);
  const delegate = createOtlpNetworkExportDelegate(
    { timeoutMillis: connection.timeoutMillis, concurrencyLimit: 64, compression: connection.compression },
    serializer,
    createOtlpHttpExporterMetrics(componentType, metricsHelper, connection.url, undefined),
    transport,
  );
  return { delegate, transport };
}

function grpcConfig(connection: OtlpConnection) {
  const metadata = createEmptyMetadata();
  for (const [key, value] of Object.entries(connection.headers)) metadata.set(key.toLowerCase(), value);
  const secure = connection.url.startsWith('https:') || connection.ca !== undefined || connection.cert !== undefined;
  return {
    url: connection.url,
    metadata,
    timeoutMillis: connection.timeoutMillis,
    compression: connection.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE,
    credentials: secure ? createSslCredentials(connection.ca, connection.key, connection.cert) : createInsecureCredentials(),
  };
}

function wrapOptions(signal: OtlpSignal, connection: OtlpConnection, options: OtlpExporterOptions): ResilientExporterOptions {
  // OTEL_LOG_LEVEL comes from the same place as the exporter variables (the `env` option, else process.env).
  const debug = options.debug ?? debugFromEnv(options.env ?? process.env);
  return { ...options, debug, name: options.name ?? `${signal} ${connection.protocol}` };
}

/** Checked before a gRPC channel exists, so a refused option leaves nothing open. */
function refuseGrpcSpool(options: OtlpExporterOptions): void {
  if (options.spoolDir !== undefined) {
    throw new RangeError(`resilientExporter: option 'spoolDir' needs protocol 'http/protobuf' or 'http/json' (the spool keeps OTLP/HTTP request bytes), got protocol 'grpc'`);
  }
}

type Spans = BatchOf<GrpcTraceExporter>;
type Metrics = BatchOf<GrpcMetricExporter>;
type Logs = BatchOf<GrpcLogExporter>;

/** What the spool needs from an HTTP exporter: the request bytes of a batch, and a way to send such bytes again. */
function codecFor<Batch>(signal: OtlpSignal, connection: OtlpConnection, serializer: ISerializer<Batch, unknown>, transport: OtlpHttpTransport): SpoolCodec<Batch> {
  return {
    kind: `${signal}.${connection.protocol === 'http/json' ? 'json' : 'pb'}`,
    serialize: (batch) => serializer.serializeRequest(batch),
    async send(bytes) {
      const response = await transport.send(bytes, connection.timeoutMillis);
      if (response.status !== 'success') throw response.status === 'failure' ? response.error : new Error('retryable');
    },
  };
}

/** A trace exporter for `BatchSpanProcessor` / `NodeSDK({ traceExporter })`. */
export function createTraceExporter(options: OtlpExporterOptions = {}): ResilientExporter<Spans> {
  const connection = resolveOtlpConnection('traces', options);
  const context = { protocol: connection.protocol };
  if (connection.protocol === 'grpc') {
    refuseGrpcSpool(options);
    return resilientExporter(new GrpcTraceExporter(grpcConfig(connection)), wrapOptions('traces', connection, options), context);
  }
  const serializer = connection.protocol === 'http/json' ? JsonTraceSerializer : ProtobufTraceSerializer;
  const { delegate, transport } = httpExporter(connection, serializer, 'otlp_http_span_exporter', TraceExporterMetricsHelper);
  const inner = new OTLPExporterBase<Spans>(delegate);
  return resilientExporter(inner, wrapOptions('traces', connection, options), { ...context, spool: codecFor('traces', connection, serializer, transport), release: () => transport.shutdown() });
}

/** A metric exporter for `PeriodicExportingMetricReader`. */
export function createMetricExporter(options: OtlpExporterOptions = {}): ResilientExporter<Metrics> & MetricSelectorsOf<GrpcMetricExporter> {
  const connection = resolveOtlpConnection('metrics', options);
  const context = { protocol: connection.protocol };
  if (connection.protocol === 'grpc') {
    refuseGrpcSpool(options);
    return resilientExporter(new GrpcMetricExporter(grpcConfig(connection)), wrapOptions('metrics', connection, options), context);
  }
  const serializer = connection.protocol === 'http/json' ? JsonMetricsSerializer : ProtobufMetricsSerializer;
  const { delegate, transport } = httpExporter(connection, serializer, 'otlp_http_metric_exporter', MetricsExporterMetricsHelper);
  // The base class adds the temporality and aggregation selectors (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE).
  const inner = new OTLPMetricExporterBase(delegate);
  return resilientExporter(inner, wrapOptions('metrics', connection, options), { ...context, spool: codecFor('metrics', connection, serializer, transport), release: () => transport.shutdown() });
}

/** A log record exporter for `BatchLogRecordProcessor`. */
export function createLogExporter(options: OtlpExporterOptions = {}): ResilientExporter<Logs> {
  const connection = resolveOtlpConnection('logs', options);
  const context = { protocol: connection.protocol };
  if (connection.protocol === 'grpc') {
    refuseGrpcSpool(options);
    return resilientExporter(new GrpcLogExporter(grpcConfig(connection)), wrapOptions('logs', connection, options), context);
  }
  const serializer = connection.protocol === 'http/json' ? JsonLogsSerializer : ProtobufLogsSerializer;
  const { delegate, transport } = httpExporter(connection, serializer, 'otlp_http_log_exporter', LogsExporterMetricsHelper);
  const inner = new OTLPExporterBase<Logs>(delegate);
  return resilientExporter(inner, wrapOptions('logs', connection, options), { ...context, spool: codecFor('logs', connection, serializer, transport), release: () => transport.shutdown() });
}
