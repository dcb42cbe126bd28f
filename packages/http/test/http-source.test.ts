import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import { HoldfastError } from '@holdfast/core';
import { RangeNotResumableError, httpSource, openRange } from '@holdfast/http';

const entity = '0123456789abcdefghij';
const OLD_DATE = 'Tue, 01 Jul 2025 00:00:00 GMT';
let server: Server | undefined;
let seen: IncomingHttpHeaders[] = [];

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  seen = [];
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer((req, res) => {
    seen.push(req.headers);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/file`;
}

/** Honest ranges over `entity`, with a strong ETag and an old Last-Modified. */
function honest(req: IncomingMessage, res: ServerResponse): void {
  const from = /bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1];
  const headers = { etag: '"e1"', 'last-modified': OLD_DATE };
  if (from === undefined) return void res.writeHead(200, { ...headers, 'content-length': entity.length }).end(entity);
  const start = Number(from);
  if (start >= entity.length) return void res.writeHead(416, { ...headers, 'content-range': `bytes */${entity.length}` }).end();
  res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${entity.length - 1}/${entity.length}` }).end(entity.slice(start));
}

const refusal = async (promise: Promise<unknown>): Promise<string | undefined> =>
  promise.then(
    () => undefined,
    (e: unknown) => (e as RangeNotResumableError).refusal,
  );

describe('httpSource', () => {
  it('opens with a plain GET for identity bytes, then resumes with Range, If-Range and If-Match; it states the length', async () => {
    const url = await serve(honest);
    const open = httpSource(url, { headers: { Authorization: 'Bearer t' } });
    const totals: number[] = [];
    const setTotal = (bytes: number): void => void totals.push(bytes);
    expect(await text(await open(0, { setTotal }))).toBe(entity);
    expect(await text(await open(12, { setTotal }))).toBe('cdefghij');
    expect(totals).toEqual([20, 20]);
    expect(seen[0]).toMatchObject({ 'accept-encoding': 'identity', authorization: 'Bearer t' });
    expect(seen[0]!.range).toBeUndefined();
    expect(seen[1]).toMatchObject({ range: 'bytes=12-', 'if-range': '"e1"', 'if-match': '"e1"', 'accept-encoding': 'identity' });
  });

  it('a resume at the very end gets a 416 for the whole length: an empty rest, not an error', async () => {
    const url = await serve(honest);
    const open = httpSource(url);
    await text(await open(0));
    expect(await text(await open(entity.length))).toBe('');
    expect(await refusal(open(entity.length + 5).then(text))).toBe('not-satisfiable');
    // openRange reads a 416 the same way.
    expect(await text(openRange(url, entity.length, { etag: '"e1"' }))).toBe('');
  });

  it('accepts a Content-Range of unknown length (bytes a-b/*), and then binds the length a later answer states', async () => {
    let star = true;
    const url = await serve((req, res) => {
      const from = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      if (req.headers.range === undefined) return void res.writeHead(200, { etag: '"e1"' }).end(entity);
      const total = star ? '*' : String(entity.length + (from === 15 ? 1 : 0));
      star = false;
      res.writeHead(206, { etag: '"e1"', 'content-range': `bytes ${from}-${entity.length - 1}/${total}` }).end(entity.slice(from));
    });
    const open = httpSource(url);
    expect(await text(await open(0))).toBe(entity);
    expect(await text(await open(5))).toBe(entity.slice(5));
    expect(await text(await open(10))).toBe(entity.slice(10));
    expect(await refusal(open(15).then(text))).toBe('entity-changed');
  });

  it('a Last-Modified within a second of the Date is too weak to resume on; an older one is sent as If-Unmodified-Since and If-Range', async () => {
    let modified = new Date(Date.now() + 5_000).toUTCString();
    const url = await serve((req, res) => {
      const from = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      const headers = { 'last-modified': modified };
      if (req.headers.range === undefined) return void res.writeHead(200, headers).end(entity);
      res.writeHead(206, { ...headers, 'content-range': `bytes ${from}-${entity.length - 1}/${entity.length}` }).end(entity.slice(from));
    });
    const open = httpSource(url);
    await text(await open(0));
    expect(await refusal(open(5))).toBe('weak-validator');
    modified = OLD_DATE;
    await text(await open(0));
    expect(await text(await open(5))).toBe(entity.slice(5));
    expect(seen.at(-1)).toMatchObject({ 'if-unmodified-since': OLD_DATE, 'if-range': OLD_DATE });
    expect(seen.at(-1)!['if-match']).toBeUndefined();
  });

  it('a transient status on a resume is a transient HoldfastError with the pushback; a redirect says how to follow it', async () => {
    let status = 503;
    const url = await serve((req, res) => {
      if (req.headers.range === undefined) return honest(req, res);
      res.writeHead(status, status === 503 ? { 'retry-after': '2' } : { location: '/elsewhere' }).end();
    });
    const open = httpSource(url);
    await text(await open(0));
    const busy = await open(5).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(HoldfastError);
    expect((busy as HoldfastError).fault).toMatchObject({ code: 'HTTP_503', transient: true, retryAfterMs: 2_000 });
    status = 302;
    const moved = await open(5).catch((e: unknown) => e);
    expect(moved).toBeInstanceOf(RangeNotResumableError);
    expect((moved as Error).message).toMatch(/302 \(a redirect: send through a dispatcher that follows redirects\)/);
  });

  it('resuming before anything is known about the entity is refused, unless requireValidator is false', async () => {
    const url = await serve(honest);
    expect(await refusal(httpSource(url)(5))).toBe('no-validator');
    expect(await text(await httpSource(url, { requireValidator: false })(5))).toBe(entity.slice(5));
  });

  it('its signal aborts the request', async () => {
    const url = await serve(() => undefined);
    const controller = new AbortController();
    const opening = httpSource(url)(0, { signal: controller.signal });
    controller.abort();
    const error = await opening.catch((e: unknown) => e);
    expect((error as HoldfastError).fault.kind).toBe('aborted');
  });

  it.each([
    [() => httpSource(42 as never), /'url' must be a string or a URL, got 42/],
    [() => httpSource('ftp://example.com/x'), /'url' must be an http: or https: URL, got "ftp:"/],
    [() => httpSource('http://x/', { dispatcher: {} as never }), /option 'dispatcher' must be an undici Dispatcher/],
    [() => httpSource('http://x/', { requireValidators: false } as never), /unknown option 'requireValidators' \(did you mean requireValidator\?\)/],
    [() => httpSource('http://x/', { headers: { range: 5 as never } }), /header 'range' must be a string, got 5/],
  ])('%#: a mistake throws at once', (make, message) => {
    expect(make).toThrow(message);
  });

  it('a bad offset rejects with a RangeError', async () => {
    await expect(httpSource('http://127.0.0.1:1/')(-1)).rejects.toThrow(/'offset' must be an integer >= 0, got -1/);
  });
});
