import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, gzipSync } from 'node:zlib';
import { Agent } from 'undici';
import { createChaosProxy } from '@holdfast/chaos';
import { constant } from '@holdfast/core';
import { httpSource } from '@holdfast/http';
import { resumablePipeline } from '@holdfast/stream';
import { describe, expect, it } from 'vitest';
import { injectFaults, randomPlan, seededRandom } from './support/faults.js';
import { guardEachTest } from './support/guard.js';
import { randomEntity, sha256, startRangeServer, type Entity } from './support/range-server.js';
import { HashSink } from './support/sinks.js';

const resources = guardEachTest();
const MiB = 1024 * 1024;

/** The entity served on loopback behind a chaos proxy, read through a dispatcher of the test's own. */
async function behindProxy(entity: Entity, mode?: Parameters<typeof startRangeServer>[1]) {
  const server = resources.add(await startRangeServer(entity, mode));
  const proxy = resources.add(await createChaosProxy({ upstream: { host: '127.0.0.1', port: server.port } }));
  const dispatcher = resources.add(new Agent());
  return { server, proxy, dispatcher, url: `${proxy.url()}/file.bin` };
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

describe('a download through real resets and truncations', () => {
  it('50 MB of random bytes, cut 10 times at random offsets (RST or FIN): the file is exact, and every Range starts at the delivered offset', async () => {
    const entity = randomEntity(50 * MiB, 12);
    const { server, proxy, dispatcher, url } = await behindProxy(entity);
    const fired = injectFaults(proxy, randomPlan(10, seededRandom(12), 1_000, 4 * MiB));
    const dir = await mkdtemp(join(tmpdir(), 'holdfast-stream-'));
    resources.add({ close: () => rm(dir, { recursive: true, force: true }) });
    const path = join(dir, 'download.bin');

    const pipe = resumablePipeline(httpSource(url, { dispatcher }), createWriteStream(path), { schedule: constant(0), attempts: 11 });
    const resumes: { offset: number; code: string }[] = [];
    pipe.on('resume', (e) => resumes.push({ offset: e.offset, code: e.fault.code }));
    await pipe;

    expect(fired()).toBe(10);
    expect(await fileSha256(path)).toBe(entity.sha256);
    expect(resumes).toHaveLength(10);
    // The first request asks for the whole entity; each later one for exactly the bytes not yet delivered, guarded by the ETag.
    expect(server.log.map((r) => r.range)).toEqual([undefined, ...resumes.map((r) => `bytes=${r.offset}-`)]);
    expect(server.log.slice(1).every((r) => r.ifMatch === entity.etag && r.ifRange === entity.etag && r.acceptEncoding === 'identity')).toBe(true);
    expect(pipe.stats()).toEqual({ bytes: entity.body.length, total: entity.body.length, opens: 11, resumes: 10, stalls: 0 });
    // Each cut surfaced as a transient fault: ECONNRESET for a RST, undici's "other side closed" for a FIN (and for a RST that came with data).
    expect(resumes.every((r) => r.code === 'ECONNRESET' || r.code === 'UND_ERR_SOCKET')).toBe(true);
  }, 60_000);

  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])('seed %i: 4 MB cut 5 times at random offsets arrives exact', async (seed) => {
    const entity = randomEntity(4 * MiB, seed);
    const { server, proxy, dispatcher, url } = await behindProxy(entity);
    const fired = injectFaults(proxy, randomPlan(5, seededRandom(seed), 100, 700_000));
    const sink = new HashSink();
    const pipe = resumablePipeline(httpSource(url, { dispatcher }), sink, { schedule: constant(0), attempts: 6 });
    const offsets: number[] = [];
    pipe.on('resume', (e) => offsets.push(e.offset));
    await pipe;
    expect(fired()).toBe(5);
    expect(sink.sha256).toBe(entity.sha256);
    expect(sink.bytes).toBe(entity.body.length);
    expect(server.log.map((r) => r.range)).toEqual([undefined, ...offsets.map((o) => `bytes=${o}-`)]);
  });

  it('a transform is never restarted: a gzip file resumed mid-stream still inflates to the original', async () => {
    const original = randomEntity(3 * MiB, 99).body;
    const zipped = gzipSync(original, { level: 1 });
    const { proxy, dispatcher, url } = await behindProxy({ body: zipped, etag: '"gz1"' });
    injectFaults(proxy, [
      { type: 'reset_peer', afterBytes: 200_000 },
      { type: 'limit_data', afterBytes: 900_000 },
    ]);
    const sink = new HashSink();
    const pipe = resumablePipeline(httpSource(url, { dispatcher }), createGunzip(), sink, { schedule: constant(0) });
    await pipe;
    expect(pipe.stats().resumes).toBe(2);
    expect(sink.sha256).toBe(sha256(original));
  });

  it('an async generator transform sees one continuous stream across a resume', async () => {
    const entity = randomEntity(2 * MiB, 5);
    const { proxy, dispatcher, url } = await behindProxy(entity);
    injectFaults(proxy, [{ type: 'reset_peer', afterBytes: 300_000 }]);
    let seen = 0;
    const sink = new HashSink();
    await resumablePipeline(
      httpSource(url, { dispatcher }),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          seen += chunk.length;
          yield chunk;
        }
      },
      sink,
      { schedule: constant(0) },
    );
    expect(seen).toBe(entity.body.length);
    expect(sink.sha256).toBe(entity.sha256);
  });

  it('a connection closed after the last byte of a chunked answer: the resume gets 416 for the end, and the pipe completes', async () => {
    const entity = randomEntity(300_000, 3);
    const server = resources.add(await startRangeServer(entity, 'chunked'));
    const dispatcher = resources.add(new Agent());
    let first = true;
    server.intercept = (_req, res) => {
      if (!first) return false;
      first = false;
      // Every byte of the entity, then the connection closes before the chunked encoding's last chunk.
      res.writeHead(200, { etag: entity.etag, 'last-modified': entity.lastModified });
      res.write(entity.body, () => res.socket?.destroy());
      return true;
    };
    const sink = new HashSink();
    const pipe = resumablePipeline(httpSource(server.url, { dispatcher }), sink, { schedule: constant(0) });
    await pipe;
    expect(server.log.map((r) => r.range)).toEqual([undefined, `bytes=${entity.body.length}-`]);
    expect(sink.sha256).toBe(entity.sha256);
    expect(pipe.stats()).toMatchObject({ bytes: entity.body.length, total: entity.body.length, resumes: 1 });
  });

  it('a server that answers a resume in pieces of 256 KiB is read to the end: only the reset costs an attempt', async () => {
    const entity = randomEntity(MiB + 1000, 8);
    const { server, proxy, dispatcher, url } = await behindProxy(entity);
    injectFaults(proxy, [{ type: 'limit_data', afterBytes: 50_000 }]);
    const piece = 256 * 1024;
    server.intercept = (req, res) => {
      const from = /^bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1];
      if (from === undefined) return false;
      const start = Number(from);
      const end = Math.min(start + piece, entity.body.length) - 1;
      res.writeHead(206, { etag: entity.etag, 'content-range': `bytes ${start}-${end}/${entity.body.length}`, 'content-length': end - start + 1 });
      res.end(entity.body.subarray(start, end + 1));
      return true;
    };
    const sink = new HashSink();
    const pipe = resumablePipeline(httpSource(url, { dispatcher }), sink, { attempts: 2, schedule: constant(0) });
    await pipe;
    expect(sink.sha256).toBe(entity.sha256);
    // The first answer, cut after about 50 000 bytes, then four pieces: one retry, three continuations.
    expect(pipe.stats()).toMatchObject({ opens: 5, resumes: 1 });
  });

  it('a 503 with Retry-After on a resume is waited out, then the transfer completes', async () => {
    const entity = randomEntity(MiB, 21);
    const { server, proxy, dispatcher, url } = await behindProxy(entity);
    injectFaults(proxy, [{ type: 'reset_peer', afterBytes: 100_000 }]);
    let busy = 1;
    server.intercept = (req, res) => {
      if (req.headers.range === undefined || busy-- <= 0) return false;
      res.writeHead(503, { 'retry-after': '0' }).end('busy');
      return true;
    };
    const sink = new HashSink();
    const pipe = resumablePipeline(httpSource(url, { dispatcher }), sink, { schedule: constant(0) });
    const codes: string[] = [];
    pipe.on('resume', (e) => codes.push(e.fault.code));
    await pipe;
    expect(codes).toHaveLength(2);
    expect(codes[1]).toBe('HTTP_503');
    expect(sink.sha256).toBe(entity.sha256);
  });
});
