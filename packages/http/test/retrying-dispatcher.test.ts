import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fetch, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { OutcomeUnknownError, RetryError, createHttpClient, type HttpClient, type HttpRetryOptions } from '@holdfast/http';
import { constant } from '@holdfast/core';
import { startEffectServer, type EffectServer } from './support/effect-server.js';
import { guardEachTest, settledOpenHandles } from './support/process-guard.js';

const fast: HttpRetryOptions = { schedule: constant(5), budget: false, breaker: false };

let server: EffectServer | undefined;
let client: HttpClient | undefined;
guardEachTest(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
});

describe("the client's dispatcher in undici's own calls", () => {
  it('request(url, { dispatcher }): a GET reset after the server received it is retried and succeeds', async () => {
    server = await startEffectServer((_req, arrival) => (arrival === 1 ? 'reset-after-effect' : 'none'));
    client = createHttpClient(fast);
    const res = await request(`${server.url}/item`, { dispatcher: client.dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('applied /item ');
    expect(server.arrivals).toBe(2);
  });

  it('request(url, { dispatcher }): a POST reset after its effect fails with OutcomeUnknownError and is applied once', async () => {
    server = await startEffectServer(() => 'reset-after-effect');
    client = createHttpClient(fast);
    const error = await request(`${server.url}/orders`, {
      dispatcher: client.dispatcher,
      method: 'POST',
      body: 'one order',
      headers: { 'x-request-id': 'order-1' },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect(server.effects.get('order-1')).toBe(1);
  });

  it("fetch(url, { dispatcher }) (undici's fetch): a GET reset after the server received it is retried and succeeds", async () => {
    server = await startEffectServer((_req, arrival) => (arrival === 1 ? 'reset-after-effect' : 'none'));
    client = createHttpClient(fast);
    const res = await fetch(`${server.url}/item`, { dispatcher: client.dispatcher });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('applied /item ');
    expect(server.arrivals).toBe(2);
  });

  it("both share the client's per-origin guards: their retries are counted with request()'s", async () => {
    server = await startEffectServer((_req, arrival) => (arrival % 2 === 1 ? 'reset-after-effect' : 'none'));
    const retries: string[] = [];
    client = createHttpClient({ ...fast, onRetry: (e) => retries.push(e.origin) });
    await (await request(`${server.url}/a`, { dispatcher: client.dispatcher })).body.dump();
    await (await client.request(`${server.url}/b`)).body.dump();
    expect(retries).toEqual([server.url, server.url]);
  });
});

/** A server that answers `/hang` never, anything else at once; close() destroys every socket. */
async function startHangingServer(): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const srv = createServer((req, res) => {
    if (req.url !== '/hang') res.end('ok');
  });
  srv.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    server: srv,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        srv.close(() => resolve());
      }),
  };
}

describe("ending the client's dispatcher", () => {
  // Each variant ends a dispatcher holding a pooled keep-alive connection, then checks that nothing is left open.
  const variants: { readonly how: string; readonly end: (d: HttpClient['dispatcher']) => Promise<void> }[] = [
    { how: 'close()', end: (d) => d.close() },
    { how: 'close(callback)', end: (d) => new Promise<void>((resolve) => d.close(resolve)) },
    { how: 'destroy()', end: (d) => d.destroy() },
    { how: 'destroy(error)', end: (d) => d.destroy(new Error('shutting down')) },
    { how: 'destroy(callback)', end: (d) => new Promise<void>((resolve) => d.destroy(resolve)) },
    { how: 'destroy(error, callback)', end: (d) => new Promise<void>((resolve) => d.destroy(new Error('shutting down'), resolve)) },
    { how: 'destroy(null, callback)', end: (d) => new Promise<void>((resolve) => d.destroy(null, resolve)) },
  ];

  it.each(variants)('$how ends cleanly: no socket or timer left, and a later request is refused, not retried', async ({ end }) => {
    const baseline = process.getActiveResourcesInfo();
    server = await startEffectServer((_req, arrival) => (arrival === 1 ? 'reset-after-effect' : 'none'));
    const retries: number[] = [];
    client = createHttpClient({ schedule: constant(5), onRetry: (e) => retries.push(e.attempt) });
    const { dispatcher } = client;
    await (await request(`${server.url}/item`, { dispatcher })).body.dump();
    expect(retries).toEqual([1]);
    await end(dispatcher);
    const later = await request(`${server.url}/item`, { dispatcher }).catch((e: unknown) => e);
    expect(later).toBeInstanceOf(Error);
    expect(retries).toEqual([1]);
    expect(server.arrivals).toBe(2);
    await server.close();
    server = undefined;
    expect(await settledOpenHandles(baseline)).toEqual([]);
  });

  it('close() lets a request in flight finish; destroy(error) ends one at once, with that error as the cause and no retry', async () => {
    const hanging = await startHangingServer();
    try {
      client = createHttpClient(fast);
      const { dispatcher } = client;
      const inFlight = request(`${hanging.url}/slow-ok`, { dispatcher });
      const closed = dispatcher.close();
      expect(await (await inFlight).body.text()).toBe('ok');
      await closed;

      const retries: number[] = [];
      client = createHttpClient({ ...fast, onRetry: (e) => retries.push(e.attempt) });
      const stuck = request(`${hanging.url}/hang`, { dispatcher: client.dispatcher }).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 50));
      const reason = new Error('shutting down');
      await client.dispatcher.destroy(reason);
      const error = await stuck;
      // The destroy reason is not a fault worth another attempt: the caller gets it as the cause, at once.
      expect(error).toBeInstanceOf(RetryError);
      expect((error as RetryError).cause).toBe(reason);
      expect(retries).toEqual([]);
    } finally {
      await hanging.close();
    }
  });

  it.each(variants)('$how ends a request sleeping out a 10 s Retry-After at once, and client.close() after it resolves', async ({ end }) => {
    server = await startEffectServer(() => ({ status: 503, headers: { 'retry-after': '10' } }));
    client = createHttpClient({ budget: false });
    const { dispatcher } = client;
    const started = Date.now();
    const pending = request(`${server.url}/busy`, { dispatcher }).catch((e: unknown) => e);
    while (server.arrivals === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    await end(dispatcher);
    const outcome = await pending;
    expect(outcome).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(server.arrivals).toBe(1);
    await client.close();
  });
});
