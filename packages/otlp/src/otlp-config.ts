import { readFileSync } from 'node:fs';
import { redactText } from '@holdfast/core';
import { formatValue, rule, type OptionRule, type OptionRules } from '@holdfast/core/internal';
import type { OtlpProtocol } from './otlp-fault.js';

/**
 * Where and how to export one signal, from the factory options first and the
 * standard `OTEL_EXPORTER_OTLP_*` variables second, with the spec's URL rules:
 * a base endpoint gets `/v1/<signal>` appended for HTTP, a per-signal endpoint
 * is used as-is, and gRPC takes the endpoint with no path.
 * https://opentelemetry.io/docs/specs/otel/protocol/exporter/
 */
export type OtlpSignal = 'traces' | 'metrics' | 'logs';

export interface OtlpConnectionOptions {
  /** Default: `OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL`, else `'http/protobuf'`. */
  readonly protocol?: OtlpProtocol;
  /** Full URL of this signal's receiver, used as-is (like `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT`). */
  readonly url?: string;
  /** Base URL of the collector (like `OTEL_EXPORTER_OTLP_ENDPOINT`): HTTP appends `/v1/<signal>`. */
  readonly endpoint?: string;
  /** Added to every request; values are never logged or put in events. */
  readonly headers?: Readonly<Record<string, string>>;
  /** One export's timeout. Default: the env variables, else 10 000 ms. */
  readonly timeoutMillis?: number;
  readonly compression?: 'gzip' | 'none';
  /** PEM of the CA that signed the collector's certificate (or a path, like `OTEL_EXPORTER_OTLP_CERTIFICATE`). */
  readonly ca?: string | Buffer;
  /** PEM client certificate chain for mutual TLS (or a path). */
  readonly cert?: string | Buffer;
  /** PEM client private key for mutual TLS (or a path). */
  readonly key?: string | Buffer;
  /** Where the `OTEL_*` variables are read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface OtlpConnection {
  readonly protocol: OtlpProtocol;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly timeoutMillis: number;
  readonly compression: 'gzip' | 'none';
  readonly ca: Buffer | undefined;
  readonly cert: Buffer | undefined;
  readonly key: Buffer | undefined;
}

const PROTOCOLS: readonly OtlpProtocol[] = ['grpc', 'http/protobuf', 'http/json'];

const pemRule: OptionRule = { test: (v) => typeof v === 'string' || Buffer.isBuffer(v), accepted: 'PEM text (a string or a Buffer) or a file path' };

/** The keys of `OtlpConnectionOptions` and what each accepts; the values (and the variables) are checked by `resolveOtlpConnection`. */
export const connectionOptionRules: OptionRules = {
  protocol: rule.oneOf(PROTOCOLS),
  url: rule.string(),
  endpoint: rule.string(),
  headers: rule.object('an object of header names and values'),
  timeoutMillis: rule.timerMs(),
  compression: rule.oneOf(['gzip', 'none']),
  ca: pemRule,
  cert: pemRule,
  key: pemRule,
  env: rule.object('an object like process.env'),
};
const PATHS: Readonly<Record<OtlpSignal, string>> = { traces: 'v1/traces', metrics: 'v1/metrics', logs: 'v1/logs' };

function fail(what: string, value: unknown, accepted: string): never {
  throw new RangeError(`${what} must be ${accepted}, got ${formatValue(typeof value === 'string' ? redactText(value) : value)}`);
}

export function resolveOtlpConnection(signal: OtlpSignal, options: OtlpConnectionOptions = {}): OtlpConnection {
  const env = options.env ?? process.env;
  const upper = signal.toUpperCase();
  const fromEnv = (name: string): { name: string; value: string } | undefined => {
    for (const key of [`OTEL_EXPORTER_OTLP_${upper}_${name}`, `OTEL_EXPORTER_OTLP_${name}`]) {
      const value = env[key]?.trim();
      if (value !== undefined && value !== '') return { name: key, value };
    }
    return undefined;
  };

  const protocolEnv = fromEnv('PROTOCOL');
  const protocol = options.protocol ?? (protocolEnv?.value as OtlpProtocol | undefined) ?? 'http/protobuf';
  if (!PROTOCOLS.includes(protocol)) {
    fail(
      options.protocol !== undefined ? "option 'protocol'" : (protocolEnv?.name ?? 'protocol'),
      protocol,
      "'grpc', 'http/protobuf' or 'http/json'",
    );
  }

  const url = resolveUrl(signal, protocol, options, env);

  const headers: Record<string, string> = {};
  const headerEnv = [env.OTEL_EXPORTER_OTLP_HEADERS, env[`OTEL_EXPORTER_OTLP_${upper}_HEADERS`]];
  for (const list of headerEnv) Object.assign(headers, parseHeaders(list));
  Object.assign(headers, options.headers);

  const timeoutEnv = fromEnv('TIMEOUT');
  const timeoutMillis = options.timeoutMillis ?? (timeoutEnv === undefined ? 10_000 : Number(timeoutEnv.value));
  if (!(Number.isFinite(timeoutMillis) && timeoutMillis > 0)) {
    fail(
      options.timeoutMillis !== undefined ? "option 'timeoutMillis'" : (timeoutEnv?.name ?? 'timeout'),
      timeoutEnv?.value ?? timeoutMillis,
      'a number of milliseconds > 0',
    );
  }

  const compressionEnv = fromEnv('COMPRESSION');
  const compression = options.compression ?? compressionEnv?.value ?? 'none';
  if (compression !== 'gzip' && compression !== 'none') {
    fail(options.compression !== undefined ? "option 'compression'" : (compressionEnv?.name ?? 'compression'), compression, "'gzip' or 'none'");
  }

  return {
    protocol,
    url,
    headers,
    timeoutMillis,
    compression,
    ca: pem('ca', options.ca, fromEnv('CERTIFICATE')),
    cert: pem('cert', options.cert, fromEnv('CLIENT_CERTIFICATE')),
    key: pem('key', options.key, fromEnv('CLIENT_KEY')),
  };
}

function resolveUrl(
  signal: OtlpSignal,
  protocol: OtlpProtocol,
  options: OtlpConnectionOptions,
  env: Readonly<Record<string, string | undefined>>,
): string {
  const perSignalName = `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`;
  const perSignal = options.url ?? nonEmpty(env[perSignalName]);
  const base = options.endpoint ?? nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const source =
    options.url !== undefined
      ? "option 'url'"
      : perSignal !== undefined
        ? perSignalName
        : options.endpoint !== undefined
          ? "option 'endpoint'"
          : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const raw = perSignal ?? base ?? (protocol === 'grpc' ? 'http://localhost:4317' : 'http://localhost:4318');
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return fail(source, raw, 'an absolute http:// or https:// URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') fail(source, raw, 'an absolute http:// or https:// URL');
  if (protocol === 'grpc' || perSignal !== undefined) return parsed.href.replace(/\/$/, protocol === 'grpc' ? '' : '/');
  // A base endpoint: the signal path goes after whatever path the base has.
  const path = parsed.pathname.endsWith('/') ? parsed.pathname : `${parsed.pathname}/`;
  parsed.pathname = `${path}${PATHS[signal]}`;
  return parsed.href;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

/** `key1=value1,key2=value2` with percent-encoded values (W3C baggage style, as the spec says). */
export function parseHeaders(list: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (list === undefined) return headers;
  for (const pair of list.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    const raw = pair.slice(eq + 1).trim();
    let value = raw;
    try {
      value = decodeURIComponent(raw);
    } catch {
      // A value that is not valid percent-encoding is taken literally.
    }
    if (key !== '') headers[key] = value;
  }
  return headers;
}

function pem(option: string, given: string | Buffer | undefined, fromEnv: { name: string; value: string } | undefined): Buffer | undefined {
  if (Buffer.isBuffer(given)) return given;
  if (typeof given === 'string') return given.includes('-----BEGIN') ? Buffer.from(given) : readPem(`option '${option}'`, given);
  return fromEnv === undefined ? undefined : readPem(fromEnv.name, fromEnv.value);
}

function readPem(source: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`${source}: cannot read the PEM file ${formatValue(path)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {
      cause: error,
    });
  }
}
