import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent } from 'undici';
import { createChaosProxy } from '@holdfast/chaos';
import { HoldfastError, constant } from '@holdfast/core';
import { RangeNotResumableError, httpSource, type HttpSourceOptions, type RangeRefusal } from '@holdfast/http';
import { resumablePipeline } from '@holdfast/stream';
import { describe, expect, it } from 'vitest';
import { injectFaults } from './support/faults.js';
import { guardEachTest } from './support/guard.js';
import { randomEntity, startRangeServer, type Entity, type RangeServer, type ServerMode } from './support/range-server.js';
import { CollectSink } from './support/sinks.js';

const resources = guardEachTest();
const SIZE = 1024 * 1024;
const original = randomEntity(SIZE, 31);
const changed = randomEntity(SIZE, 32);

interface Outcome {
  readonly error: unknown;
  readonly output: Buffer;
  readonly destinationDestroyed: boolean;
  readonly server: RangeServer;
  readonly giveUps: string[];
}

/**
 * Downloads `entity` through a proxy that cuts the first connection after
 * 200 000 bytes (a FIN mid-body), from a server in `mode`; `onResume` may
 * change the server when the resume arrives, or answer it itself (returning true).
 */
async function downloadWithOneBreak(
  entity: Entity,
  mode: ServerMode,
  onResume?: (server: RangeServer, req: IncomingMessage, res: ServerResponse) => boolean | undefined,
  sourceOptions: HttpSourceOptions = {},
): Promise<Outcome> {
  const server = resources.add(await startRangeServer(entity, mode));
  const proxy = resources.add(await createChaosProxy({ upstream: { host: '127.0.0.1', port: server.port } }));
  const dispatcher = resources.add(new Agent());
  injectFaults(proxy, [{ type: 'limit_data', afterBytes: 200_000 }]);
  if (onResume !== undefined) {
    server.intercept = (req, res) => req.headers.range !== undefined && onResume(server, req, res) === true;
  }
  const sink = new CollectSink();
  const pipe = resumablePipeline(httpSource(`${proxy.url()}/file.bin`, { dispatcher, ...sourceOptions }), sink, { schedule: constant(0) });
  const giveUps: string[] = [];
  pipe.on('give-up', (e) => giveUps.push(e.reason));
  const error = await pipe.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, output: sink.data, destinationDestroyed: sink.destroyed, server, giveUps };
}

/** Whatever failed, the destination holds only a prefix of what was first served, and was destroyed as stream.pipeline does. */
function expectCleanFailure(outcome: Outcome, served: Buffer, refusal: RangeRefusal): void {
  expect(outcome.error).toBeInstanceOf(RangeNotResumableError);
  expect((outcome.error as RangeNotResumableError).refusal).toBe(refusal);
  expect((outcome.error as RangeNotResumableError).fault.transient).toBe(false);
  expect(outcome.destinationDestroyed).toBe(true);
  expect(outcome.output.length).toBeGreaterThan(0);
  expect(outcome.output.equals(served.subarray(0, outcome.output.length))).toBe(true);
  // Refused, not retried.
  expect(outcome.giveUps).toEqual(['not-transient']);
}

describe('a server that cannot continue the same entity: a clear error, never a splice', () => {
  it('ignores Range and sends the whole entity again (200): range-ignored', async () => {
    const outcome = await downloadWithOneBreak(original, 'ignore-range');
    expectCleanFailure(outcome, original.body, 'range-ignored');
    expect(outcome.server.log).toHaveLength(2);
  });

  it('the content changed (new ETag): the If-Match of the resume gets a 412, entity-changed', async () => {
    const outcome = await downloadWithOneBreak(original, 'honest', (server) => void (server.entity = changed));
    expectCleanFailure(outcome, original.body, 'entity-changed');
    expect(outcome.server.log[1]).toMatchObject({ ifMatch: original.etag, ifRange: original.etag });
  });

  it('the content changed behind a cache that ignores the conditions: the 206 carries the new ETag, entity-changed', async () => {
    const outcome = await downloadWithOneBreak(original, 'ignore-conditions', (server) => void (server.entity = changed));
    expectCleanFailure(outcome, original.body, 'entity-changed');
    expect((outcome.error as Error).message).toContain(`ETag ${changed.etag}`);
  });

  it('the content changed and only Last-Modified identifies it: If-Unmodified-Since gets a 412, or the new date is seen', async () => {
    const dated = { body: original.body, lastModified: original.lastModified };
    const redated = { body: changed.body, lastModified: new Date(Date.now() - 60_000).toUTCString() };
    const honest = await downloadWithOneBreak(dated, 'honest', (server) => void (server.entity = redated));
    expectCleanFailure(honest, original.body, 'entity-changed');
    expect(honest.server.log[1]).toMatchObject({ ifUnmodifiedSince: dated.lastModified, ifRange: dated.lastModified });
    const careless = await downloadWithOneBreak(dated, 'ignore-conditions', (server) => void (server.entity = redated));
    expectCleanFailure(careless, original.body, 'entity-changed');
  });

  it('answers with a range that starts elsewhere: range-ignored', async () => {
    expectCleanFailure(await downloadWithOneBreak(original, 'wrong-start'), original.body, 'range-ignored');
  });

  it('answers with a Content-Range that states another length: entity-changed', async () => {
    const outcome = await downloadWithOneBreak(original, 'wrong-total');
    expectCleanFailure(outcome, original.body, 'entity-changed');
    expect((outcome.error as Error).message).toContain(`length changed (${SIZE + 1} bytes, expected ${SIZE})`);
  });

  it('answers a 206 without Content-Range, or one that disagrees with its Content-Length: wrong-range', async () => {
    const bare = await downloadWithOneBreak(original, 'honest', (_server, _req, res) => {
      res.writeHead(206, { etag: original.etag }).end(original.body.subarray(1000));
      return true;
    });
    expectCleanFailure(bare, original.body, 'wrong-range');
    const inconsistent = await downloadWithOneBreak(original, 'honest', (_server, req, res) => {
      const from = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')![1]);
      res.writeHead(206, { etag: original.etag, 'content-range': `bytes ${from}-${SIZE - 1}/${SIZE}`, 'content-length': 10 }).end('0123456789');
      return true;
    });
    expectCleanFailure(inconsistent, original.body, 'wrong-range');
  });

  it('serves gzip whatever Accept-Encoding says: encoded (its ranges would count compressed bytes)', async () => {
    const zipped = await downloadWithOneBreak(original, 'gzip');
    expect((zipped.error as RangeNotResumableError).refusal).toBe('encoded');
    // Refused before asking: nothing about a compressed answer's bytes proves the next one compresses alike.
    expect(zipped.server.log).toHaveLength(1);
    expect(zipped.destinationDestroyed).toBe(true);
    // The first answer switched to gzip only for the resume: refused on the 206 itself.
    const switched = await downloadWithOneBreak(original, 'honest', (server) => void (server.mode = 'gzip'));
    expectCleanFailure(switched, original.body, 'encoded');
    expect(switched.server.log.map((r) => r.acceptEncoding)).toEqual(['identity', 'identity']);
  });

  it('has only a weak validator: weak-validator; a weak ETag with an old Last-Modified is enough', async () => {
    const weakEtag = await downloadWithOneBreak({ body: original.body, etag: 'W/"w1"' }, 'honest');
    expectCleanFailure(weakEtag, original.body, 'weak-validator');
    const freshDate = await downloadWithOneBreak({ body: original.body, lastModified: new Date(Date.now() + 5_000).toUTCString() }, 'honest');
    expectCleanFailure(freshDate, original.body, 'weak-validator');
    const both = await downloadWithOneBreak({ body: original.body, etag: 'W/"w1"', lastModified: original.lastModified }, 'honest');
    expect(both.error).toBeUndefined();
    expect(both.output.equals(original.body)).toBe(true);
    expect(both.server.log[1]).toMatchObject({ ifUnmodifiedSince: original.lastModified, ifRange: undefined, ifMatch: undefined });
  });

  it('has no validator at all: no-validator, unless requireValidator is false (then the length is still checked)', async () => {
    const bare = { body: original.body };
    expectCleanFailure(await downloadWithOneBreak(bare, 'honest'), original.body, 'no-validator');
    const lenient = await downloadWithOneBreak(bare, 'honest', undefined, { requireValidator: false });
    expect(lenient.error).toBeUndefined();
    expect(lenient.output.equals(original.body)).toBe(true);
    const shorter = await downloadWithOneBreak(bare, 'honest', (server) => void (server.entity = { body: original.body.subarray(0, SIZE - 1) }), {
      requireValidator: false,
    });
    expectCleanFailure(shorter, original.body, 'entity-changed');
  });

  it('answers the resume with 404: a fault that is not transient ends the pipe at once', async () => {
    const outcome = await downloadWithOneBreak(original, 'honest', (_server, _req, res) => {
      res.writeHead(404).end();
      return true;
    });
    expect(outcome.error).toBeInstanceOf(HoldfastError);
    expect((outcome.error as HoldfastError).fault).toMatchObject({ code: 'HTTP_404', transient: false });
    expect(outcome.server.log).toHaveLength(2);
    expect(outcome.destinationDestroyed).toBe(true);
  });
});
