import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { createChaosProxy, type ChaosProxy } from '@holdfast/chaos';
import { constant } from '@holdfast/core';
import { httpSource } from '@holdfast/http';
import { SourceError, fileSource, resumablePipeline } from '@holdfast/stream';
import { describe, expect, it } from 'vitest';
import { startChildServer } from '../../../test/bench/lib/child-server.js';
import { rangeServerSource, type RangeServerStats } from '../../../test/bench/lib/range-server-process.js';
import { guardEachTest } from './support/guard.js';
import { randomEntity, startRangeServer, type Entity } from './support/range-server.js';
import { HashSink } from './support/sinks.js';

const resources = guardEachTest();
const STALL_MS = 300;

async function behindProxy(entity: Entity): Promise<{ proxy: ChaosProxy; url: string; dispatcher: Agent }> {
  const server = resources.add(await startRangeServer(entity));
  const proxy = resources.add(await createChaosProxy({ upstream: { host: '127.0.0.1', port: server.port } }));
  const dispatcher = resources.add(new Agent());
  return { proxy, dispatcher, url: `${proxy.url()}/file.bin` };
}

describe('stall detection counts only the time the pipe waits for the source', () => {
  it('a consumer that keeps the pipe full for twice stallTimeoutMs at a time is not a stall', async () => {
    const entity = randomEntity(1024 * 1024, 41);
    const { dispatcher, url } = await behindProxy(entity);
    // The first three writes take 2 x stallTimeoutMs each; the source has long filled the pipe by then.
    const sink = new HashSink((write) => (write < 3 ? 2 * STALL_MS : 0));
    const pipe = resumablePipeline(httpSource(url, { dispatcher }), sink, { stallTimeoutMs: STALL_MS });
    await pipe;
    expect(sink.sha256).toBe(entity.sha256);
    expect(pipe.stats()).toMatchObject({ stalls: 0, resumes: 0, opens: 1 });
  });

  it('a server that goes silent while a slow consumer holds the pipe: detected once the pipe waits, resumed, exact bytes', async () => {
    const entity = randomEntity(1024 * 1024, 42);
    const { proxy, dispatcher, url } = await behindProxy(entity);
    // 4 MB/s, so that little is in flight when the server falls silent (loopback buffers hold megabytes otherwise).
    proxy.addToxic({ name: 'throttle', type: 'bandwidth', attributes: { rate: 4_000 } });
    // The server falls silent (the connection stays open, nothing arrives) the moment the consumer starts its first slow write.
    const sink = new HashSink((write) => {
      if (write === 0) proxy.addToxic({ name: 'silence', type: 'timeout', attributes: { timeout: 0 } });
      return write < 3 ? 2 * STALL_MS : 0;
    });
    const pipe = resumablePipeline(httpSource(url, { dispatcher }), sink, { stallTimeoutMs: STALL_MS, schedule: constant(0) });
    const faults: string[] = [];
    pipe.on('resume', (e) => {
      faults.push(e.fault.code);
      proxy.removeToxic('silence');
    });
    await pipe;
    expect(faults).toEqual(['HOLDFAST_STREAM_STALLED']);
    expect(pipe.stats()).toMatchObject({ stalls: 1, resumes: 1, opens: 2 });
    expect(sink.sha256).toBe(entity.sha256);
  });

  it('an event loop blocked for longer than stallTimeoutMs is not a stall when bytes are waiting in the socket', async () => {
    // The server in a process of its own, so that it keeps sending while this one is blocked.
    const server = resources.add(await startChildServer(rangeServerSource(8 * 1024 * 1024)));
    const dispatcher = resources.add(new Agent());
    const sink = new HashSink();
    const pipe = resumablePipeline(httpSource(`${server.url}/file.bin`, { dispatcher }), sink, { stallTimeoutMs: 100, progressIntervalMs: 0 });
    let blocked = false;
    pipe.on('progress', (e) => {
      if (blocked || e.bytes < 500_000) return;
      blocked = true;
      // A task of the application's holds the loop for 3x stallTimeoutMs (a long synchronous job, or a GC) while the
      // server keeps sending; the next turn of the loop runs the pipe's due timer before it reads any socket.
      setImmediate(() => {
        const until = performance.now() + 300;
        while (performance.now() < until);
      });
    });
    await pipe;
    const { sha256a } = JSON.parse(await server.command('stats')) as RangeServerStats;
    expect(blocked).toBe(true);
    expect(pipe.stats()).toMatchObject({ stalls: 0, opens: 1 });
    expect(sink.sha256).toBe(sha256a);
  });

  it('a server that never answers the request: the open itself stalls, and is retried', async () => {
    const entity = randomEntity(100_000, 43);
    const { proxy, dispatcher, url } = await behindProxy(entity);
    proxy.addToxic({ name: 'silence', type: 'timeout', stream: 'upstream', attributes: { timeout: 0 } });
    const sink = new HashSink();
    const pipe = resumablePipeline(httpSource(url, { dispatcher }), sink, { stallTimeoutMs: STALL_MS, schedule: constant(0) });
    pipe.on('resume', () => proxy.removeToxic('silence'));
    const started = performance.now();
    await pipe;
    expect(performance.now() - started).toBeGreaterThanOrEqual(STALL_MS - 5);
    expect(pipe.stats()).toMatchObject({ stalls: 1, resumes: 1 });
    expect(sink.sha256).toBe(entity.sha256);
  });

  it('an open() whose promise never settles is abandoned (its signal aborted) and the source opened again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'holdfast-stall-'));
    resources.add({ close: () => rm(dir, { recursive: true, force: true }) });
    const path = join(dir, 'data.bin');
    const entity = randomEntity(200_000, 44);
    await writeFile(path, entity.body);
    const file = fileSource(path);
    let abandoned: unknown;
    const sink = new HashSink();
    const pipe = resumablePipeline(
      (offset, context) => {
        if (context.attempt > 1) return file(offset, context);
        context.signal.addEventListener('abort', () => (abandoned = context.signal.reason as unknown));
        return new Promise(() => undefined);
      },
      sink,
      { stallTimeoutMs: 100, schedule: constant(0) },
    );
    await pipe;
    expect(abandoned).toBeInstanceOf(SourceError);
    expect((abandoned as SourceError).reason).toBe('stalled');
    expect(sink.sha256).toBe(entity.sha256);
  });

  it('stallTimeoutMs: Infinity turns detection off (no timer is armed)', async () => {
    const entity = randomEntity(100_000, 45);
    const { dispatcher, url } = await behindProxy(entity);
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    let during = 0;
    const sink = new HashSink();
    const pipe = resumablePipeline(httpSource(url, { dispatcher }), sink, { stallTimeoutMs: Number.POSITIVE_INFINITY });
    pipe.on('progress', () => (during = Math.max(during, process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length)));
    await pipe;
    expect(sink.sha256).toBe(entity.sha256);
    expect(during).toBeLessThanOrEqual(before);
  });
});
