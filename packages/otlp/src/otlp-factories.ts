import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { createEmptyMetadata, createInsecureCredentials, createSslCredentials } from '@opentelemetry/otlp-grpc-exporter-base';
import { resolveOtlpConnection, type OtlpConnection, type OtlpConnectionOptions, type OtlpSignal } from './otlp-config.js';
import type { ResilientExporterOptions } from './resilient-options.js';
import { resilientExporter, type ResilientExporter } from './resilient-exporter.js';
import type { BatchOf, MetricSelectorsOf } from './exporter-shape.js';

/**
 * The OTel OTLP exporters for one protocol, configured from options and the
 * standard environment, each wrapped by `resilientExporter()`. TLS material
 * goes to the agent (HTTP) or the channel credentials (gRPC); certificate
 * verification stays on: there is no option to turn it off.
 */
export type OtlpExporterOptions = OtlpConnectionOptions & ResilientExporterOptions;

function httpConfig(connection: OtlpConnection) {
  const tls = {
    ...(connection.ca === undefined ? {} : { ca: connection.ca }),
    ...(connection.cert === undefined ? {} : { cert: connection.cert }),
    ...(connection.key === undefined ? {} : { key: connection.key }),
  };
  return {
    url: connection.url,
    headers: connection.headers,
    timeoutMillis: connection.timeoutMillis,
    compression: connection.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE,
    // Keep-alive avoids a TCP (and TLS) handshake per batch; the wrapper's retries cover a reused socket the collector closed.
    httpAgentOptions: { keepAlive: true, ...tls },
  };
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
  return { ...options, name: options.name ?? `${signal} ${connection.protocol}` };
}

/** A trace exporter for `BatchSpanProcessor` / `NodeSDK({ traceExporter })`. */
export function createTraceExporter(options: OtlpExporterOptions = {}): ResilientExporter<BatchOf<ProtoTraceExporter>> {
  const connection = resolveOtlpConnection('traces', options);
  const inner =
    connection.protocol === 'grpc'
      ? new GrpcTraceExporter(grpcConfig(connection))
      : connection.protocol === 'http/json'
        ? new JsonTraceExporter(httpConfig(connection))
        : new ProtoTraceExporter(httpConfig(connection));
  return resilientExporter(inner, wrapOptions('traces', connection, options), { protocol: connection.protocol });
}

/** A metric exporter for `PeriodicExportingMetricReader`. */
export function createMetricExporter(
  options: OtlpExporterOptions = {},
): ResilientExporter<BatchOf<ProtoMetricExporter>> & MetricSelectorsOf<ProtoMetricExporter> {
  const connection = resolveOtlpConnection('metrics', options);
  const inner =
    connection.protocol === 'grpc'
      ? new GrpcMetricExporter(grpcConfig(connection))
      : connection.protocol === 'http/json'
        ? new JsonMetricExporter(httpConfig(connection))
        : new ProtoMetricExporter(httpConfig(connection));
  return resilientExporter(inner, wrapOptions('metrics', connection, options), { protocol: connection.protocol });
}

/** A log record exporter for `BatchLogRecordProcessor`. */
export function createLogExporter(options: OtlpExporterOptions = {}): ResilientExporter<BatchOf<ProtoLogExporter>> {
  const connection = resolveOtlpConnection('logs', options);
  const inner =
    connection.protocol === 'grpc'
      ? new GrpcLogExporter(grpcConfig(connection))
      : connection.protocol === 'http/json'
        ? new JsonLogExporter(httpConfig(connection))
        : new ProtoLogExporter(httpConfig(connection));
  return resilientExporter(inner, wrapOptions('logs', connection, options), { protocol: connection.protocol });
}
