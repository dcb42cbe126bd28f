import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChaosProxy } from '@holdfast/chaos';
import { createHttpClient } from '@holdfast/http';
import { RedisIdempotencyStore, type IdempotencyClaim } from '../src/index.js';
import { startBalancer } from './support/balancer.js';
import { postOrders, startEffectApp } from './support/effect-app.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { failOnEscapedErrors, sleep, until } from './support/servers.js';

failOnEscapedErrors();

let redis: RedisServer;
const clients: Redis[] = [];

beforeAll(async () => {
  redis = await startRedis();
}, 120_000);

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await redis.stop();
});

/** The client settings the README recommends for the store: fail at once while disconnected, never resend a command after a reconnect. */
async function redisClient(): Promise<Redis> {
  const client = new Redis(redis.port, '127.0.0.1', {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 50,
  });
  client.on('error', () => undefined);
  clients.push(client);
  if (client.status !== 'ready') await once(client, 'ready');
  return client;
}

const claimOf = (token: string, fingerprint = 'fp'): IdempotencyClaim => ({ token, fingerprint });

describe('RedisIdempotencyStore against a real redis-server', () => {
  it('claims a free key once, reports it in progress, stores and returns a response, releases only its own claim', async () => {
    const store = new RedisIdempotencyStore(await redisClient(), { prefix: 'test:1:' });
    expect(await store.claim('a', claimOf('t1'), 10_000)).toEqual({ state: 'claimed' });
    expect(await store.claim('a', claimOf('t2'), 10_000)).toEqual({ state: 'in-progress', fingerprint: 'fp' });
    await store.release('a', claimOf('t2'));
    expect((await store.claim('a', claimOf('t3'), 10_000)).state).toBe('in-progress');
    const body = Buffer.from([0, 1, 2, 255]);
    await store.complete('a', claimOf('t1'), { statusCode: 201, headers: { 'x-a': ['1', '2'] }, body }, 10_000);
    expect(await store.claim('a', claimOf('t4'), 10_000)).toEqual({
      state: 'done',
      fingerprint: 'fp',
      response: { statusCode: 201, headers: { 'x-a': ['1', '2'] }, body },
    });
    // Another claim's completion never overwrites.
    expect(await store.claim('b', claimOf('t5'), 10_000)).toEqual({ state: 'claimed' });
    await store.complete('b', claimOf('t6'), { statusCode: 200, headers: {}, body: Buffer.alloc(0) }, 10_000);
    expect((await store.claim('b', claimOf('t7'), 10_000)).state).toBe('in-progress');
    await store.release('b', claimOf('t5'));
    expect((await store.claim('b', claimOf('t8'), 10_000)).state).toBe('claimed');
  });

  it('sends a script whole when Redis does not know it (after SCRIPT FLUSH or a restart)', async () => {
    const client = await redisClient();
    const store = new RedisIdempotencyStore(client, { prefix: 'test:3:' });
    expect(await store.claim('a', claimOf('t1'), 10_000)).toEqual({ state: 'claimed' });
    await client.script('FLUSH');
    expect(await store.claim('a', claimOf('t2'), 10_000)).toEqual({ state: 'in-progress', fingerprint: 'fp' });
  });

  it('gives one claim among 100 concurrent ones from two clients, and lets a claim expire', async () => {
    const one = new RedisIdempotencyStore(await redisClient(), { prefix: 'test:2:' });
    const two = new RedisIdempotencyStore(await redisClient(), { prefix: 'test:2:' });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? one : two).claim('race', claimOf(`t${i}`), 10_000)));
    expect(results.filter((r) => r.state === 'claimed')).toHaveLength(1);
    expect(await one.claim('short', claimOf('t1'), 50)).toEqual({ state: 'claimed' });
    await sleep(120);
    expect(await two.claim('short', claimOf('t2'), 50)).toEqual({ state: 'claimed' });
  });

  it('checks its arguments', async () => {
    expect(() => new RedisIdempotencyStore({} as never)).toThrow(TypeError);
    const client = await redisClient();
    expect(() => new RedisIdempotencyStore(client, { prefx: 'x' } as never)).toThrow(/did you mean prefix\?/);
  });
});

describe('a fleet sharing the Redis store', () => {
  it('two instances behind a round-robin balancer, 10 % of connections reset after the effect: 1 000 POSTs applied exactly once', async () => {
    const effects = new Map<string, number>();
    const a = await startEffectApp(effects, { store: new RedisIdempotencyStore(await redisClient(), { prefix: 'fleet:' }) });
    const b = await startEffectApp(effects, { store: new RedisIdempotencyStore(await redisClient(), { prefix: 'fleet:' }) });
    const balancer = await startBalancer([a.port, b.port]);
    const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: balancer.port } });
    proxy.addToxic({ type: 'reset_peer', stream: 'downstream', toxicity: 0.1 });
    const client = createHttpClient({ attempts: 8, budget: false, breaker: false });
    const { created, failures } = await postOrders(
      (id) =>
        client.request(`${proxy.url()}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id }),
          idempotencyKey: true,
        }),
      1_000,
      10,
    );
    expect(failures).toEqual([]);
    expect(created).toBe(1_000);
    expect(effects.size).toBe(1_000);
    expect([...effects.values()].every((n) => n === 1)).toBe(true);
    const resets = proxy.stats().faults.reset_peer;
    console.log(`fleet: ${resets} resets; replays ${a.replays} on A, ${b.replays} on B; connections ${balancer.routed.join(' / ')}`);
    expect(resets).toBeGreaterThan(50);
    expect(a.replays + b.replays).toBe(resets);
    expect(a.replays).toBeGreaterThan(0);
    expect(b.replays).toBeGreaterThan(0);
    await client.close();
    await proxy.close();
    await balancer.close();
    await a.close();
    await b.close();
  }, 60_000);
});

describe('Redis restarts mid-run', () => {
  it('fails closed with 503 while it is down, never runs a keyed request twice, and every request succeeds once it is back', async () => {
    const effects = new Map<string, number>();
    const app = await startEffectApp(effects, { store: new RedisIdempotencyStore(await redisClient(), { prefix: 'restart:' }) });
    const client = createHttpClient({ attempts: 10, budget: false, breaker: false, retryAfterCapMs: 2_000 });
    const sent = postOrders(
      (id) =>
        client.request(`http://127.0.0.1:${app.port}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id }),
          idempotencyKey: true,
        }),
      300,
      5,
    );
    await until(() => effects.size >= 100, '100 orders before the restart');
    await redis.kill();
    await sleep(500);
    await redis.start();
    const { created, failures } = await sent;
    expect(failures).toEqual([]);
    expect(created).toBe(300);
    expect(effects.size).toBe(300);
    expect([...effects.values()].every((n) => n === 1)).toBe(true);
    // Requests that arrived while it was down were refused, not run; their retries ran once.
    expect(app.outcomes.get('store-unavailable')).toBeGreaterThan(0);
    await client.close();
    await app.close();
  }, 60_000);
});
