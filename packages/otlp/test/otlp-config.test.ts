import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHeaders, resolveOtlpConnection } from '../src/otlp-config.js';

describe('resolveOtlpConnection: the spec URL rules and OTEL_EXPORTER_OTLP_* variables', () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-otlp-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults to http/protobuf on localhost:4318 with /v1/<signal> appended', () => {
    const c = resolveOtlpConnection('traces', { env: {} });
    expect(c).toMatchObject({ protocol: 'http/protobuf', url: 'http://localhost:4318/v1/traces', timeoutMillis: 10_000, compression: 'none' });
    expect(resolveOtlpConnection('metrics', { env: {}, protocol: 'grpc' }).url).toBe('http://localhost:4317');
  });

  it('appends the signal path to a base endpoint (keeping its path) but uses a per-signal endpoint as-is', () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector.example:4318/otlp/' };
    expect(resolveOtlpConnection('logs', { env }).url).toBe('https://collector.example:4318/otlp/v1/logs');
    expect(resolveOtlpConnection('traces', { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' } }).url).toBe('http://c:4318/v1/traces');
    const perSignal = { ...env, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:9999/custom' };
    expect(resolveOtlpConnection('traces', { env: perSignal }).url).toBe('http://c:9999/custom');
    expect(resolveOtlpConnection('metrics', { env: perSignal }).url).toBe('https://collector.example:4318/otlp/v1/metrics');
  });

  it('gives gRPC the endpoint with no signal path', () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' };
    expect(resolveOtlpConnection('traces', { env }).url).toBe('http://localhost:4317');
  });

  it('lets options win over variables and per-signal variables win over general ones', () => {
    const env = {
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '1500',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
    };
    expect(resolveOtlpConnection('traces', { env })).toMatchObject({ protocol: 'http/json', timeoutMillis: 1500, compression: 'gzip' });
    expect(resolveOtlpConnection('logs', { env })).toMatchObject({ protocol: 'grpc', timeoutMillis: 2500 });
    expect(resolveOtlpConnection('traces', { env, protocol: 'http/protobuf', timeoutMillis: 700 })).toMatchObject({
      protocol: 'http/protobuf',
      timeoutMillis: 700,
    });
  });

  it('reads headers as percent-encoded key=value pairs, per-signal ones and options on top', () => {
    expect(parseHeaders('x-otlp-api-key=abc%3D%3D, tenant = blue ,broken,=x')).toEqual({ 'x-otlp-api-key': 'abc==', tenant: 'blue' });
    const env = { OTEL_EXPORTER_OTLP_HEADERS: 'a=1,b=2', OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'b=3' };
    expect(resolveOtlpConnection('logs', { env, headers: { c: '4' } }).headers).toEqual({ a: '1', b: '3', c: '4' });
  });

  it('reads certificate files named by the variables, and PEM text or paths from options', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const path = join(dir, 'ca.pem');
    writeFileSync(path, pem);
    expect(resolveOtlpConnection('traces', { env: { OTEL_EXPORTER_OTLP_CERTIFICATE: path } }).ca?.toString()).toBe(pem);
    expect(resolveOtlpConnection('traces', { env: {}, ca: pem }).ca?.toString()).toBe(pem);
    expect(resolveOtlpConnection('traces', { env: {}, cert: path, key: path })).toMatchObject({ cert: Buffer.from(pem), key: Buffer.from(pem) });
    expect(() => resolveOtlpConnection('traces', { env: { OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: join(dir, 'missing.pem') } })).toThrow(
      /OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: cannot read the PEM file .*missing\.pem.*ENOENT/,
    );
  });

  it('names the option or variable, the value and what is accepted when a value is wrong', () => {
    expect(() => resolveOtlpConnection('traces', { env: {}, protocol: 'http' as never })).toThrow(
      "option 'protocol' must be 'grpc', 'http/protobuf' or 'http/json', got \"http\"",
    );
    expect(() => resolveOtlpConnection('traces', { env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/proto' } })).toThrow(
      /OTEL_EXPORTER_OTLP_PROTOCOL must be/,
    );
    expect(() => resolveOtlpConnection('traces', { env: { OTEL_EXPORTER_OTLP_TIMEOUT: 'soon' } })).toThrow(
      'OTEL_EXPORTER_OTLP_TIMEOUT must be a number of milliseconds > 0, got "soon"',
    );
    expect(() => resolveOtlpConnection('traces', { env: { OTEL_EXPORTER_OTLP_COMPRESSION: 'br' } })).toThrow(/'gzip' or 'none'/);
  });

  it('never puts URL credentials in an error message', () => {
    expect(() => resolveOtlpConnection('traces', { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://user:hunter2@c:4318' } })).toThrow(/\[redacted\]@/);
    try {
      resolveOtlpConnection('traces', { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://user:hunter2@c:4318' } });
    } catch (error) {
      expect(String(error)).not.toContain('hunter2');
    }
  });
});
