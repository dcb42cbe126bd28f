import { OTLPMetricExporterBase } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPExporterBase, createOtlpNetworkExportDelegate } from '@opentelemetry/otlp-exporter-base';
import { createOtlpHttpExporterMetrics } from '@opentelemetry/otlp-exporter-base/node-http';
import { createOtlpGrpcExporterMetrics } from '@opentelemetry/otlp-grpc-exporter-base';
import type { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import type { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import type { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
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
import { OtlpGrpcTransport } from './grpc-transport.js';
import { OtlpHttpTransport } from './http-transport.js';
import { checkOptions } from '@holdfast/core/internal';
import { connectionOptionRules, resolveOtlpConnection, type OtlpConnection, type OtlpConnectionOptions, type OtlpSignal } from './otlp-config.js';
import { debugFromEnv } from './debug-level.js';
import { resilientOptionRules, type ResilientExporterOptions } from './resilient-options.js';
import { resilientExporter, type ExporterContext, type ResilientExporter } from './resilient-exporter.js';
import type { BatchOf, MetricSelectorsOf } from './exporter-shape.js';
import type { SpoolCodec } from './disk-spool.js';

/**
 * The OTel OTLP exporters for one protocol, configured from options and the
 * standard environment, each wrapped by `resilientExporter()`. TLS material
 * goes to the agent (HTTP) or the channel credentials (gRPC); certificate
 * verification stays on: there is no option to turn it off.
 */
export type OtlpExporterOptions = OtlpConnectionOptions & ResilientExporterOptions;

type Transport = OtlpHttpTransport | OtlpGrpcTransport;

/**
 * An OTel exporter whose transport sends each batch once (OtlpHttpTransport,
 * OtlpGrpcTransport): the OTel exporter keeps its serializer, concurrency
 * bound and self-metrics. gRPC carries the same protobuf request bytes as
 * http/protobuf, so every protocol can keep a batch on disk as bytes, and a
 * spool written by one of the two is replayed by the other.
 */
function networkExporter<Batch>(
  signal: OtlpSignal,
  connection: OtlpConnection,
  serializers: { readonly json: ISerializer<Batch, unknown>; readonly protobuf: ISerializer<Batch, unknown> },
  componentType: string,
  metricsHelper: IExporterMetricsHelper<Batch>,
): { delegate: ReturnType<typeof createOtlpNetworkExportDelegate<Batch, unknown>>; codec: SpoolCodec<Batch>; transport: Transport } {
  const serializer = connection.protocol === 'http/json' ? serializers.json : serializers.protobuf;
  const options = { timeoutMillis: connection.timeoutMillis, concurrencyLimit: 64, compression: connection.compression };
  if (connection.protocol === 'grpc') {
    const transport = new OtlpGrpcTransport(signal, connection);
    const metrics = createOtlpGrpcExporterMetrics(`otlp_grpc_${componentType}`, metricsHelper, connection.url, undefined);
    const delegate = createOtlpNetworkExportDelegate(options, serializer, metrics, transport);
    return { delegate, transport, codec: codecFor(`${signal}.pb`, connection, serializer, transport) };
  }
  const transport = new OtlpHttpTransport(connection, connection.protocol === 'http/json' ? 'application/json' : 'application/x-protobuf');
  const metrics = createOtlpHttpExporterMetrics(`otlp_http_${componentType}`, metricsHelper, connection.url, undefined);
  const delegate = createOtlpNetworkExportDelegate(options, serializer, metrics, transport);
  return {
    delegate,
    transport,
    codec: codecFor(`${signal}.${connection.protocol === 'http/json' ? 'json' : 'pb'}`, connection, serializer, transport),
  };
}

const FACTORY_RULES = { ...connectionOptionRules, ...resilientOptionRules };

/** Refuses unknown keys (with a did-you-mean hint) among the connection's and the wrapper's options together. */
function checkFactoryOptions(where: string, options: OtlpExporterOptions): void {
  checkOptions(where, options, FACTORY_RULES);
}

/** The wrapper's share of the factory options, with the factory's name and debug defaults. */
function wrapOptions(signal: OtlpSignal, connection: OtlpConnection, options: OtlpExporterOptions): ResilientExporterOptions {
  const wrapper: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (key in resilientOptionRules) wrapper[key] = value;
  // OTEL_LOG_LEVEL comes from the same place as the exporter variables (the `env` option, else process.env).
  const debug = options.debug ?? debugFromEnv(options.env ?? process.env);
  return { ...(wrapper as ResilientExporterOptions), debug, name: options.name ?? `${signal} ${connection.protocol}` };
}

type Spans = BatchOf<GrpcTraceExporter>;
type Metrics = BatchOf<GrpcMetricExporter>;
type Logs = BatchOf<GrpcLogExporter>;

/** What the spool needs from an exporter: the request bytes of a batch, and a way to send such bytes again. */
function codecFor<Batch>(kind: string, connection: OtlpConnection, serializer: ISerializer<Batch, unknown>, transport: Transport): SpoolCodec<Batch> {
  return {
    kind,
    serialize: (batch) => serializer.serializeRequest(batch),
    async send(bytes) {
      const response = await transport.send(bytes, connection.timeoutMillis);
      if (response.status !== 'success') throw response.status === 'failure' ? response.error : new Error('retryable');
    },
  };
}

/** The wrapper's context: protocol for hints, the spool codec, and a way to cut attempts in flight at the shutdown deadline. */
function contextOf<Batch>(connection: OtlpConnection, codec: SpoolCodec<Batch>, transport: Transport): ExporterContext<Batch> {
  return {
    protocol: connection.protocol,
    spool: codec,
    release: () => (transport instanceof OtlpGrpcTransport ? transport.release() : transport.shutdown()),
  };
}

/** A trace exporter for `BatchSpanProcessor` / `NodeSDK({ traceExporter })`. */
export function createTraceExporter(options: OtlpExporterOptions = {}): ResilientExporter<Spans> {
  checkFactoryOptions('createTraceExporter', options);
  const connection = resolveOtlpConnection('traces', options);
  const serializers = { json: JsonTraceSerializer, protobuf: ProtobufTraceSerializer };
  const { delegate, codec, transport } = networkExporter('traces', connection, serializers, 'span_exporter', TraceExporterMetricsHelper);
  return resilientExporter(
    new OTLPExporterBase<Spans>(delegate),
    wrapOptions('traces', connection, options),
    contextOf(connection, codec, transport),
  );
}

/** A metric exporter for `PeriodicExportingMetricReader`. */
export function createMetricExporter(options: OtlpExporterOptions = {}): ResilientExporter<Metrics> & MetricSelectorsOf<OTLPMetricExporterBase> {
  checkFactoryOptions('createMetricExporter', options);
  const connection = resolveOtlpConnection('metrics', options);
  const serializers = { json: JsonMetricsSerializer, protobuf: ProtobufMetricsSerializer };
  const { delegate, codec, transport } = networkExporter('metrics', connection, serializers, 'metric_exporter', MetricsExporterMetricsHelper);
  // The base class adds the temporality and aggregation selectors (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE).
  return resilientExporter(
    new OTLPMetricExporterBase(delegate),
    wrapOptions('metrics', connection, options),
    contextOf(connection, codec, transport),
  );
}

/** A log record exporter for `BatchLogRecordProcessor`. */
export function createLogExporter(options: OtlpExporterOptions = {}): ResilientExporter<Logs> {
  checkFactoryOptions('createLogExporter', options);
  const connection = resolveOtlpConnection('logs', options);
  const serializers = { json: JsonLogsSerializer, protobuf: ProtobufLogsSerializer };
  const { delegate, codec, transport } = networkExporter('logs', connection, serializers, 'log_exporter', LogsExporterMetricsHelper);
  return resilientExporter(new OTLPExporterBase<Logs>(delegate), wrapOptions('logs', connection, options), contextOf(connection, codec, transport));
}
