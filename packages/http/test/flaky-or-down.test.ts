import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createChaosProxy, type ChaosProxy } from '@holdfast/chaos';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BreakerOpenError, createHttpClient, type OriginHealthEvent } from '@holdfast/http';
import { effectTotals, startEffectServer, type EffectServer } from './support/effect-server.js';
import { faces, type Face } from './support/faces.js';
import { settledOpenHandles, watchProcess } from './support/process-guard.js';

/**
 * Issue 9: a server that resets a share of its connections but answers the
 * rest is flaky, not down. Every face, with its defaults (breaker and budget
 * on), through the chaos proxy's reset_peer at toxicity 0.3 and 0.5 (each new
 * connection drawn once: a reset one breaks on the first byte of its answer).
 */

/** mulberry32, so the proxy draws the same connections to reset on every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `total` GETs from `callers` concurrent loops through `face`. */
async function load(face: Face, url: string, total: number, callers: number): Promise<{ ok: number; errors: unknown[] }> {
  let next = 0;
  let ok = 0;
  const errors: unknown[] = [];
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < total) {
        const id = `r-${next++}`;
        try {
          const { status } = await face.send(`${url}/${id}`, { id });
          if (status === 200) ok++;
          else errors.push(new Error(`status ${status}`));
        } catch (error) {
          errors.push(error);
        }
      }
    }),
  );
  return { ok, errors };
}

describe.each(Object.keys(faces))('%s with its defaults', (name) => {
  let server: EffectServer | undefined;
  let proxy: ChaosProxy | undefined;
  let face: Face | undefined;
  let guard: ReturnType<typeof watchProcess>;
  let baseline: string[];

  beforeEach(() => {
    guard = watchProcess();
    baseline = process.getActiveResourcesInfo();
  });

  afterEach(async () => {
    try {
      await face?.close();
      await proxy?.close();
      await server?.close();
      face = proxy = server = undefined;
      expect(await settledOpenHandles(baseline)).toEqual([]);
    } finally {
      guard.stop();
    }
    expect(guard.escaped).toEqual([]);
  });

  it.each([0.3, 0.5])('reset_peer at toxicity %s: 99 in 100 GETs arrive, the origin is flaky, never down', async (toxicity) => {
    server = await startEffectServer();
    // One request per connection, so every request meets the toxic's draw (a proxy that recycles its connections).
    server.server.on('request', (_req, res: ServerResponse) => res.setHeader('connection', 'close'));
    proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: server.port }, random: seeded(Math.round(toxicity * 100)) });
    proxy.addToxic({ type: 'reset_peer', stream: 'downstream', toxicity });
    face = faces[name]!({});
    const health: OriginHealthEvent[] = [];
    face.on('health', (event) => health.push(event));
    const { ok, errors } = await load(face, proxy.url(), 200, 8);
    // A GET fails only if all of its 11 attempts (1 + 8 immediate + 2 scheduled) meet a reset: at a 55 % reset rate
    // 0.14 % of requests, 0.3 of 200 on average; 4 or more happen in 1 run of 4 000.
    expect(ok).toBeGreaterThanOrEqual(toxicity < 0.5 ? 199 : 197);
    for (const error of errors) expect(error).toMatchObject({ name: 'RetryError', reason: 'attempts-exhausted', attempts: 11 });
    expect(errors.filter((e) => e instanceof BreakerOpenError)).toEqual([]);
    expect(health.map((e) => e.to)).not.toContain('down');
    const stats = face.stats();
    // The resets really happened, at about the toxicity's rate (0.3: ~80 of ~280 connections; 0.5: ~240 of ~440).
    expect(proxy.stats().resets).toBeGreaterThan(toxicity * 200);
    // Each reset was retried, except the last of a request that gave up.
    expect(stats.retries + stats.gaveUp).toBe(proxy.stats().resets);
    expect(stats.recovered).toBeGreaterThan(0);
    expect(stats.immediateRetries).toBeGreaterThan(0);
    expect(stats.origins.map((o) => o.health)).toEqual(['flaky']);
    expect(health[0]).toMatchObject({ from: 'healthy', to: 'flaky', fault: { kind: 'connection-reset' } });
    // The server applied every GET that arrived; the resets cut answers, so some were applied twice (GET is idempotent).
    expect(server.effects.size).toBeGreaterThanOrEqual(ok);
    expect(effectTotals(server.effects).total).toBe(server.arrivals);
  });

  it('a dead backend: the breaker opens after a run of failures, requests fail fast, and the attempts stay bounded', async () => {
    server = await startEffectServer(() => 'reset-before-effect');
    face = faces[name]!({});
    const health: OriginHealthEvent[] = [];
    face.on('health', (event) => health.push(event));
    const { ok, errors } = await load(face, server.url, 300, 8);
    expect(ok).toBe(0);
    expect(health.map((e) => e.to)).toContain('down');
    expect(errors.filter((e) => e instanceof BreakerOpenError).length).toBeGreaterThan(200);
    // 20 failures in a row open it, plus the attempts already on their way, plus probes after every 5 refusals.
    expect(server.arrivals).toBeLessThan(0.3 * 300);
    expect(face.stats().origins[0]).toMatchObject({ health: 'down', breaker: { state: expect.stringMatching(/open/) } });
  });
});

describe('state per origin', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  async function origins(count: number, failFirst: boolean): Promise<string[]> {
    const urls: string[] = [];
    for (let i = 0; i < count; i++) {
      let arrivals = 0;
      const s = createServer((req, res) => {
        if (failFirst && ++arrivals === 1) req.socket.resetAndDestroy();
        else res.end('ok');
      });
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
      servers.push(s);
      urls.push(`http://127.0.0.1:${(s.address() as AddressInfo).port}`);
    }
    return urls;
  }

  it('a healthy origin costs nothing: 40 origins answered, no state kept for any', async () => {
    const client = createHttpClient();
    for (const url of await origins(40, false)) await (await client.request(`${url}/`)).body.text();
    expect(client.stats()).toMatchObject({ retries: 0, origins: [] });
    await client.close();
  });

  it('an origin that failed is remembered for one breaker window, then released as healthy', async () => {
    const client = createHttpClient({ breaker: { windowMs: 200, windowBuckets: 2 } });
    const health: OriginHealthEvent[] = [];
    client.on('health', (event) => health.push(event));
    const urls = await origins(20, true);
    for (const url of urls) expect(await (await client.request(`${url}/`)).body.text()).toBe('ok');
    expect(client.stats()).toMatchObject({ retries: 20, recovered: 20 });
    expect(client.stats().origins).toHaveLength(20);
    // The sweep runs every window; two windows later every origin is quiet and released.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(client.stats()).toMatchObject({ retries: 20, recovered: 20, origins: [] });
    expect(health.filter((e) => e.to === 'flaky')).toHaveLength(20);
    expect(health.filter((e) => e.from === 'flaky' && e.to === 'healthy')).toHaveLength(20);
    await client.close();
  });
});
