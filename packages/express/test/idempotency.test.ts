import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createChaosProxy } from '@holdfast/chaos';
import { createHttpClient } from '@holdfast/http';
import { IdempotencyStoreError, MemoryIdempotencyStore, idempotency, type ExpressEventMap, type IdempotencyStore } from '../src/index.js';
import { postOrders, startEffectApp } from './support/effect-app.js';
import { EXPRESSES, failOnEscapedErrors, send, sleep } from './support/servers.js';

failOnEscapedErrors();

const json = (body: unknown, key?: string): { method: string; headers: Record<string, string>; body: string } => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }) },
  body: JSON.stringify(body),
});

for (const [name, express] of EXPRESSES) {
  describe(`${name}: idempotency() semantics`, () => {
    async function start(options: Parameters<typeof idempotency>[0] = {}, handler?: (release: Promise<void>) => Promise<void>) {
      const app = express();
      const runs: string[] = [];
      const outcomes: ExpressEventMap['idempotency']['outcome'][] = [];
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const middleware = idempotency(options);
      middleware.events.on('idempotency', (e) => outcomes.push(e.outcome));
      app.use(express.json());
      app.use(middleware);
      app.post('/pay', async (req, res) => {
        const body = req.body as { amount: number; status?: number };
        runs.push(String(body.amount));
        if (handler) await handler(gate);
        res
          .status(body.status ?? 201)
          .set('x-charge', `ch_${runs.length}`)
          .json({ charged: body.amount, run: runs.length });
      });
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/pay`;
      return { url, runs, outcomes, release, close: () => server.close() };
    }

    it('runs the first request, replays a repeat (status, headers, body) without running it again', async () => {
      const s = await start();
      const first = await send(s.url, json({ amount: 10 }, 'k-1'));
      const again = await send(s.url, json({ amount: 10 }, 'k-1'));
      expect(first).toMatchObject({ status: 201, body: '{"charged":10,"run":1}' });
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      expect(again).toMatchObject({ status: 201, body: '{"charged":10,"run":1}' });
      expect(again.headers).toMatchObject({ 'x-charge': 'ch_1', 'idempotent-replayed': 'true', 'content-type': 'application/json; charset=utf-8' });
      expect(s.runs).toEqual(['10']);
      // Without a key, nothing changes.
      await send(s.url, json({ amount: 10 }));
      expect(s.runs).toEqual(['10', '10']);
      expect(s.outcomes).toEqual(['claimed', 'stored', 'replayed']);
      s.close();
    });

    it('answers 409 to a repeat while the first still runs, 422 to the key with another payload', async () => {
      const s = await start({}, (gate) => gate);
      const first = send(s.url, json({ amount: 5 }, 'k-2'));
      while (s.runs.length === 0) await sleep(2);
      const concurrent = await send(s.url, json({ amount: 5 }, 'k-2'));
      expect(concurrent.status).toBe(409);
      expect(concurrent.headers['retry-after']).toBe('1');
      expect(concurrent.headers['content-type']).toBe('application/problem+json');
      s.release();
      expect((await first).status).toBe(201);
      const other = await send(s.url, json({ amount: 6 }, 'k-2'));
      expect(other.status).toBe(422);
      expect(s.runs).toEqual(['5']);
      s.close();
    });

    it('lets keys expire, releases a key after a 5xx, refuses malformed keys, requires a key when asked', async () => {
      const s = await start({ ttlMs: 50 });
      await send(s.url, json({ amount: 1 }, 'k-3'));
      await sleep(80);
      expect((await send(s.url, json({ amount: 1 }, 'k-3'))).body).toBe('{"charged":1,"run":2}');
      // A 5xx is not kept: the retry runs.
      expect((await send(s.url, json({ amount: 2, status: 503 }, 'k-4'))).status).toBe(503);
      expect((await send(s.url, json({ amount: 2, status: 503 }, 'k-4'))).body).toBe('{"charged":2,"run":4}');
      expect((await send(s.url, json({ amount: 3 }, 'x'.repeat(256)))).status).toBe(400);
      expect((await send(s.url, json({ amount: 3 }, 'has space'))).status).toBe(400);
      s.close();
      const strict = await start({ required: true });
      expect((await send(strict.url, json({ amount: 1 }))).status).toBe(400);
      expect(strict.runs).toEqual([]);
      strict.close();
    });

    it('records a route of a mounted sub-app (which switches the response prototype while it runs)', async () => {
      const app = express();
      const v1 = express();
      let runs = 0;
      v1.post('/pay', (_req, res) => {
        runs++;
        res.status(201).send(`run ${runs}`);
      });
      app.use(express.json(), idempotency());
      app.use('/v1', v1);
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/pay`;
      expect((await send(url, json({ amount: 1 }, 'sub-1'))).body).toBe('run 1');
      const again = await send(url, json({ amount: 1 }, 'sub-1'));
      expect(again).toMatchObject({ status: 201, body: 'run 1' });
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(runs).toBe(1);
      server.close();
    });

    it('keeps callers apart with scope', async () => {
      const s = await start({ scope: (req) => String(req.headers['x-user']) });
      const as = (user: string) => ({ ...json({ amount: 7 }, 'same'), headers: { ...json({ amount: 7 }, 'same').headers, 'x-user': user } });
      await send(s.url, as('alice'));
      await send(s.url, as('bob'));
      await send(s.url, as('alice'));
      expect(s.runs).toEqual(['7', '7']);
      s.close();
    });

    it('fails closed: a store that cannot answer gets 503 with Retry-After, and the handler does not run', async () => {
      const down: IdempotencyStore = {
        claim: () => Promise.reject(new IdempotencyStoreError('claim', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))),
        complete: () => Promise.resolve(),
        release: () => Promise.resolve(),
      };
      const s = await start({ store: down });
      const res = await send(s.url, json({ amount: 9 }, 'k-5'));
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(s.runs).toEqual([]);
      expect(s.outcomes).toEqual(['store-unavailable']);
      s.close();
      // A store that throws instead of rejecting: the same.
      const throwing = await start({
        store: {
          ...down,
          claim: () => {
            throw new Error('not connected');
          },
        },
      });
      expect((await send(throwing.url, json({ amount: 9 }, 'k-6'))).status).toBe(503);
      expect(throwing.runs).toEqual([]);
      throwing.close();
    });
  });
}

describe('exactly once through resets', () => {
  it('1 000 POSTs, 10 % of connections reset after the effect, @holdfast/http with idempotencyKey: exactly 1 000 effects and 1 000 successes', async () => {
    const effects = new Map<string, number>();
    const app = await startEffectApp(effects, { store: new MemoryIdempotencyStore() });
    const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: app.port } });
    // The first byte of the response triggers the reset: the order was applied and stored, its answer is lost.
    proxy.addToxic({ type: 'reset_peer', stream: 'downstream', toxicity: 0.1 });
    // Retries here are the point: no budget or breaker between the resets and the server.
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
    console.log(`exactly once: ${resets} connections reset after the effect, ${app.replays} replays`);
    expect(resets).toBeGreaterThan(50);
    expect(app.replays).toBe(resets);
    await client.close();
    await proxy.close();
    await app.close();
  }, 60_000);

  it('the same without idempotency(): the resets apply orders twice or leave them unknown', async () => {
    const effects = new Map<string, number>();
    const app = await startEffectApp(effects, { methods: ['PUT'] });
    const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: app.port } });
    proxy.addToxic({ type: 'reset_peer', stream: 'downstream', toxicity: 0.1 });
    const client = createHttpClient({ attempts: 8, budget: false, breaker: false });
    await postOrders(
      (id) =>
        client.request(`${proxy.url()}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id }),
          idempotencyKey: true,
        }),
      200,
      10,
    );
    expect([...effects.values()].some((n) => n > 1)).toBe(true);
    await client.close();
    await proxy.close();
    await app.close();
  }, 60_000);
});
