import { classify, parseRetryAfter, redactText, type Fault, type FaultPhase } from '@holdfast/core';
import { retryInfoDelayMs } from './grpc-retry-info.js';

/**
 * What the OTLP exporters report, read as a Fault. The OTel exporters wrap
 * their errors in their own shapes (gRPC status codes, `OTLPExporterError`
 * with the HTTP status, a bare `Request timed out`), so those are read here
 * first; everything else (the Node and TLS errors inside) goes to core's
 * `classify()`. Protocol and TLS mistakes get hints that name the OTLP port or
 * setting to change, because that is what the user can act on.
 */
export type OtlpProtocol = 'grpc' | 'http/protobuf' | 'http/json';

export interface OtlpFaultContext {
  /** The protocol the exporter speaks, when known: it decides the protocol-mismatch hint. */
  readonly protocol?: OtlpProtocol;
}

// https://grpc.github.io/grpc/core/md_doc_statuscodes.html
const GRPC_STATUS: Readonly<Record<number, string>> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  15: 'DATA_LOSS',
  16: 'UNAUTHENTICATED',
};

// The OTLP spec's retryable gRPC codes (CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS; RESOURCE_EXHAUSTED with pushback).
const GRPC_TRANSIENT = new Set([1, 4, 8, 10, 11, 14, 15]);

const HTTP_TO_GRPC_HINT =
  "the endpoint speaks gRPC (HTTP/2), not OTLP/HTTP: use protocol 'grpc' for this port, or point http/protobuf at the OTLP/HTTP port (4318 by default; Aspire: the dashboard's OTLP/HTTP endpoint)";
const GRPC_TO_HTTP_HINT =
  "the endpoint speaks OTLP/HTTP (HTTP/1.1), not gRPC: use protocol 'http/protobuf' for this port, or point grpc at the OTLP/gRPC port (4317 by default; Aspire: DOTNET_DASHBOARD_OTLP_ENDPOINT_URL)";
const TLS_TO_PLAIN_HINT = "the endpoint answers in plain text, not TLS: use an http:// endpoint, or the collector's TLS port";
const TLS_TRUST_HINT =
  "the collector's certificate is not trusted: give its CA with the 'ca' option or OTEL_EXPORTER_OTLP_CERTIFICATE (for Aspire, the dev certificate exported with 'dotnet dev-certs https --export-path'); never set NODE_TLS_REJECT_UNAUTHORIZED=0";

const CLIENT_CERT_HINT =
  "the collector requires a client certificate (mutual TLS): give it with the 'cert' and 'key' options or OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY, signed by a CA the collector trusts";
// TLS 1.3's alert when the server wanted a client certificate and got none (or one it does not accept).
const CLIENT_CERT_REQUIRED = /CERTIFICATE_REQUIRED|alert certificate required|alert unknown ca|alert bad certificate/i;

const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
]);

function read(error: unknown, key: string): unknown {
  try {
    return typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[key] : undefined;
  } catch {
    return undefined;
  }
}

function messageOf(error: unknown): string {
  const message = read(error, 'message');
  return typeof message === 'string' ? message : String(error);
}

function make(
  kind: Fault['kind'],
  code: string,
  phase: FaultPhase,
  transient: boolean,
  hint: string,
  error: unknown,
  extra: Partial<Fault> = {},
): Fault {
  return { kind, code, phase, transient, hint, message: redactText(messageOf(error)), ...extra };
}

export function classifyExportError(error: unknown, context: OtlpFaultContext = {}): Fault {
  const message = messageOf(error);
  const code = read(error, 'code');
  const details = read(error, 'details');

  // gRPC: a ServiceError carries a numeric status and `details`.
  if (typeof code === 'number' && typeof details === 'string' && GRPC_STATUS[code] !== undefined) {
    return classifyGrpc(error, code, details);
  }
  // OTLPExporterError from the HTTP exporters: `code` is the HTTP status.
  if (read(error, 'name') === 'OTLPExporterError' && typeof code === 'number' && code >= 100) {
    const transient = code === 408 || code === 429 || code === 502 || code === 503 || code === 504;
    // OtlpHttpTransport keeps the Retry-After header on the error: the collector's pushback sets the next delay.
    const retryAfterMs = parseRetryAfter(read(error, 'retryAfter'));
    return make('http-status', `HTTP_${code}`, 'response', transient, httpStatusHint(code), error, {
      status: code,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (message === 'Export failed with retryable status') {
    return make(
      'http-status',
      'HTTP_RETRYABLE',
      'response',
      true,
      'the collector answered 429/502/503/504 (overloaded or restarting); it is retried with backoff',
      error,
    );
  }
  if (message === 'Request timed out') {
    return make(
      'timeout',
      'OTLP_TIMEOUT',
      'unknown',
      true,
      'the collector did not answer within the exporter timeout (a stalled connection or a large batch): raise timeoutMillis or lower the batch size',
      error,
    );
  }
  if (message === 'Concurrent export limit reached') {
    return make(
      'unknown',
      'OTLP_CONCURRENCY_LIMIT',
      'connect',
      true,
      'the OTel exporter already has its concurrencyLimit of exports in flight; nothing was sent',
      error,
    );
  }

  const fault = classify(error);
  if (fault.kind === 'protocol') {
    // An HTTP/1.1 client talking to an HTTP/2-only (gRPC) server, or TLS to a plain port.
    const toPlain = /WRONG_VERSION_NUMBER|EPROTO/.test(fault.code) || /wrong version number|packet length too long/i.test(message);
    if (toPlain) return { ...fault, transient: false, hint: TLS_TO_PLAIN_HINT };
    if (context.protocol !== 'grpc') return { ...fault, transient: false, hint: HTTP_TO_GRPC_HINT };
  }
  if (fault.kind === 'tls' && TLS_TRUST_CODES.has(fault.code)) return { ...fault, transient: false, hint: TLS_TRUST_HINT };
  if (fault.kind === 'tls' && (CLIENT_CERT_REQUIRED.test(fault.code) || CLIENT_CERT_REQUIRED.test(message)))
    return { ...fault, transient: false, hint: CLIENT_CERT_HINT };
  return fault;
}

function classifyGrpc(error: unknown, status: number, details: string): Fault {
  const name = GRPC_STATUS[status] ?? 'UNKNOWN';
  const code = `GRPC_${name}`;
  // grpc-js reports what the HTTP/2 layer saw in `details`; these say the peer speaks HTTP/1.
  if (
    /HTTP\/1|Protocol error|Received HTTP status code|unexpected HTTP status|Parse Error|Trailers-Only|content-type/i.test(details) &&
    !/ECONNREFUSED|ECONNRESET/.test(details)
  ) {
    return make('protocol', code, 'response', false, GRPC_TO_HTTP_HINT, error);
  }
  if (CLIENT_CERT_REQUIRED.test(details)) {
    return make('tls', code, 'connect', false, CLIENT_CERT_HINT, error);
  }
  if (/self[- ]signed|unable to verify|certificate|CERT_/i.test(details)) {
    return make('tls', code, 'connect', false, TLS_TRUST_HINT, error);
  }
  if (/wrong version number|SSL routines/i.test(details)) {
    return make('protocol', code, 'connect', false, TLS_TO_PLAIN_HINT, error);
  }
  // grpc-js reports a dead HTTP/2 session (a stalled connection it gave up on, a GOAWAY, a reset) as INTERNAL or
  // CANCELLED with these details: the connection broke, the collector did not reject the batch.
  if (/RST_STREAM|Session closed|GOAWAY|Connection dropped|ECONNRESET|EPIPE/i.test(details)) {
    return make(
      'connection-reset',
      code,
      'unknown',
      true,
      'the connection to the collector broke (HTTP/2 session closed or reset); the batch is retried and may arrive twice',
      error,
    );
  }
  if (status === 14) {
    if (/ECONNREFUSED|No connection established|connect/i.test(details)) {
      return make(
        'connection-refused',
        code,
        'connect',
        true,
        'the collector is not accepting connections (down or restarting); batches wait in the queue and are retried',
        error,
      );
    }
    // An UNAVAILABLE the collector sent itself (overloaded, shutting down) may carry its pushback.
    const pushbackMs = grpcPushbackMs(error);
    return make(
      'connection-reset',
      code,
      'unknown',
      true,
      'the connection to the collector dropped (restart, proxy idle timeout); the batch is retried and may arrive twice',
      error,
      pushbackMs === undefined ? {} : { retryAfterMs: pushbackMs },
    );
  }
  if (status === 4) {
    return make(
      'timeout',
      code,
      'unknown',
      true,
      'the collector did not answer before the gRPC deadline: raise timeoutMillis or lower the batch size',
      error,
    );
  }
  const transient = GRPC_TRANSIENT.has(status);
  // The collector's pushback (RetryInfo, with RESOURCE_EXHAUSTED) sets the next delay, as Retry-After does for HTTP.
  const retryAfterMs = transient ? grpcPushbackMs(error) : undefined;
  return make(
    transient ? 'unknown' : 'http-status',
    code,
    'response',
    transient,
    grpcHint(status),
    error,
    retryAfterMs === undefined ? {} : { retryAfterMs },
  );
}

/** RetryInfo's delay from a grpc-js ServiceError's trailers (`metadata.get('grpc-status-details-bin')`). */
function grpcPushbackMs(error: unknown): number | undefined {
  const metadata = read(error, 'metadata');
  try {
    const get = read(metadata, 'get');
    if (typeof get !== 'function') return undefined;
    const values = (get as (key: string) => unknown).call(metadata, 'grpc-status-details-bin');
    const first: unknown = Array.isArray(values) ? values[0] : undefined;
    return first instanceof Uint8Array ? retryInfoDelayMs(first) : undefined;
  } catch {
    return undefined;
  }
}

function grpcHint(status: number): string {
  switch (status) {
    case 16:
    case 7:
      return 'the collector refused the credentials: check the authorization / api-key headers (OTEL_EXPORTER_OTLP_HEADERS; Aspire: x-otlp-api-key)';
    case 12:
      return 'the gRPC server does not implement this OTLP service: check that the endpoint is an OTLP collector and the signal is enabled';
    case 8:
      return 'the collector is overloaded (RESOURCE_EXHAUSTED); retried with backoff';
    default:
      return `the collector answered gRPC status ${GRPC_STATUS[status] ?? status}`;
  }
}

function httpStatusHint(status: number): string {
  if (status === 401 || status === 403)
    return 'the collector refused the credentials: check the authorization / api-key headers (OTEL_EXPORTER_OTLP_HEADERS; Aspire: x-otlp-api-key)';
  if (status === 404) return 'no OTLP receiver at this path: a base endpoint gets /v1/traces (etc.) appended, a per-signal endpoint is used as-is';
  if (status === 413) return 'the batch is too large for the collector: lower maxExportBatchSize or enable compression';
  if (status === 415) return "the collector does not accept this encoding: use 'http/protobuf' or 'http/json' as the collector supports";
  if (status >= 500) return 'the collector is failing or restarting; retried with backoff';
  return `the collector rejected the batch with HTTP ${status}; retrying cannot help`;
}
