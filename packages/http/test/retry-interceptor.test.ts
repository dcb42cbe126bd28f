import { createServer } from 'node:net';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { OutcomeUnknownError, RetryError, retryInterceptor, type HttpRetryOptions } from '@holdfast/http';
import { constant } from '@holdfast/core';
import { effectTotals, startEffectServer, type EffectServer } from './support/effect-server.js';
import { guardEachTest } from './support/process-guard.js';

// Fast, deterministic backoff: the rules under test are about what is retried, not when.
const fast: HttpRetryOptions = { schedule: constant(5), budget: false, breaker: false };

let server: EffectServer | undefined;
let agent: Agent | undefined;
guardEachTest(async () => {
  await agent?.close();
  await server?.close();
  agent = undefined;
  server = undefined;
});

function client(options: HttpRetryOptions = fast): Agent {
  agent = new Agent();
  return agent.compose(retryInterceptor(options)) as unknown as Agent;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('rule 2: idempotent requests are retried on transient faults', () => {
  it('a GET whose connection is reset twice after it was received succeeds on the third attempt', async () => {
    server = await startEffectServer((_req, n) => (n <= 2 ? 'reset-after-effect' : 'none'));
    const retries: number[] = [];
    const dispatcher = client({ ...fast, onRetry: (e) => retries.push(e.attempt) });
    const res = await request(`${server.url}/item`, { dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toContain('applied /item');
    expect(server.arrivals).toBe(3);
    expect(retries).toEqual([1, 2]);
  });

  it('a GET that keeps failing rejects with a RetryError that carries the fault, the attempts and the reason', async () => {
    server = await startEffectServer(() => 'reset-before-effect');
    const dispatcher = client();
    const error = await request(`${server.url}/`, { dispatcher }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    const retryError = error as RetryError;
    expect(retryError.attempts).toBe(3);
    expect(retryError.reason).toBe('attempts-exhausted');
    expect(retryError.fault.kind).toBe('connection-reset');
    expect(retryError.fault.transient).toBe(true);
    expect(retryError.message).toMatch(/after 3 attempts/);
    expect(server.arrivals).toBe(3);
  });

  it.each([500, 502, 503, 504, 408, 429])('a GET answered %i is retried; the caller gets the later 200', async (status) => {
    server = await startEffectServer((_req, n) => (n === 1 ? { status } : 'none'));
    const res = await request(`${server.url}/`, { dispatcher: client() });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(server.arrivals).toBe(2);
  });

  it('when retries run out on a retryable status, the caller gets the last response itself', async () => {
    server = await startEffectServer(() => ({ status: 503 }));
    const res = await request(`${server.url}/`, { dispatcher: client() });
    expect(res.statusCode).toBe(503);
    expect(await res.body.text()).toBe('status 503');
    expect(server.arrivals).toBe(3);
  });

  it('a 404 is an answer, not a fault: no retry', async () => {
    server = await startEffectServer(() => ({ status: 404 }));
    const res = await request(`${server.url}/`, { dispatcher: client() });
    expect(res.statusCode).toBe(404);
    await res.body.dump();
    expect(server.arrivals).toBe(1);
  });

  it('statusCodes is configurable', async () => {
    server = await startEffectServer((_req, n) => (n === 1 ? { status: 503 } : 'none'));
    const res = await request(`${server.url}/`, { dispatcher: client({ ...fast, statusCodes: [500] }) });
    expect(res.statusCode).toBe(503);
    await res.body.dump();
    expect(server.arrivals).toBe(1);
  });
});

describe('rule 3: a non-idempotent request is never repeated silently', () => {
  it('a POST reset after the server applied it fails with OutcomeUnknownError and is applied once', async () => {
    server = await startEffectServer(() => 'reset-after-effect');
    const error = await request(`${server.url}/orders`, {
      dispatcher: client(),
      method: 'POST',
      body: 'one order',
      headers: { 'x-request-id': 'order-1' },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    const unknown = error as OutcomeUnknownError;
    expect(unknown.attempts).toBe(1);
    expect(unknown.reason).toBe('outcome-unknown');
    expect(unknown.fault.kind).toBe('connection-reset');
    expect(unknown.message).toMatch(/outcome is unknown/);
    expect(server.effects.get('order-1')).toBe(1);
    expect(server.arrivals).toBe(1);
  });

  it('a POST that never reached the server (connection refused) is retried', async () => {
    const port = await freePort();
    const error = await request(`http://127.0.0.1:${port}/orders`, { dispatcher: client(), method: 'POST', body: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    expect(error).not.toBeInstanceOf(OutcomeUnknownError);
    expect((error as RetryError).attempts).toBe(3);
    expect((error as RetryError).fault.kind).toBe('connection-refused');
    expect((error as RetryError).fault.phase).toBe('connect');
  });

  it('a POST with idempotencyKey: true is retried with the same key, and applied exactly once', async () => {
    server = await startEffectServer((_req, n) => (n <= 2 ? 'reset-after-effect' : 'none'));
    const res = await request(`${server.url}/orders`, {
      dispatcher: client(),
      method: 'POST',
      body: 'one order',
      headers: { 'x-request-id': 'order-2' },
      holdfast: { idempotencyKey: true },
    } as Parameters<typeof request>[1]);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('applied order-2 one order');
    expect(server.arrivals).toBe(3);
    expect(new Set(server.keys).size).toBe(1);
    expect(server.keys).toHaveLength(3);
    expect(server.effects.get('order-2')).toBe(1);
  });

  it("a caller's own Idempotency-Key header makes a POST retryable too", async () => {
    server = await startEffectServer((_req, n) => (n === 1 ? 'reset-after-effect' : 'none'));
    const res = await request(`${server.url}/orders`, {
      dispatcher: client(),
      method: 'POST',
      body: 'b',
      headers: { 'x-request-id': 'order-3', 'Idempotency-Key': 'k-123' },
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(server.keys).toEqual(['k-123', 'k-123']);
    expect(server.effects.get('order-3')).toBe(1);
  });

  it('a POST answered 503 is not repeated: the caller gets the 503', async () => {
    server = await startEffectServer(() => ({ status: 503 }));
    const res = await request(`${server.url}/orders`, { dispatcher: client(), method: 'POST', body: 'x' });
    expect(res.statusCode).toBe(503);
    await res.body.dump();
    expect(server.arrivals).toBe(1);
  });

  it('under load, 400 POSTs with every 10th reset after the effect: zero duplicates, every unknown outcome reported', async () => {
    server = await startEffectServer((_req, n) => (n % 10 === 0 ? 'reset-after-effect' : 'none'));
    const dispatcher = client();
    let ok = 0;
    let unknown = 0;
    let ids = 0;
    const url = server.url;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 50; i++) {
          const id = `p-${ids++}`;
          try {
            const res = await request(`${url}/orders`, { dispatcher, method: 'POST', body: id, headers: { 'x-request-id': id } });
            await res.body.dump();
            ok++;
          } catch (error) {
            expect(error).toBeInstanceOf(OutcomeUnknownError);
            unknown++;
          }
        }
      }),
    );
    const { total, duplicated } = effectTotals(server.effects);
    expect(duplicated).toBe(0);
    expect(ok + unknown).toBe(400);
    // Every request was applied exactly once; the ones whose answer was lost say so.
    expect(total).toBe(400);
    expect(unknown).toBe(40);
  });
});
