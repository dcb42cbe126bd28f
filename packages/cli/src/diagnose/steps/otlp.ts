import * as grpc from '@grpc/grpc-js';
import { classifyExportError, resolveOtlpConnection } from '@holdfast/otlp';
import type { OtlpConnection } from '@holdfast/otlp';
import { redactText } from '@holdfast/core';
import type { DiagnoseContext } from '../context.js';
import { exchange, ExchangeError } from '../http-exchange.js';
import type { StepRecord } from '../step.js';
import { describeError, round } from '../step.js';
import { VERSION } from '../../version.js';
import type { Address } from './dns.js';
import { trustedCas } from './tls.js';

const TRACE_EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
// gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html), as the numbers grpc-js reports.
const STATUS = {
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
const PROXY_HEADERS = /envoy|nginx|haproxy|squid|varnish|traefik|awselb|istio|cloudflare/i;
const PROXY_ENV = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy'];

/**
 * Where the app would export, worked out the way the OpenTelemetry SDK (and
 * @holdfast/otlp) work it out: options first, then OTEL_EXPORTER_OTLP_TRACES_*,
 * then OTEL_EXPORTER_OTLP_*. Checks the URL for the classic mistakes before
 * any byte is sent.
 */
export async function otlpConfigStep(context: DiagnoseContext): Promise<OtlpConnection | undefined> {
  const { value } = await context.step('config', (record) => Promise.resolve(configure(context, record)));
  return value;
}

function configure(context: DiagnoseContext, record: StepRecord): OtlpConnection | undefined {
  {
    const env = context.env;
    let connection: OtlpConnection;
    try {
      connection = resolveOtlpConnection('traces', {
        env,
        ...(context.options.protocol === undefined ? {} : { protocol: context.options.protocol }),
        ...(context.options.endpoint === undefined ? {} : { endpoint: context.options.endpoint }),
      });
    } catch (error) {
      record.summary = 'the OTLP configuration cannot be used';
      record.find('otlp-path-missing', 'problem', redactText((error as Error).message), 'fix the variable or option named above');
      return undefined;
    }
    const url = new URL(connection.url);
    const source = (name: string): string =>
      env[`OTEL_EXPORTER_OTLP_TRACES_${name}`] !== undefined
        ? `OTEL_EXPORTER_OTLP_TRACES_${name}`
        : env[`OTEL_EXPORTER_OTLP_${name}`] !== undefined
          ? `OTEL_EXPORTER_OTLP_${name}`
          : '';
    const protocolFrom = context.options.protocol !== undefined ? '--protocol' : source('PROTOCOL') || 'the default';
    const endpointFrom = context.options.endpoint !== undefined ? '--endpoint' : source('ENDPOINT') || 'the default';
    record.summary = `${connection.protocol} to ${redactText(connection.url)}`;
    record.detail(`protocol: ${connection.protocol} (from ${protocolFrom})`);
    record.detail(`traces go to: ${redactText(connection.url)} (from ${endpointFrom})`);
    const names = Object.keys(connection.headers);
    record.detail(names.length === 0 ? 'headers: none' : `headers: ${names.join(', ')} (values not shown)`);
    if (connection.ca !== undefined) {
      record.detail('the collector CA comes from OTEL_EXPORTER_OTLP_CERTIFICATE');
      context.extraCas.push(connection.ca);
    }
    record.data.protocol = connection.protocol;
    record.data.url = redactText(connection.url);
    record.data.headers = names;
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    if (connection.protocol !== 'grpc') {
      if (/\/v1\/traces\/v1\/traces\/?$/.test(url.pathname)) {
        record.find(
          'otlp-path-doubled',
          'problem',
          `the URL ends in /v1/traces/v1/traces: ${endpointFrom} already has the path the exporter appends`,
        );
      } else if (endpointFrom === 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' && !/\/v1\/traces\/?$/.test(url.pathname)) {
        record.find(
          'otlp-path-missing',
          'warning',
          `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as-is and does not end in /v1/traces (${url.pathname})`,
        );
      }
      if (port === 4317) record.detail('port 4317 is the usual OTLP/gRPC port: the export below tells whether it speaks HTTP');
    } else {
      if (url.pathname !== '/' && url.pathname !== '') record.detail(`gRPC ignores the path ${url.pathname}`);
      if (port === 4318) record.detail('port 4318 is the usual OTLP/HTTP port: the export below tells whether it speaks gRPC');
    }
    const proxy = PROXY_ENV.find((name) => env[name] !== undefined && env[name] !== '');
    if (proxy !== undefined) record.detail(`${proxy} is set: the OTLP exporters for Node do not use it (they connect directly)`);
    return connection;
  }
}

/** An empty export in the configured protocol: what the collector says to a batch of nothing. */
export async function otlpExportStep(context: DiagnoseContext, connection: OtlpConnection, address: Address): Promise<void> {
  await context.step('export', async (record) => {
    if (connection.protocol === 'grpc') {
      const answer = await grpcExport(context, connection, address);
      judgeGrpc(record, answer, connection);
      if (answer.kind === 'error' && /Protocol error|HTTP status|Parse Error|Trailers-Only|content-type|Malformed/i.test(answer.details)) {
        const http = await httpExport(
          context,
          { ...connection, protocol: 'http/protobuf', url: new URL('/v1/traces', connection.url).href },
          address,
        );
        if (http.kind === 'response') {
          record.find(
            'otlp-protocol-mismatch',
            'problem',
            `the configured protocol is grpc, but ${new URL(connection.url).host} answers OTLP/HTTP (POST /v1/traces: HTTP ${http.status})`,
          );
        }
      }
      if (answer.kind === 'error' && record.findings.length === 0) {
        record.find('otlp-collector-error', 'problem', `${grpc.status[answer.code] ?? answer.code}: ${redactText(answer.details)}`);
      }
      return;
    }
    const answer = await httpExport(context, connection, address);
    judgeHttp(record, answer, connection);
    if (answer.kind === 'error' && answer.looksHttp2) {
      const grpcAnswer = await grpcExport(context, connection, address);
      const speaksGrpc = grpcAnswer.kind === 'ok' || grpcAnswer.code !== STATUS.UNAVAILABLE;
      record.find(
        'otlp-protocol-mismatch',
        'problem',
        `the configured protocol is ${connection.protocol}, but ${new URL(connection.url).host} speaks HTTP/2${speaksGrpc ? ` and answers gRPC (${grpcAnswer.kind === 'ok' ? 'an empty export was accepted' : `status ${grpc.status[grpcAnswer.code] ?? grpcAnswer.code}`})` : ' only'}`,
      );
    }
  });
}

type HttpAnswer =
  | { kind: 'response'; status: number; headers: Readonly<Record<string, string>>; ms: number }
  | { kind: 'error'; error: unknown; looksHttp2: boolean; looksTls: boolean };

async function httpExport(
  context: DiagnoseContext,
  connection: Pick<OtlpConnection, 'protocol' | 'url' | 'headers'>,
  address: Address,
): Promise<HttpAnswer> {
  const url = new URL(connection.url);
  const secure = url.protocol === 'https:';
  const ca = trustedCas(context);
  const json = connection.protocol === 'http/json';
  try {
    const { response, socket } = await exchange({
      host: url.host,
      address: address.address,
      port: Number(url.port || (secure ? 443 : 80)),
      tls: secure ? { ...(/^[\d.]+$|:/.test(url.hostname) ? {} : { servername: url.hostname }), ...(ca === undefined ? {} : { ca }) } : false,
      method: 'POST',
      path: `${url.pathname}${url.search}`,
      headers: {
        'User-Agent': `holdfast-diagnose/${VERSION}`,
        'Content-Type': json ? 'application/json' : 'application/x-protobuf',
        Connection: 'close',
        ...connection.headers,
        ...context.headers,
      },
      // An empty ExportTraceServiceRequest: zero bytes in protobuf, an empty list in JSON.
      body: Buffer.from(json ? '{"resourceSpans":[]}' : ''),
      timeoutMs: context.timeoutMs,
    });
    socket.destroy();
    return { kind: 'response', status: response.status, headers: response.headers, ms: response.firstByteMs };
  } catch (error) {
    const received = error instanceof ExchangeError ? error.received : Buffer.alloc(0);
    return { kind: 'error', error, looksHttp2: received.length >= 9 && received[3] === 0x04, looksTls: received[0] === 0x15 || received[0] === 0x16 };
  }
}

function judgeHttp(record: StepRecord, answer: HttpAnswer, connection: OtlpConnection): void {
  const url = new URL(connection.url);
  if (answer.kind === 'error') {
    record.summary = 'no OTLP/HTTP answer';
    if (answer.looksHttp2) return; // the caller names the mismatch
    if (answer.looksTls) {
      record.find('tls-required', 'problem', `${url.host} answered with TLS: use https:// in the endpoint`);
      return;
    }
    const { fault, text } = describeError(
      answer.error instanceof ExchangeError && answer.error.cause !== undefined ? answer.error.cause : answer.error,
    );
    const hinted = classifyExportError(
      answer.error instanceof ExchangeError && answer.error.cause !== undefined ? answer.error.cause : answer.error,
      { protocol: connection.protocol },
    );
    record.detail(text);
    if (answer.error instanceof ExchangeError && answer.error.code === 'ETIMEDOUT')
      record.find('http-timeout', 'problem', `${text} — ${hinted.hint}`);
    else if (fault.kind === 'tls') record.find('tls-untrusted-ca', 'problem', `${text} — ${hinted.hint}`);
    else record.find('http-reset', 'problem', `${text} — ${hinted.hint}`);
    return;
  }
  const { status, headers } = answer;
  const via = headers.via ?? (PROXY_HEADERS.test(headers.server ?? '') ? headers.server : undefined);
  record.data.status = status;
  record.summary = `an empty export got HTTP ${status} in ${round(answer.ms)} ms`;
  if (headers.server !== undefined) record.detail(`server: ${headers.server}`);
  if (via !== undefined) record.detail(`through a proxy (${headers.via !== undefined ? `Via: ${headers.via}` : `Server: ${via}`})`);
  const names = Object.keys(connection.headers);
  if (status >= 200 && status < 300) {
    record.summary = `the collector accepted an empty ${connection.protocol} export (HTTP ${status}, ${round(answer.ms)} ms)`;
    return;
  }
  if (status === 404 || status === 405) {
    record.find('otlp-path-missing', 'problem', `POST ${url.pathname} answered ${status}: no OTLP receiver at that path`);
  } else if (status === 401 || status === 403) {
    record.find(
      'otlp-auth',
      'problem',
      `HTTP ${status}; ${names.length === 0 ? 'no headers are configured (OTEL_EXPORTER_OTLP_HEADERS)' : `the headers sent: ${names.join(', ')} (values not shown)`}`,
    );
  } else if (status === 415 || status === 400) {
    record.find('otlp-encoding', 'problem', `HTTP ${status} to an empty ${connection.protocol} export`);
  } else if (status === 407) {
    record.find('proxy-in-the-way', 'problem', 'a proxy asks for authentication (407)');
  } else if ((status === 502 || status === 504) && via !== undefined) {
    record.find('proxy-in-the-way', 'problem', `the proxy (${via}) answered ${status}: it cannot reach the collector behind it`);
  } else if (status >= 500 || status === 429) {
    record.find('otlp-collector-error', status === 503 || status === 429 ? 'warning' : 'problem', `HTTP ${status}`);
  } else {
    record.find('otlp-collector-error', 'problem', `HTTP ${status} to an empty export`);
  }
}

type GrpcAnswer = { kind: 'ok'; ms: number } | { kind: 'error'; code: number; details: string; error: unknown; ms: number };

function grpcExport(context: DiagnoseContext, connection: Pick<OtlpConnection, 'url' | 'headers'>, address: Address): Promise<GrpcAnswer> {
  const url = new URL(connection.url);
  const secure = url.protocol === 'https:';
  const port = Number(url.port || (secure ? 443 : 80));
  const target = `${address.family === 6 ? `[${address.address}]` : address.address}:${port}`;
  const ca = context.extraCas.length === 0 ? undefined : Buffer.concat(context.extraCas.map((c) => Buffer.from(c)));
  const credentials = secure ? grpc.credentials.createSsl(ca ?? null) : grpc.credentials.createInsecure();
  const client = new grpc.Client(target, credentials, { 'grpc.ssl_target_name_override': url.hostname, 'grpc.default_authority': url.host });
  const metadata = new grpc.Metadata();
  for (const [name, value] of Object.entries({ ...connection.headers, ...context.headers })) metadata.set(name.toLowerCase(), value);
  const identity = (b: Buffer): Buffer => b;
  const t0 = performance.now();
  return new Promise((resolve) => {
    client.makeUnaryRequest(TRACE_EXPORT, identity, identity, Buffer.alloc(0), metadata, { deadline: Date.now() + context.timeoutMs }, (error) => {
      client.close();
      const ms = performance.now() - t0;
      if (error === null) resolve({ kind: 'ok', ms });
      else resolve({ kind: 'error', code: error.code, details: error.details, error, ms });
    });
  });
}

function judgeGrpc(record: StepRecord, answer: GrpcAnswer, connection: OtlpConnection): void {
  if (answer.kind === 'ok') {
    record.summary = `the collector accepted an empty gRPC export (${round(answer.ms)} ms)`;
    return;
  }
  const name = grpc.status[answer.code] ?? String(answer.code);
  record.summary = `an empty gRPC export failed: ${name}`;
  record.detail(`${name}: ${redactText(answer.details)}`);
  const hint = classifyExportError(answer.error, { protocol: 'grpc' }).hint;
  switch (answer.code) {
    case STATUS.UNIMPLEMENTED:
      record.find('otlp-path-missing', 'problem', `the gRPC server there has no OTLP trace service (UNIMPLEMENTED)`);
      return;
    case STATUS.UNAUTHENTICATED:
    case STATUS.PERMISSION_DENIED: {
      const names = Object.keys(connection.headers);
      record.find(
        'otlp-auth',
        'problem',
        `${name}; ${names.length === 0 ? 'no headers are configured' : `the headers sent: ${names.join(', ')} (values not shown)`}`,
      );
      return;
    }
    case STATUS.DEADLINE_EXCEEDED:
      record.find('http-timeout', 'problem', `no answer before the deadline — ${hint}`);
      return;
    default:
      if (/Protocol error|HTTP status|Parse Error|Trailers-Only|content-type|Malformed/i.test(answer.details)) return; // the caller checks for a mismatch
      if (/certificate|SSL|self[- ]signed/i.test(answer.details)) record.find('tls-untrusted-ca', 'problem', `${answer.details} — ${hint}`);
      else
        record.find(
          'otlp-collector-error',
          answer.code === STATUS.UNAVAILABLE || answer.code === STATUS.RESOURCE_EXHAUSTED ? 'warning' : 'problem',
          `${name}: ${redactText(answer.details)} — ${hint}`,
        );
  }
}
