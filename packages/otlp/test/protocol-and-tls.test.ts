import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exponential } from '@holdfast/core';
import { createTraceExporter, type MisconfiguredEvent, type OtlpExporterOptions } from '@holdfast/otlp';
import { makeCertificates, type TestCertificates } from './support/certs.js';
import { startCollector, type Collector } from './support/collector.js';
import { openHandles, settleHandles, watchProcessFaults } from './support/process-faults.js';
import { tracerWith } from './support/spans.js';
import { startTlsFront, type TlsFront } from './support/tls-front.js';

/**
 * Setup mistakes a retry cannot fix: the wrong protocol for the port, and a
 * collector certificate the process does not trust. Each must be reported
 * once with a hint naming the fix, cost no retries, and lose its batches with
 * drop events rather than silently. With the CA configured, TLS works, and
 * verification is never turned off.
 */
describe('protocol mismatch and TLS trust', () => {
  const faults = watchProcessFaults();
  let collector: Collector;
  let certs: TestCertificates;
  let httpsFront: TlsFront;
  let grpcsFront: TlsFront;
  let mutualHttpsFront: TlsFront;
  let mutualGrpcsFront: TlsFront;
  let baseline: string[];

  beforeAll(async () => {
    baseline = openHandles();
    [collector, certs] = await Promise.all([startCollector(), makeCertificates()]);
    httpsFront = await startTlsFront(collector.httpPort, certs.serverKey, certs.serverCert);
    grpcsFront = await startTlsFront(collector.grpcPort, certs.serverKey, certs.serverCert);
    mutualHttpsFront = await startTlsFront(collector.httpPort, certs.serverKey, certs.serverCert, certs.ca);
    mutualGrpcsFront = await startTlsFront(collector.grpcPort, certs.serverKey, certs.serverCert, certs.ca);
  });
  afterAll(() => faults.stop());

  /** Sends three batches, a turn apart; returns what the exporter reported. */
  async function run(options: OtlpExporterOptions) {
    collector.spans.clear();
    const exporter = createTraceExporter({ env: {}, timeoutMillis: 2_000, schedule: exponential({ initialMs: 50, maxMs: 200 }), ...options });
    const misconfigured: MisconfiguredEvent[] = [];
    exporter.on('misconfigured', (event) => void misconfigured.push(event));
    const app = tracerWith(exporter, { scheduledDelayMillis: 20 });
    for (let i = 0; i < 3; i++) {
      app.emit(100);
      await app.provider.forceFlush();
      await exporter.forceFlush();
    }
    await app.provider.shutdown();
    const received = app.ids.filter((id) => collector.spans.has(id)).length;
    return { stats: exporter.stats(), misconfigured, received };
  }

  it('http/protobuf sent to the gRPC port: one protocol fault naming grpc and the OTLP/HTTP port, no retries, every drop counted', async () => {
    const { stats, misconfigured, received } = await run({ protocol: 'http/protobuf', endpoint: collector.grpcUrl });
    expect(misconfigured).toHaveLength(1);
    expect(misconfigured[0]?.fault.kind).toBe('protocol');
    expect(misconfigured[0]?.fault.hint).toMatch(/protocol 'grpc'.*4318/);
    expect(stats.retried).toBe(0);
    expect(stats.dropped.rejected).toBe(300);
    expect(received).toBe(0);
  });

  it('grpc sent to the OTLP/HTTP port: one protocol fault naming http/protobuf and the gRPC port, no retries, every drop counted', async () => {
    const { stats, misconfigured, received } = await run({ protocol: 'grpc', endpoint: collector.httpUrl });
    expect(misconfigured).toHaveLength(1);
    expect(misconfigured[0]?.fault.kind).toBe('protocol');
    expect(misconfigured[0]?.fault.hint).toMatch(/protocol 'http\/protobuf'.*4317/);
    expect(stats.retried).toBe(0);
    expect(stats.dropped.rejected).toBe(300);
    expect(received).toBe(0);
  });

  for (const protocol of ['http/protobuf', 'grpc'] as const) {
    const port = () => (protocol === 'grpc' ? grpcsFront.port : httpsFront.port);

    it(`${protocol} to a collector with a self-signed certificate, CA not configured: one tls fault pointing at OTEL_EXPORTER_OTLP_CERTIFICATE, nothing sent`, async () => {
      const { stats, misconfigured, received } = await run({ protocol, endpoint: `https://127.0.0.1:${port()}` });
      expect(misconfigured).toHaveLength(1);
      expect(misconfigured[0]?.fault.kind).toBe('tls');
      expect(misconfigured[0]?.fault.hint).toContain('OTEL_EXPORTER_OTLP_CERTIFICATE');
      expect(stats.retried).toBe(0);
      expect(stats.dropped.rejected).toBe(300);
      expect(received).toBe(0);
    });

    it(`${protocol} to the same collector with its CA in OTEL_EXPORTER_OTLP_CERTIFICATE: every span arrives once, verification on`, async () => {
      expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).not.toBe('0');
      const exporterEnv = {
        OTEL_EXPORTER_OTLP_ENDPOINT: `https://127.0.0.1:${port()}`,
        OTEL_EXPORTER_OTLP_CERTIFICATE: certs.caFile,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      };
      collector.spans.clear();
      const { stats, misconfigured, received } = await run({ env: exporterEnv });
      expect(misconfigured).toEqual([]);
      expect(stats.exported).toBe(300);
      expect(received).toBe(300);
      expect([...collector.spans.values()].every((n) => n === 1)).toBe(true);
    });
  }

  for (const protocol of ['http/protobuf', 'grpc'] as const) {
    const env = (port: number, client: boolean) => ({
      OTEL_EXPORTER_OTLP_ENDPOINT: `https://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_EXPORTER_OTLP_CERTIFICATE: certs.caFile,
      ...(client ? { OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: certs.clientCertFile, OTEL_EXPORTER_OTLP_CLIENT_KEY: certs.clientKeyFile } : {}),
    });
    const mutualPort = () => (protocol === 'grpc' ? mutualGrpcsFront.port : mutualHttpsFront.port);

    it(`${protocol} to a collector that requires a client certificate, given by OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE / _CLIENT_KEY: every span arrives once`, async () => {
      const { stats, misconfigured, received } = await run({ env: env(mutualPort(), true) });
      expect(misconfigured).toEqual([]);
      expect(stats.exported).toBe(300);
      expect(received).toBe(300);
      expect([...collector.spans.values()].every((n) => n === 1)).toBe(true);
    });

    it(`${protocol} to the same collector without a client certificate: one tls fault naming the client certificate variables, no retries`, async () => {
      const { stats, misconfigured, received } = await run({ env: env(mutualPort(), false) });
      expect(misconfigured).toHaveLength(1);
      expect(misconfigured[0]?.fault.kind).toBe('tls');
      expect(misconfigured[0]?.fault.hint).toMatch(/client certificate.*OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE/);
      expect(stats.retried).toBe(0);
      expect(stats.dropped.rejected).toBe(300);
      expect(received).toBe(0);
    });
  }

  it('nothing escaped to the process, and nothing stays open once everything is closed', async () => {
    expect(faults.uncaught).toEqual([]);
    expect(faults.unhandled).toEqual([]);
    await Promise.all([
      httpsFront.close(),
      grpcsFront.close(),
      mutualHttpsFront.close(),
      mutualGrpcsFront.close(),
      collector.close(),
      certs.remove(),
    ]);
    expect(await settleHandles(baseline)).toEqual([]);
  });
});
