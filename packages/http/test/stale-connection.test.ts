import type { IncomingMessage } from 'node:http';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import {
  OutcomeUnknownError,
  createHttpClient,
  retryInterceptor,
  type HttpClient,
  type HttpRetryOptions,
  type StaleConnectionEvent,
} from '@holdfast/http';
import { constant, type RetryEvent } from '@holdfast/core';
import { startEffectServer, type EffectServer, type Fault } from './support/effect-server.js';
import { guardEachTest } from './support/process-guard.js';

const fast: HttpRetryOptions = { schedule: constant(5), budget: false, breaker: false };

let server: EffectServer | undefined;
let client: HttpClient | undefined;
let agent: Agent | undefined;
guardEachTest(async () => {
  await client?.close();
  await agent?.close();
  await server?.close();
  client = undefined;
  agent = undefined;
  server = undefined;
});

/**
 * The server drops a connection with a real RST as the request that reuses
 * it arrives (the keep-alive race, seen from the server: it was closing the
 * idle socket). `fault` says whether it applied the request first.
 */
function onReuse(fault: Fault): (req: IncomingMessage) => Fault {
  const served = new WeakMap<object, number>();
  return (req) => {
    const n = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, n);
    return n === 2 ? fault : 'none';
  };
}

function recording(): { events: StaleConnectionEvent[]; retries: RetryEvent[]; options: HttpRetryOptions } {
  const events: StaleConnectionEvent[] = [];
  const retries: RetryEvent[] = [];
  return { events, retries, options: { ...fast, onStaleConnection: (e) => events.push(e), onRetry: (e) => retries.push(e) } };
}

describe('rule 6: a reset on a reused keep-alive connection', () => {
  it('before any answer, a GET is retried on a new connection as an idle-phase fault, and counted', async () => {
    server = await startEffectServer(onReuse('reset-before-effect'));
    const { events, retries, options } = recording();
    client = createHttpClient({ ...options, connections: 1 });
    expect((await client.request(`${server.url}/a`)).statusCode).toBe(200);
    const res = await client.request(`${server.url}/b`);
    expect(await res.body.text()).toContain('applied /b');
    expect(server.arrivals).toBe(3);
    expect(client.stats().staleConnections).toBe(1);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ method: 'GET', repeatable: true, fault: { code: 'ECONNRESET', phase: 'idle' } });
    expect(retries.map((r) => r.fault.phase)).toEqual(['idle']);
  });

  it('a POST is never repeated: the server may have applied it, so its outcome is unknown (and it is still counted)', async () => {
    server = await startEffectServer(onReuse('reset-after-effect'));
    const { events, options } = recording();
    client = createHttpClient({ ...options, connections: 1 });
    await (await client.request(`${server.url}/`, { method: 'POST', headers: { 'x-request-id': 'p1' }, body: 'one' })).body.text();
    const error = await client.request(`${server.url}/`, { method: 'POST', headers: { 'x-request-id': 'p2' }, body: 'two' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect((error as OutcomeUnknownError).attempts).toBe(1);
    // The server had applied it: a retry here would have applied it twice.
    expect(server.effects.get('p2')).toBe(1);
    expect(server.arrivals).toBe(2);
    expect(client.stats().staleConnections).toBe(1);
    expect(events).toMatchObject([{ method: 'POST', repeatable: false, fault: { phase: 'idle' } }]);
  });

  it('through the interceptor, a POST with an Idempotency-Key is retried with the same key and applied once', async () => {
    server = await startEffectServer(onReuse('reset-after-effect'));
    const { events, retries, options } = recording();
    const interceptor = retryInterceptor(options);
    agent = new Agent({ connections: 1 });
    const dispatcher = agent.compose(interceptor);
    await (await request(`${server.url}/`, { dispatcher, method: 'POST', headers: { 'idempotency-key': 'k1' }, body: 'one' })).body.text();
    const res = await request(`${server.url}/`, {
      dispatcher,
      method: 'POST',
      headers: { 'x-request-id': 'p2', 'idempotency-key': 'k2' },
      body: 'two',
    });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    expect(server.keys).toEqual(['k1', 'k2', 'k2']);
    expect(server.effects.get('p2')).toBe(1);
    expect(interceptor.stats().staleConnections).toBe(1);
    expect(events).toMatchObject([{ method: 'POST', repeatable: true }]);
    expect(retries.map((r) => r.fault.phase)).toEqual(['idle']);
  });

  it('a reset on a fresh connection is not a stale one: retried (a GET) but not idle, not counted', async () => {
    server = await startEffectServer((_req, arrival) => (arrival === 1 ? 'reset-after-effect' : 'none'));
    const { events, retries, options } = recording();
    client = createHttpClient({ ...options, connections: 1 });
    expect((await client.request(`${server.url}/x`)).statusCode).toBe(200);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.fault.phase).not.toBe('idle');
    expect(client.stats().staleConnections).toBe(0);
    expect(events).toEqual([]);
  });
});
