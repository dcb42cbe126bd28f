import { generateKeyPairSync } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { createChaosProxy } from '@holdfast/chaos';
import { exponential } from '@holdfast/core';
import { createTraceExporter, type MisconfiguredEvent } from '@holdfast/otlp';
import { startCollector } from './support/collector.js';
import { retryInfoTrailer, startGrpcStatusFront } from './support/grpc-status-front.js';
import { settleHandles } from './support/process-faults.js';
import { collectorSuite } from './support/suite.js';
import { expectEverySpanDelivered, sendAndShutDown, tracerWith } from './support/spans.js';

/**
 * The package's own OTLP/gRPC transport (createTraceExporter({ protocol: 'grpc' })):
 * one unary call per attempt carrying the protobuf request bytes, on a channel of its own.
 */
describe('OTLP/gRPC transport of the factories', () => {
  const suite = collectorSuite();
  const { faults } = suite;

  const options = {
    protocol: 'grpc' as const,
    env: {},
    timeoutMillis: 2_000,
    schedule: exponential({ initialMs: 20, maxMs: 50 }),
    breaker: false as const,
    shutdownTimeoutMs: 10_000,
  };

  for (const [code, name] of [
    [status.UNAVAILABLE, 'UNAVAILABLE'],
    [status.RESOURCE_EXHAUSTED, 'RESOURCE_EXHAUSTED'],
  ] as const) {
    it(`${name}: retried, then every span arrives once`, async () => {
      suite.collector.spans.clear();
      const front = await startGrpcStatusFront(suite.collector.grpcPort, code, 2);
      const exporter = createTraceExporter({ ...options, endpoint: front.url });
      const { ids, retries } = await sendAndShutDown(exporter, 100);
      await front.close();

      expect(retries.map((r) => r.fault.code).slice(0, 2)).toEqual([`GRPC_${name}`, `GRPC_${name}`]);
      expect(retries.every((r) => r.fault.transient)).toBe(true);
      expect(front.calls).toBe(3);
      expect(front.times[2]! - front.times[0]!).toBeLessThan(900);
      expect(exporter.stats().exported).toBe(100);
      expect(ids.filter((id) => suite.collector.spans.get(id) !== 1)).toEqual([]);
    });
  }

  it('RESOURCE_EXHAUSTED with RetryInfo of 1 s: retried no sooner than the collector asked, then every span arrives once', async () => {
    suite.collector.spans.clear();
    const front = await startGrpcStatusFront(
      suite.collector.grpcPort,
      status.RESOURCE_EXHAUSTED,
      1,
      'slow down',
      retryInfoTrailer(status.RESOURCE_EXHAUSTED, 1),
    );
    const exporter = createTraceExporter({ ...options, endpoint: front.url });
    const { ids, retries } = await sendAndShutDown(exporter, 100);
    await front.close();

    expect(retries.map((r) => [r.fault.code, r.fault.retryAfterMs])).toEqual([['GRPC_RESOURCE_EXHAUSTED', 1_000]]);
    // Without RetryInfo the schedule waits 20-50 ms (the case above); with it, about a second.
    expect(front.times.length).toBe(2);
    expect(front.times[1]! - front.times[0]!).toBeGreaterThanOrEqual(900);
    expect(exporter.stats().exported).toBe(100);
    expect(ids.filter((id) => suite.collector.spans.get(id) !== 1)).toEqual([]);
  });

  it('UNAUTHENTICATED: reported once with the headers hint, no retries, every lost span counted; headers travel as metadata', async () => {
    const front = await startGrpcStatusFront(suite.collector.grpcPort, status.UNAUTHENTICATED, Infinity, 'invalid api key');
    const exporter = createTraceExporter({ ...options, endpoint: front.url, headers: { 'X-Otlp-Api-Key': 'key-123' } });
    const misconfigured: MisconfiguredEvent[] = [];
    exporter.on('misconfigured', (event) => void misconfigured.push(event));
    const app = tracerWith(exporter, { scheduledDelayMillis: 20 });
    app.emit(100);
    await app.provider.forceFlush();
    app.emit(100);
    await app.provider.shutdown();
    await front.close();

    const stats = exporter.stats();
    expect(front.calls).toBe(2);
    expect(stats.retried).toBe(0);
    expect(stats.dropped.rejected).toBe(200);
    expect(misconfigured.map((m) => m.fault.code)).toEqual(['GRPC_UNAUTHENTICATED']);
    expect(misconfigured[0]?.fault.hint).toMatch(/headers/);
    expect(front.metadata.map((m) => m.get('x-otlp-api-key'))).toEqual([['key-123'], ['key-123']]);
  });

  it('gzip: the requests on the wire shrink, every span arrives once', async () => {
    const wire: Record<string, number> = {};
    for (const compression of ['none', 'gzip'] as const) {
      suite.collector.spans.clear();
      const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: suite.collector.grpcPort } });
      const exporter = createTraceExporter({ ...options, endpoint: proxy.url('http'), compression });
      const app = tracerWith(exporter, { scheduledDelayMillis: 20 });
      for (let i = 0; i < 300; i++) app.emit(1);
      await app.provider.shutdown();
      wire[compression] = proxy.stats().bytes.upstream;
      await proxy.close();
      expect(exporter.stats().exported).toBe(300);
      expect(app.ids.filter((id) => suite.collector.spans.get(id) !== 1)).toEqual([]);
    }
    console.log(`grpc wire bytes for 300 spans: none ${wire.none}, gzip ${wire.gzip}`);
    // Random trace and span ids do not compress; names, times and the resource do.
    expect(wire.gzip).toBeLessThan((wire.none ?? 0) * 0.8);
  });

  it('a collector restart (down 5 s) at 2 000 spans/s: every span arrives, duplicates stay within the reported possible duplicates', async () => {
    const { httpPort, grpcPort, spans } = suite.collector;
    spans.clear();
    const exporter = createTraceExporter({
      protocol: 'grpc',
      endpoint: suite.collector.grpcUrl,
      env: {},
      timeoutMillis: 2_000,
      shutdownTimeoutMs: 15_000,
    });
    const app = tracerWith(exporter);

    await app.produce(2_000, 500);
    await suite.collector.close();
    await app.produce(2_000, 5_000);
    suite.collector = await startCollector({ httpPort, grpcPort }, suite.collector);
    const restarted = Date.now();
    await app.produce(2_000, 500);
    await app.provider.shutdown();
    const caughtUpMs = Date.now() - restarted;

    const stats = exporter.stats();
    expect(app.ids.length).toBeGreaterThan(10_000);
    const duplicates = expectEverySpanDelivered(app.ids, spans, stats);
    console.log(
      `grpc factory: ${app.ids.length} spans, retried ${stats.retried}, possible duplicates ${stats.possibleDuplicates}, duplicates ${duplicates}, all delivered ${caughtUpMs} ms after the restart`,
    );
  }, 40_000);

  it('a header name gRPC metadata cannot carry, and TLS material grpc-js cannot use, are refused at construction, naming the options, never quoting the PEM', () => {
    expect(() => createTraceExporter({ protocol: 'grpc', env: {}, headers: { 'api key': 'v' } })).toThrow(/option 'headers'.*got "api key"/);
    const { privateKey } = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const endpoint = 'https://127.0.0.1:4317';
    expect(() => createTraceExporter({ protocol: 'grpc', env: {}, endpoint, key: privateKey })).toThrow(
      /needs both 'cert' .* and 'key' .*, got only 'key'/,
    );
    const badCert = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n';
    let message = '';
    try {
      createTraceExporter({ protocol: 'grpc', env: {}, endpoint, cert: badCert, key: privateKey });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/TLS material from 'ca' \/ 'cert' \/ 'key'.*cannot be used/);
    expect(message).not.toContain('bm90IGEgY2VydGlmaWNhdGU');
    expect(message).not.toContain(privateKey.split('\n')[1]);
  });

  it('nothing escaped to the process, and the channels are closed', async () => {
    expect(faults.uncaught).toEqual([]);
    expect(faults.unhandled).toEqual([]);
    await suite.collector.close();
    expect(await settleHandles(suite.baseline)).toEqual([]);
  });
});
