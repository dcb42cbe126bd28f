import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChaosProxy } from '@holdfast/chaos';
import { exponential } from '@holdfast/core';
import { createTraceExporter } from '@holdfast/otlp';
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

  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    it(`${protocol}: batches undelivered at shutdown survive the restart and arrive exactly once`, async () => {
      collector.spans.clear();
      const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: collector.httpPort } });
      const options = { protocol, endpoint: proxy.url('http'), env: {}, spoolDir, timeoutMillis: 500, schedule: exponential({ initialMs: 50, maxMs: 200 }) };
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

      await proxy.enable();
      const after = createTraceExporter({ ...options, shutdownTimeoutMs: 10_000 });
      const second = tracerWith(after, { scheduledDelayMillis: 20 });
      second.emit(100);
      await second.provider.shutdown();
      await proxy.close();

      const stats = after.stats();
      expect(stats.spool.restored).toBe(600);
      expect(stats.exported).toBe(700);
      expect([...first.ids, ...second.ids].filter((id) => collector.spans.get(id) !== 1)).toEqual([]);
      expect(await readdir(spoolDir)).toEqual([]);
      expect(stats.spool.files).toBe(0);
    });
  }

  it('refuses spoolDir for an exporter that cannot encode its batches, naming the option', () => {
    expect(() => createTraceExporter({ protocol: 'grpc', endpoint: collector.grpcUrl, env: {}, spoolDir })).toThrow(/option 'spoolDir'.*protocol 'grpc'/);
    expect(() => createTraceExporter({ env: {}, spoolDir: '' })).toThrow(/option 'spoolDir' must be a directory path/);
  });

  it('nothing escaped to the process, and nothing stays open', async () => {
    expect(faults.uncaught).toEqual([]);
    expect(faults.unhandled).toEqual([]);
    await collector.close();
    expect(await settleHandles(baseline)).toEqual([]);
  });
});
