import diagnosticsChannel from 'node:diagnostics_channel';
import { getEventListeners } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { Agent } from 'undici';
import { createChaosProxy, type ChaosProxy } from '@holdfast/chaos';
import { RetryBudget, RetryError, constant } from '@holdfast/core';
import { httpSource } from '@holdfast/http';
import { SourceError, resumablePipeline, type ResumableSource } from '@holdfast/stream';
import { describe, expect, it } from 'vitest';
import { injectFaults } from './support/faults.js';
import { guardEachTest, until } from './support/guard.js';
import { randomEntity, startRangeServer, type Entity } from './support/range-server.js';
import { CollectSink, HashSink } from './support/sinks.js';

const resources = guardEachTest();

/** The entity behind a chaos proxy, read through an Agent without undici's own timers (so every timer left is the pipe's). */
async function behindProxy(entity: Entity): Promise<{ proxy: ChaosProxy; url: string; source: ResumableSource }> {
  const server = resources.add(await startRangeServer(entity));
  const proxy = resources.add(await createChaosProxy({ upstream: { host: '127.0.0.1', port: server.port } }));
  const dispatcher = resources.add(new Agent({ headersTimeout: 0, bodyTimeout: 0 }));
  const url = `${proxy.url()}/file.bin`;
  return { proxy, url, source: httpSource(url, { dispatcher }) };
}

const count = (kind: string): number => process.getActiveResourcesInfo().filter((r) => r === kind).length;

/** A source of `size` bytes made in memory, in chunks of `chunk`, counting what it produced. */
function memorySource(data: Buffer, chunk = 16 * 1024): ResumableSource & { produced: number } {
  const source = Object.assign(
    (offset: number, context: { setTotal(bytes: number): void }) => {
      context.setTotal(data.length);
      let at = offset;
      return new Readable({
        highWaterMark: chunk,
        read() {
          if (at >= data.length) return void this.push(null);
          const piece = data.subarray(at, Math.min(at + chunk, data.length));
          at += piece.length;
          source.produced += piece.length;
          this.push(piece);
        },
      });
    },
    { produced: 0 },
  );
  return source;
}

describe('stream.pipeline semantics', () => {
  it('aborting mid-transfer rejects with an AbortError, destroys the destination, and leaves no socket, timer or listener', async () => {
    const entity = randomEntity(8 * 1024 * 1024, 51);
    const { proxy, source } = await behindProxy(entity);
    proxy.addToxic({ type: 'bandwidth', attributes: { rate: 2_000 } });
    const sockets = count('TCPSocketWrap');
    const timers = count('Timeout');
    const controller = new AbortController();
    const sink = new CollectSink();
    const pipe = resumablePipeline(source, sink, { signal: controller.signal, progressIntervalMs: 0 });
    pipe.on('progress', (e) => {
      if (e.bytes > 100_000) controller.abort();
    });
    const error = await pipe.catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(sink.destroyed).toBe(true);
    expect(sink.data.equals(entity.body.subarray(0, sink.data.length))).toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(count('Timeout')).toBeLessThanOrEqual(timers);
    await until(() => proxy.connections().length === 0 && count('TCPSocketWrap') <= sockets, 'the sockets to close');
  });

  it('aborting while it waits to reopen ends the wait at once, with no timer left', async () => {
    const entity = randomEntity(1024 * 1024, 52);
    const { proxy, source } = await behindProxy(entity);
    injectFaults(proxy, [{ type: 'reset_peer', afterBytes: 50_000 }]);
    const timers = count('Timeout');
    const controller = new AbortController();
    const pipe = resumablePipeline(source, new CollectSink(), { signal: controller.signal, schedule: constant(60_000) });
    let abortedAt = 0;
    pipe.on('resume', () => {
      abortedAt = performance.now();
      controller.abort();
    });
    await expect(pipe).rejects.toMatchObject({ name: 'AbortError' });
    expect(performance.now() - abortedAt).toBeLessThan(1_000);
    expect(count('Timeout')).toBeLessThanOrEqual(timers);
  });

  it('close() stops the pipe, may be called twice, and resolves once nothing is left; the pipe rejects with an AbortError', async () => {
    const entity = randomEntity(4 * 1024 * 1024, 53);
    const { proxy, source } = await behindProxy(entity);
    proxy.addToxic({ type: 'bandwidth', attributes: { rate: 2_000 } });
    const sink = new CollectSink();
    const pipe = resumablePipeline(source, sink);
    await until(() => pipe.stats().bytes > 0, 'the first bytes');
    const closing = [pipe.close(), pipe.close()];
    await Promise.all(closing);
    await expect(pipe).rejects.toMatchObject({ name: 'AbortError' });
    expect(sink.destroyed).toBe(true);
    await expect(pipe.close()).resolves.toBeUndefined();
    await until(() => proxy.connections().length === 0, 'the connection to close');
  });

  it('a failing destination ends the pipe with its error; the source is not reopened', async () => {
    const entity = randomEntity(4 * 1024 * 1024, 54);
    const { proxy, source } = await behindProxy(entity);
    let written = 0;
    const failing = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.length;
        callback(written > 200_000 ? Object.assign(new Error('disk full'), { code: 'ENOSPC' }) : null);
      },
    });
    const pipe = resumablePipeline(source, failing);
    await expect(pipe).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(pipe.stats()).toMatchObject({ opens: 1, resumes: 0 });
    await until(() => proxy.connections().length === 0, 'the source connection to close');
  });

  it('backpressure reaches the source, across continuations: it never runs more than the buffers ahead of a slow destination', async () => {
    const data = randomEntity(2 * 1024 * 1024, 55).body;
    const memory = memorySource(data);
    // The source ends cleanly every 800 000 bytes: the pipe opens it again from there.
    let opens = 0;
    const source: ResumableSource = (offset, context) => {
      opens++;
      const full = memory(offset, context) as Readable;
      const stopAt = Math.min(data.length, offset + 800_000);
      return Readable.from(
        (async function* () {
          let at = offset;
          for await (const chunk of full as AsyncIterable<Buffer>) {
            const piece = chunk.subarray(0, Math.min(chunk.length, stopAt - at));
            at += piece.length;
            yield piece;
            if (at >= stopAt) return;
          }
        })(),
        { objectMode: false, highWaterMark: 16 * 1024 },
      );
    };
    let consumed = 0;
    let mostAhead = 0;
    const slow = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        consumed += chunk.length;
        mostAhead = Math.max(mostAhead, memory.produced - consumed);
        setTimeout(callback, 1);
      },
    });
    await resumablePipeline(source, slow, { highWaterMark: 64 * 1024 });
    expect(consumed).toBe(data.length);
    expect(opens).toBe(3);
    // Each stage holds up to its highWaterMark plus a chunk (the pipe's 64 KiB, the destination's and the sources' 16 KiB):
    // a few hundred KiB, where a source nothing held back runs each piece's 800 000 bytes ahead.
    expect(mostAhead).toBeLessThanOrEqual(320 * 1024);
  });

  it('an already aborted signal never opens the source', async () => {
    let opened = 0;
    const pipe = resumablePipeline(
      () => {
        opened++;
        return Readable.from([Buffer.from('x')]);
      },
      new CollectSink(),
      { signal: AbortSignal.abort() },
    );
    await expect(pipe).rejects.toMatchObject({ name: 'AbortError' });
    expect(opened).toBe(0);
  });
});

describe('retry policy: attempts, deadline, budget, shouldRetry', () => {
  it('gives up after `attempts` tries with a RetryError that says why, after a give-up event', async () => {
    const entity = randomEntity(1024 * 1024, 61);
    const { proxy, source } = await behindProxy(entity);
    injectFaults(proxy, [
      { type: 'reset_peer', afterBytes: 50_000 },
      { type: 'reset_peer', afterBytes: 50_000 },
      { type: 'reset_peer', afterBytes: 50_000 },
    ]);
    const pipe = resumablePipeline(source, new CollectSink(), { attempts: 3, schedule: constant(0) });
    const giveUps: unknown[] = [];
    pipe.on('give-up', (e) => giveUps.push(e));
    const error = await pipe.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    expect(error).toMatchObject({ reason: 'attempts-exhausted', attempts: 3 });
    expect(giveUps).toEqual([expect.objectContaining({ event: 'give-up', name: 'stream', attempts: 3, reason: 'attempts-exhausted' })]);
    expect((giveUps[0] as { offset: number }).offset).toBe(pipe.stats().bytes);
  });

  it('the deadline bounds the whole transfer, a stalled open included', async () => {
    const entity = randomEntity(100_000, 62);
    const { proxy, source } = await behindProxy(entity);
    proxy.addToxic({ type: 'timeout', stream: 'upstream', attributes: { timeout: 0 } });
    const started = performance.now();
    const error = await resumablePipeline(source, new CollectSink(), { deadlineMs: 300, attempts: Number.POSITIVE_INFINITY }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RetryError);
    expect((error as RetryError).reason).toBe('deadline');
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('a shared RetryBudget that is empty refuses the reopen', async () => {
    const entity = randomEntity(1024 * 1024, 63);
    const { proxy, source } = await behindProxy(entity);
    injectFaults(proxy, [{ type: 'reset_peer', afterBytes: 50_000 }]);
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0 });
    const error = await resumablePipeline(source, new CollectSink(), { budget, schedule: constant(0) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'budget-exhausted' });
  });

  it('shouldRetry may refuse a reopen; it is told the fault and the attempt', async () => {
    const entity = randomEntity(1024 * 1024, 64);
    const { proxy, source } = await behindProxy(entity);
    injectFaults(proxy, [{ type: 'limit_data', afterBytes: 50_000 }]);
    const asked: [string, number][] = [];
    const error = await resumablePipeline(source, new CollectSink(), {
      shouldRetry: (fault, attempt) => {
        asked.push([fault.kind, attempt]);
        return false;
      },
    }).catch((e: unknown) => e);
    expect(asked).toEqual([['closed', 1]]);
    expect(error).toMatchObject({ reason: 'should-retry' });
  });
});

describe('events', () => {
  it('progress, resume and give-up carry the shared shapes and are published once each on holdfast:stream', async () => {
    const entity = randomEntity(2 * 1024 * 1024, 71);
    const { proxy, source } = await behindProxy(entity);
    injectFaults(proxy, [{ type: 'reset_peer', afterBytes: 300_000 }]);
    const published: { event: string }[] = [];
    const onMessage = (message: unknown): void => void published.push(message as { event: string });
    diagnosticsChannel.subscribe('holdfast:stream', onMessage);
    try {
      const pipe = resumablePipeline(source, new HashSink(), { schedule: constant(0), progressIntervalMs: 0, name: 'download' });
      const heard: { event: string; bytes?: number }[] = [];
      pipe.on('progress', (e) => heard.push(e));
      pipe.on('resume', (e) => heard.push(e));
      await pipe;
      const resume = heard.find((e) => e.event === 'resume');
      // A RST arriving with data may surface as the end of the socket (undici: "other side closed") rather than ECONNRESET.
      expect(resume).toMatchObject({ name: 'download', attempt: 1, delayMs: 0, offset: expect.any(Number), fault: { transient: true } });
      expect(['ECONNRESET', 'UND_ERR_SOCKET']).toContain((resume as unknown as { fault: { code: string } }).fault.code);
      const progress = heard.filter((e) => e.event === 'progress').map((e) => e.bytes!);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      expect(progress.at(-1)).toBe(entity.body.length);
      expect(heard.at(-1)).toMatchObject({ event: 'progress', bytes: entity.body.length, total: entity.body.length, resumes: 1 });
      expect(published.map((e) => e.event)).toEqual(heard.map((e) => e.event));
    } finally {
      diagnosticsChannel.unsubscribe('holdfast:stream', onMessage);
    }
  });

  it('a listener that throws becomes a process warning; the transfer goes on', async () => {
    const entity = randomEntity(300_000, 72);
    const { source } = await behindProxy(entity);
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const sink = new HashSink();
      const pipe = resumablePipeline(source, sink, { progressIntervalMs: 0 });
      pipe.once('progress', () => {
        throw new Error('listener bug');
      });
      await pipe;
      expect(sink.sha256).toBe(entity.sha256);
      await until(() => warnings.length > 0, 'the warning');
      expect(warnings[0]).toContain('listener bug');
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('what a source must do', () => {
  it('open() must return a Readable (or a promise of one)', async () => {
    const error = await resumablePipeline(() => 'nope' as never, new CollectSink()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/must return a Readable or a promise of one, got string/);
    const lookAlike = { on: () => lookAlike, pause: () => lookAlike, resume: () => lookAlike, destroy: () => lookAlike };
    const notWatchable = await resumablePipeline(() => lookAlike as never, new CollectSink()).catch((e: unknown) => e);
    expect(notWatchable).toBeInstanceOf(TypeError);
    expect((notWatchable as Error).message).toMatch(/stream.finished\(\) cannot watch/);
  });

  it('the source must deliver bytes, not strings', async () => {
    const error = await resumablePipeline(() => Readable.from(['text']), new CollectSink()).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/must deliver bytes/);
  });

  it('more bytes than the stated length, or another length later: a SourceError that is not retried', async () => {
    const tooLong = await resumablePipeline((_offset, context) => {
      context.setTotal(3);
      return Readable.from([Buffer.from('abcd')]);
    }, new CollectSink()).catch((e: unknown) => e);
    expect(tooLong).toBeInstanceOf(SourceError);
    expect(tooLong).toMatchObject({ reason: 'too-long', fault: { transient: false } });

    let opens = 0;
    const changing = await resumablePipeline((_offset, context) => {
      context.setTotal(++opens === 1 ? 10 : 11);
      return Readable.from(opens === 1 ? [Buffer.from('abc')] : []);
    }, new CollectSink()).catch((e: unknown) => e);
    expect(changing).toMatchObject({ reason: 'length-changed' });
  });

  it('a source that ends before its length without delivering anything is a transient fault: retried, then given up', async () => {
    const error = await resumablePipeline(
      (_offset, context) => {
        context.setTotal(10);
        return Readable.from([]);
      },
      new CollectSink(),
      { attempts: 2, schedule: constant(0) },
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'attempts-exhausted', attempts: 2, fault: { code: 'HOLDFAST_STREAM_ENDED_EARLY' } });
  });
});

describe('options are checked when the pipe is made', () => {
  const sink = (): Writable => new CollectSink();
  it.each([
    [() => resumablePipeline('http://x' as never, sink()), /the first argument must be a function/],
    [() => resumablePipeline(() => Readable.from([]), {}), /a destination is required/],
    [() => resumablePipeline(() => Readable.from([]), sink(), { retries: 3 } as never), /unknown option 'retries' \(did you mean attempts/],
    [
      () => resumablePipeline(() => Readable.from([]), sink(), { stallTimeout: 5 } as never),
      /unknown option 'stallTimeout' \(did you mean stallTimeoutMs/,
    ],
    [() => resumablePipeline(() => Readable.from([]), sink(), { attempts: 0 }), /option 'attempts' must be an integer >= 1, or Infinity, got 0/],
    [
      () => resumablePipeline(() => Readable.from([]), sink(), { stallTimeoutMs: 0 }),
      /option 'stallTimeoutMs' must be an integer number of milliseconds from 1/,
    ],
    [() => resumablePipeline(() => Readable.from([]), sink(), { budget: {} as never }), /option 'budget' must be a RetryBudget/],
    [() => resumablePipeline(() => Readable.from([]), sink(), { signal: 'stop' as never }), /option 'signal' must be an AbortSignal/],
  ])('%#: a mistake throws at once, naming the option and what is accepted', (make, message) => {
    expect(make).toThrow(message);
  });
});
