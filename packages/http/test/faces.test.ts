import { describe, expect, it } from 'vitest';
import { constant } from '@holdfast/core';
import { OutcomeUnknownError, RetryError, createHttpClient, type HttpRetryOptions } from '@holdfast/http';
import { startEffectServer, type EffectServer } from './support/effect-server.js';
import { faces, type Face } from './support/faces.js';
import { guardEachTest, settledOpenHandles } from './support/process-guard.js';

const fast: HttpRetryOptions = { schedule: constant(5), budget: false, breaker: false };

describe.each(Object.keys(faces))('%s', (name) => {
  let server: EffectServer | undefined;
  let face: Face | undefined;
  guardEachTest(async () => {
    await face?.close();
    await server?.close();
    face = undefined;
    server = undefined;
  });

  const open = (options: HttpRetryOptions = fast): Face => (face = faces[name]!(options));

  it('retries a GET reset after the server received it', async () => {
    server = await startEffectServer((_req, n) => (n <= 2 ? 'reset-after-effect' : 'none'));
    const res = await open().send(`${server.url}/a`, {});
    expect(res.status).toBe(200);
    expect(server.arrivals).toBe(3);
  });

  it('never repeats a POST reset after the effect: OutcomeUnknownError, one effect', async () => {
    server = await startEffectServer(() => 'reset-after-effect');
    const error = await open()
      .send(`${server.url}/orders`, { method: 'POST', body: 'x', id: 'o-1' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect((error as OutcomeUnknownError).fault.transient).toBe(true);
    expect(server.effects.get('o-1')).toBe(1);
    expect(server.arrivals).toBe(1);
  });

  it('retries a POST with an idempotency key, and the server applies it exactly once', async () => {
    server = await startEffectServer((_req, n) => (n === 1 ? 'reset-after-effect' : 'none'));
    const res = await open().send(`${server.url}/orders`, { method: 'POST', body: 'x', id: 'o-2', key: true });
    expect(res.status).toBe(200);
    expect(res.text).toBe('applied o-2 x');
    expect(server.keys).toHaveLength(2);
    expect(server.keys[0]).toBe(server.keys[1]);
    expect(server.effects.get('o-2')).toBe(1);
  });

  it('honours Retry-After on a 429 and a 503, up to the cap', async () => {
    server = await startEffectServer((_req, n) =>
      n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : n === 2 ? { status: 503, headers: { 'retry-after': '30' } } : 'none',
    );
    const started = performance.now();
    const res = await open({ ...fast, retryAfterCapMs: 300 }).send(`${server.url}/r`, {});
    const elapsed = performance.now() - started;
    expect(res.status).toBe(200);
    expect(server.arrivals).toBe(3);
    // Two pushbacks, each clamped to the 300 ms cap: far more than the 5 ms schedule, far less than 31 s.
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(5_000);
  });

  it('a Retry-After longer than the deadline ends the request at once, with the reason', async () => {
    server = await startEffectServer(() => ({ status: 503, headers: { 'retry-after': '20' } }));
    const started = performance.now();
    const res = await open()
      .send(`${server.url}/d`, { deadlineMs: 1_000 })
      .catch((e: unknown) => e);
    // The caller gets the 503 itself (the last answer), without waiting 20 s.
    expect(performance.now() - started).toBeLessThan(900);
    expect((res as { status: number }).status).toBe(503);
    expect(server.arrivals).toBe(1);
  });

  it('a GET to a port nobody listens on fails with a RetryError after every attempt', async () => {
    server = await startEffectServer();
    const url = server.url;
    await server.close();
    server = undefined;
    const error = await open()
      .send(`${url}/`, {})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    expect((error as RetryError).attempts).toBe(3);
    expect((error as RetryError).fault.kind).toBe('connection-refused');
  });
});

describe('close()', () => {
  it('leaves no socket or timer behind, even with a retry waiting', async () => {
    const baseline = process.getActiveResourcesInfo();
    const server = await startEffectServer(() => ({ status: 503, headers: { 'retry-after': '10' } }));
    const client = createHttpClient({ budget: false });
    const pending = client.request(`${server.url}/`).catch((e: unknown) => e);
    while (server.arrivals === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    await client.close();
    const outcome = await pending;
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(/closed/);
    await server.close();
    expect(await settledOpenHandles(baseline)).toEqual([]);
  });
});
