import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChaosProxy } from '@holdfast/chaos';
import { exponential } from '@holdfast/core';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { createTraceExporter, resilientExporter } from '@holdfast/otlp';
import { startCollector, type Collector } from './support/collector.js';
import { openHandles, settleHandles, watchProcessFaults } from './support/process-faults.js';
import { tracerWith } from './support/spans.js';

/**
 * The spool keeps what could not be delivered across an app restart: a first
 * exporter shuts down while the collector is unreachable, and a second one
 * (the restarted app, same spoolDir) sends those batches before anything else.
 */
describe('disk spool (spoolDir)', () => {
  const faults = watchProcessFaults();
  let collector: Collector;
  let spoolDir: string;
  let baseline: string[];

  beforeAll(async () => {
    baseline = openHandles();
    collector = await startCollector();
    spoolDir = await mkdtemp(join(tmpdir(), 'holdfast-otlp-spool-'));
  });
  afterAll(async () => {
    faults.stop();
    await rm(spoolDir, { recursive: true, force: true });
  });

  // gRPC sends the same protobuf request bytes as http/protobuf: a spool written by one is replayed by the other.
  const cases = [
    ['http/protobuf', 'http/protobuf'],
    ['http/json', 'http/json'],
    ['grpc', 'grpc'],
    ['grpc', 'http/protobuf'],
  ] as const;
  for (const [protocol, replayProtocol] of cases) {
    const title = protocol === replayProtocol ? protocol : `${protocol}, replayed over ${replayProtocol}`;
    it(`${title}: batches undelivered at shutdown survive the restart and arrive exactly once`, async () => {
      collector.spans.clear();
      const portOf = (p: string) => (p === 'grpc' ? collector.grpcPort : collector.httpPort);
      const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: portOf(protocol) } });
      const options = {
        protocol,
        endpoint: proxy.url('http'),
        env: {},
        spoolDir,
        timeoutMillis: 500,
        schedule: exponential({ initialMs: 50, maxMs: 200 }),
      };
      await proxy.disable();

      const before = createTraceExporter({ ...options, shutdownTimeoutMs: 500 });
      const first = tracerWith(before, { scheduledDelayMillis: 20 });
      first.emit(300);
      await first.provider.forceFlush();
      first.emit(300);
      await first.provider.shutdown();
      const kept = before.stats();
      expect(kept.dropped.total).toBe(0);
      expect(kept.exported).toBe(0);
      expect(kept.spool.written).toBe(600);
      expect((await readdir(spoolDir)).length).toBe(kept.spool.files);
      expect(collector.spans.size).toBe(0);

      await proxy.close();
      const replayProxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: portOf(replayProtocol) } });
      const after = createTraceExporter({ ...options, protocol: replayProtocol, endpoint: replayProxy.url('http'), shutdownTimeoutMs: 10_000 });
      const second = tracerWith(after, { scheduledDelayMillis: 20 });
      second.emit(100);
      await second.provider.shutdown();
      await replayProxy.close();

      const stats = after.stats();
      expect(stats.spool.restored).toBe(600);
      expect(stats.exported).toBe(700);
      expect([...first.ids, ...second.ids].filter((id) => collector.spans.get(id) !== 1)).toEqual([]);
      expect(await readdir(spoolDir)).toEqual([]);
      expect(stats.spool.files).toBe(0);
    });
  }

  it('refuses spoolDir for an exporter that cannot encode its batches, naming the option', () => {
    const plain = new GrpcTraceExporter({ url: collector.grpcUrl });
    expect(() => resilientExporter(plain, { spoolDir })).toThrow(
      /option 'spoolDir' needs an exporter that can encode its batches.*got a wrapped exporter/,
    );
    expect(() => createTraceExporter({ env: {}, spoolDir: '' })).toThrow(/option 'spoolDir' must be a directory path/);
  });

  it('nothing escaped to the process, and nothing stays open', async () => {
    expect(faults.uncaught).toEqual([]);
    expect(faults.unhandled).toEqual([]);
    await collector.close();
    expect(await settleHandles(baseline)).toEqual([]);
  });
});
