import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

/** One version of the served file. */
export interface Entity {
  readonly body: Buffer;
  /** Sent as ETag unless undefined. */
  readonly etag?: string;
  /** Sent as Last-Modified unless undefined. */
  readonly lastModified?: string;
}

/** What the server received: one line per request. */
export interface RequestLog {
  readonly range: string | undefined;
  readonly ifRange: string | undefined;
  readonly ifMatch: string | undefined;
  readonly ifUnmodifiedSince: string | undefined;
  readonly acceptEncoding: string | undefined;
}

/**
 * How the server answers: `honest` follows RFC 9110 (Range, If-Range,
 * If-Match, If-Unmodified-Since, 416 past the end); the others are the broken
 * servers the tests must refuse.
 * - `ignore-range`: every answer is the whole entity (200)
 * - `wrong-start`: a 206 that starts 100 bytes before the range asked for
 * - `wrong-total`: a 206 whose Content-Range states another length
 * - `gzip`: every answer carries `Content-Encoding: gzip` (the gzipped entity, ranges counted in it), whatever was asked
 * - `ignore-conditions`: ranges honoured, If-Range / If-Match / If-Unmodified-Since ignored (a cache in between, or a careless server)
 * - `chunked`: the first answer has no Content-Length
 */
export type ServerMode = 'honest' | 'ignore-range' | 'wrong-start' | 'wrong-total' | 'gzip' | 'ignore-conditions' | 'chunked';

export interface RangeServer {
  readonly port: number;
  readonly url: string;
  readonly log: RequestLog[];
  entity: Entity;
  mode: ServerMode;
  /** Called for each request before it is answered; may answer itself (return true). */
  intercept: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  close(): Promise<void>;
}

/** An entity of `size` random-looking bytes (a fast PRNG: crypto randomness is slow for 50 MB), with its sha256. */
export function randomEntity(size: number, seed: number, etag = `"v${seed}"`): Entity & { readonly sha256: string } {
  const body = Buffer.allocUnsafe(size);
  let state = seed >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    body.writeUInt32LE(state >>> 0, i);
  }
  for (; i < size; i++) body[i] = i & 0xff;
  return { body, etag, lastModified: new Date(Date.now() - 3_600_000).toUTCString(), sha256: sha256(body) };
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function startRangeServer(entity: Entity, mode: ServerMode = 'honest'): Promise<RangeServer> {
  const sockets = new Set<import('node:net').Socket>();
  const state: RangeServer = {
    port: 0,
    url: '',
    log: [],
    entity,
    mode,
    intercept: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    // A client that resets mid-body makes both report errors; the test looks at the client.
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    state.log.push({
      range: req.headers.range,
      ifRange: single(req.headers['if-range']),
      ifMatch: single(req.headers['if-match']),
      ifUnmodifiedSince: req.headers['if-unmodified-since'],
      acceptEncoding: req.headers['accept-encoding'],
    });
    if (state.intercept?.(req, res) === true) return;
    answer(state, req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, { port, url: `http://127.0.0.1:${port}/file.bin` });
}

const gzipped = new WeakMap<Buffer, Buffer>();

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function answer(state: RangeServer, req: IncomingMessage, res: ServerResponse): void {
  const { entity, mode } = state;
  let body = entity.body;
  const headers: OutgoingHttpHeaders = {};
  if (entity.etag !== undefined) headers.etag = entity.etag;
  if (entity.lastModified !== undefined) headers['last-modified'] = entity.lastModified;
  if (mode === 'gzip') {
    let zipped = gzipped.get(body);
    if (zipped === undefined) gzipped.set(body, (zipped = gzipSync(body)));
    body = zipped;
    headers['content-encoding'] = 'gzip';
  }
  const length = body.length;
  const from = /^bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1];
  const conditions = mode !== 'ignore-conditions';
  const current = entity.etag ?? entity.lastModified;
  if (from !== undefined && mode !== 'ignore-range') {
    const ifMatch = single(req.headers['if-match']);
    const ifUnmodified = req.headers['if-unmodified-since'];
    if (conditions && ((ifMatch !== undefined && ifMatch !== entity.etag) || (ifUnmodified !== undefined && ifUnmodified !== entity.lastModified))) {
      res.writeHead(412).end();
      return;
    }
    const ifRange = req.headers['if-range'];
    if (!conditions || ifRange === undefined || ifRange === current) {
      const start = Number(from);
      if (start >= length) {
        res.writeHead(416, { ...headers, 'content-range': `bytes */${length}` }).end();
        return;
      }
      const shownStart = mode === 'wrong-start' ? Math.max(0, start - 100) : start;
      const shownTotal = mode === 'wrong-total' ? length + 1 : length;
      res.writeHead(206, {
        ...headers,
        'content-range': `bytes ${shownStart}-${length - 1}/${shownTotal}`,
        'content-length': length - shownStart,
      });
      res.end(body.subarray(shownStart));
      return;
    }
  }
  if (mode !== 'chunked') headers['content-length'] = length;
  res.writeHead(200, headers);
  res.end(body);
}
