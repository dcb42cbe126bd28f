import { createServer, type Server } from 'node:http';
import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import { RangeNotResumableError, createHttpClient, openRange, resilientFetch, retryInterceptor } from '@holdfast/http';

const entity = '0123456789abcdefghij';
let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/file`;
}

describe('rule 8: openRange', () => {
  it('asks for the rest with Range and If-Range, and streams it', async () => {
    const seen: (string | undefined)[] = [];
    const url = await serve((req, res) => {
      seen.push(req.headers.range, String(req.headers['if-range']));
      const from = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')![1]);
      res.writeHead(206, { etag: '"e1"', 'content-range': `bytes ${from}-${entity.length - 1}/${entity.length}` }).end(entity.slice(from));
    });
    expect(await text(openRange(url, 12, { etag: '"e1"' }))).toBe('cdefghij');
    expect(seen).toEqual(['bytes=12-', '"e1"']);
  });

  it('refuses to splice when the server ignores the range (200)', async () => {
    const url = await serve((_req, res) => res.writeHead(200, { etag: '"e1"' }).end(entity));
    const error = await text(openRange(url, 5, { etag: '"e1"' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RangeNotResumableError);
    expect((error as RangeNotResumableError).refusal).toBe('range-ignored');
  });

  it('refuses when the entity changed (If-Range made the server send the new whole)', async () => {
    const url = await serve((_req, res) => res.writeHead(200, { etag: '"e2"' }).end(entity));
    const error = await text(openRange(url, 5, { etag: '"e1"' })).catch((e: unknown) => e);
    expect((error as RangeNotResumableError).refusal).toBe('entity-changed');
  });

  it('refuses a 206 that does not start at the offset, and a weak validator', async () => {
    const url = await serve((_req, res) => res.writeHead(206, { 'content-range': `bytes 0-19/20` }).end(entity));
    const wrongStart = await text(openRange(url, 5, { lastModified: 'Tue, 01 Jul 2025 00:00:00 GMT' })).catch((e: unknown) => e);
    expect((wrongStart as RangeNotResumableError).refusal).toBe('range-ignored');
    const weak = await text(openRange(url, 5, { etag: 'W/"e1"' })).catch((e: unknown) => e);
    expect((weak as RangeNotResumableError).refusal).toBe('weak-validator');
  });
});

describe('options are checked at construction', () => {
  it.each([
    [() => retryInterceptor({ attempts: 0 }), /option 'attempts' must be an integer >= 1, got 0/],
    [() => retryInterceptor({ statusCodes: [200] }), /option 'statusCodes' must be an array of HTTP statuses from 400 to 599/],
    [
      () => retryInterceptor({ retries: 3 } as never),
      /unknown option 'retries' \(did you mean attempts \(which counts the first attempt too\)\?\); accepted: name, attempts/,
    ],
    [
      () => createHttpClient({ connectTimeoutMs: 50 } as never),
      /createHttpClient: unknown option 'connectTimeoutMs' \(did you mean connectTimeout\?\)/,
    ],
    [() => createHttpClient({ name: '' }), /createHttpClient: option 'name' must be a non-empty string, got ""/],
    [() => createHttpClient({ ca: 5 } as never), /option 'ca' must be a PEM string or Buffer, or an array of them, got 5/],
    [() => retryInterceptor({ budget: { ratio: -1 } }), /retryInterceptor: option 'budget.ratio' must be a finite number from 0 to 1000, got -1/],
    [() => createHttpClient({ keepAliveTimeout: -5 }), /option 'keepAliveTimeout' must be an integer number of milliseconds.*got -5/],
    [() => resilientFetch('fetch' as never), /resilientFetch: the first argument must be a fetch function, got string/],
    [
      () => retryInterceptor({ breaker: { maxResetTimeoutMs: 2 } }),
      /retryInterceptor: option 'breaker.maxResetTimeoutMs' must be an integer from resetTimeoutMs \(5\) to 2147483647, got 2/,
    ],
    [
      () => retryInterceptor({ breaker: { probeAfterRejections: 0 } }),
      /retryInterceptor: option 'breaker.probeAfterRejections' must be an integer >= 1, or Infinity/,
    ],
    [
      () => retryInterceptor({ breaker: { resetTimeoutMs: 'soon' as never } }),
      /retryInterceptor: option 'breaker.resetTimeoutMs' must be an integer from 1 to 2147483647, got "soon"/,
    ],
  ])('%#: rejects a bad value with the option, the value and what is accepted', (build, message) => {
    expect(build).toThrow(message);
  });

  it("the breaker's probe defaults give way to the caller's: a longer resetTimeoutMs alone is a fixed wait", () => {
    expect(() => retryInterceptor({ breaker: { resetTimeoutMs: 5_000 } })).not.toThrow();
    expect(() => retryInterceptor({ breaker: { resetTimeoutMs: 100, maxResetTimeoutMs: 100, probeAfterRejections: Infinity } })).not.toThrow();
  });

  it('per-request options are checked too', async () => {
    const client = createHttpClient();
    await expect(client.request('http://127.0.0.1:1/', { idempotencyKey: 'bad key with spaces' })).rejects.toThrow(
      /option 'idempotencyKey' must be true, false or a string of 1 to 255 visible ASCII characters/,
    );
    await expect(client.request('http://127.0.0.1:1/', { headersTimeout: 0 })).rejects.toThrow(
      /request: option 'headersTimeout' must be an integer number of milliseconds from 1 to 2147483647, got 0/,
    );
    await expect(client.request('http://127.0.0.1:1/', { bodyTimeout: 1.5 })).rejects.toThrow(/option 'bodyTimeout' .* got 1.5/);
    await client.close();
  });
});
