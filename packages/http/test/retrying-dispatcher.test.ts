import { fetch, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OutcomeUnknownError, createHttpClient, type HttpClient, type HttpRetryOptions } from '@holdfast/http';
import { constant } from '@holdfast/core';
import { startEffectServer, type EffectServer } from './support/effect-server.js';
import { watchProcess } from './support/process-guard.js';

const fast: HttpRetryOptions = { schedule: constant(5), budget: false, breaker: false };

let server: EffectServer | undefined;
let client: HttpClient | undefined;
let guard: ReturnType<typeof watchProcess>;

beforeEach(() => {
  guard = watchProcess();
});

afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
  guard.stop();
  expect(guard.escaped).toEqual([]);
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
