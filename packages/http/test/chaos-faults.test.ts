import diagnosticsChannel from 'node:diagnostics_channel';
import { Readable } from 'node:stream';
import { createChaosProxy, type ChaosProxy } from '@holdfast/chaos';
import { constant } from '@holdfast/core';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { BreakerOpenError, OutcomeUnknownError, RetryError, createHttpClient, type HttpClient } from '@holdfast/http';
import { effectTotals, startEffectServer, type EffectServer } from './support/effect-server.js';
import { guardEachTest, settledOpenHandles } from './support/process-guard.js';

let server: EffectServer | undefined;
let proxy: ChaosProxy | undefined;
let client: HttpClient | undefined;
guardEachTest(async () => {
  await client?.close();
  await proxy?.close();
  await server?.close();
  client = undefined;
  proxy = undefined;
  server = undefined;
});

async function behindProxy(fault?: Parameters<typeof startEffectServer>[0]): Promise<string> {
  server = await startEffectServer(fault);
  proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: server.port } });
  return proxy.url();
}

describe('timeouts through a stalled connection', () => {
  it('headersTimeout bounds each attempt; the GET is retried, then fails with a timeout fault', async () => {
    const url = await behindProxy();
    proxy!.addToxic({ type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } });
    client = createHttpClient({ attempts: 2, schedule: constant(5), budget: false, breaker: false, headersTimeout: 150 });
    const started = performance.now();
    const error = await client.request(`${url}/slow`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    expect((error as RetryError).fault.kind).toBe('timeout');
    expect((error as RetryError).attempts).toBe(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
  });

  it("a request's own headersTimeout bounds its attempts, under a client whose default is 30 s", async () => {
    const url = await behindProxy();
    proxy!.addToxic({ type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } });
    client = createHttpClient({ attempts: 2, schedule: constant(5), budget: false, breaker: false });
    const started = performance.now();
    const error = await client.request(`${url}/slow`, { headersTimeout: 150 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    expect((error as RetryError).fault.kind).toBe('timeout');
    expect((error as RetryError).attempts).toBe(2);
    // Two attempts of at least 150 ms each; undici checks the limit on a coarse (~1 s) clock, so well under 30 s.
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('a body that stops mid-way fails with the fault attached; it is not spliced or repeated', async () => {
    const url = await behindProxy();
    client = createHttpClient({ schedule: constant(5), budget: false, breaker: false });
    // The headers take ~130 bytes and the body ~210: cut the connection after the first 180 bytes.
    proxy!.addToxic({ type: 'limit_data', stream: 'downstream', attributes: { bytes: 180 } });
    const res = await client.request(`${url}/${'x'.repeat(200)}`);
    const error = await res.body.text().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    expect((error as RetryError).fault.phase).toBe('response');
    expect((error as RetryError).message).toMatch(/already started reaching the caller/);
  });

  it('the overall deadline ends a request that keeps stalling, whatever the attempts left', async () => {
    const url = await behindProxy();
    proxy!.addToxic({ type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } });
    client = createHttpClient({ attempts: 10, schedule: constant(5), budget: false, breaker: false, headersTimeout: 5_000 });
    const started = performance.now();
    const error = await client.request(`${url}/`, { deadlineMs: 300 }).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(Error);
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(2_000);
  });

  it("the caller's AbortSignal ends a request waiting for a retry at once", async () => {
    server = await startEffectServer(() => ({ status: 503, headers: { 'retry-after': '5' } }));
    client = createHttpClient({ budget: false, breaker: false });
    const controller = new AbortController();
    const pending = client.request(`${server.url}/`, { signal: controller.signal }).catch((e: unknown) => e);
    while (server.arrivals === 0) await new Promise((r) => setTimeout(r, 5));
    const started = performance.now();
    controller.abort(new Error('caller gave up'));
    const error = await pending;
    expect(performance.now() - started).toBeLessThan(500);
    expect((error as Error).message).toMatch(/caller gave up/);
    expect(server.arrivals).toBe(1);
  });
});

describe('rule 5: bodies', () => {
  it('string, bytes, URLSearchParams, FormData and Blob bodies are sent again whole', async () => {
    const url = await behindProxy((_req, n) => (n % 2 === 1 ? 'reset-before-effect' : 'none'));
    client = createHttpClient({ schedule: constant(5), budget: false, breaker: false });
    const form = new FormData();
    form.set('a', '1');
    const bodies = ['text', new TextEncoder().encode('bytes'), new URLSearchParams({ q: 'v' }), form, new Blob(['blob'])];
    for (const [i, body] of bodies.entries()) {
      const res = await client.request(`${url}/put`, { method: 'PUT', body, headers: { 'x-request-id': `b-${i}` } });
      expect(res.statusCode).toBe(200);
      const text = await res.body.text();
      expect(text).toContain(`applied b-${i}`);
    }
    expect(effectTotals(server!.effects)).toEqual({ total: 5, duplicated: 0 });
    expect(server!.arrivals).toBe(10);
  });

  it('a stream body is not sent again: the error names the fault and the reason', async () => {
    const url = await behindProxy(() => 'reset-before-effect');
    client = createHttpClient({ schedule: constant(5), budget: false, breaker: false });
    const error = await client
      .request(`${url}/put`, { method: 'PUT', body: Readable.from([Buffer.from('chunk-1'), Buffer.from('chunk-2')]) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    expect((error as RetryError).attempts).toBe(1);
    expect((error as RetryError).message).toMatch(/bodyFactory/);
    expect(server!.arrivals).toBe(1);
  });

  it('with a bodyFactory, a stream body is retried with a fresh stream', async () => {
    const url = await behindProxy((_req, n) => (n === 1 ? 'reset-before-effect' : 'none'));
    client = createHttpClient({ schedule: constant(5), budget: false, breaker: false });
    const res = await client.request(`${url}/put`, {
      method: 'PUT',
      bodyFactory: () => Readable.from([Buffer.from('whole '), Buffer.from('body')]),
      headers: { 'x-request-id': 's-1' },
    });
    expect(await res.body.text()).toBe('applied s-1 whole body');
    expect(server!.arrivals).toBe(2);
  });
});

describe('rule 7: one budget and one breaker per origin', () => {
  it('during an outage retries stay within the budget, the breaker fails fast, and both recover', async () => {
    const url = await behindProxy();
    client = createHttpClient({
      schedule: constant(5),
      budget: { ratio: 0.1, minRetriesPerSecond: 1 },
      breaker: { minimumRequests: 20, resetTimeoutMs: 300, windowMs: 1_000 },
    });
    await (await client.request(`${url}/warm`)).body.dump();
    // The backend is down: every new connection is reset.
    await proxy!.disable({ mode: 'reset', existing: 'reset' });
    const outcomes = new Map<string, number>();
    const connections = (): number => proxy!.stats().connections.total + proxy!.stats().connections.rejected;
    const before = connections();
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        for (let j = 0; j < 4; j++) {
          const error = await client!.request(`${url}/o-${i}-${j}`).catch((e: unknown) => e);
          const name = error instanceof Error ? error.constructor.name : 'ok';
          outcomes.set(name, (outcomes.get(name) ?? 0) + 1);
        }
      }),
    );
    const attempts = connections() - before;
    expect(outcomes.get('ok')).toBeUndefined();
    // 200 requests: attempts that reached the proxy stay near one per request (budget), and the breaker refused some outright.
    expect(attempts).toBeLessThanOrEqual(200 * 1.1 + 10);
    expect(outcomes.get(BreakerOpenError.name) ?? 0).toBeGreaterThan(0);
    await proxy!.enable();
    await new Promise((r) => setTimeout(r, 350));
    let recovered = false;
    for (let i = 0; i < 20 && !recovered; i++) {
      const res = await client.request(`${url}/after`).catch(() => undefined);
      if (res !== undefined) {
        await res.body.dump();
        recovered = res.statusCode === 200;
      } else {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(recovered).toBe(true);
  });

  it('with the default breaker, a busy client notices a recovered origin within a few refused requests, and sends little during the outage', async () => {
    let down = false;
    server = await startEffectServer(() => (down ? 'reset-before-effect' : 'none'));
    const url = server.url;
    client = createHttpClient({ schedule: constant(5) });
    const probes: number[] = [];
    const onBreaker = (message: unknown): void => {
      if ((message as { event: string }).event === 'half-open') probes.push(performance.now());
    };
    diagnosticsChannel.subscribe('holdfast:breaker', onBreaker);
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    let upAt = 0;
    let requestsDuringOutage = 0;
    const backAfter: number[] = [];
    // 20 callers, each waiting 20 ms after a failure, as an application would; the origin resets everything for 1.5 s.
    const caller = async (i: number): Promise<void> => {
      for (let j = 0; ; j++) {
        const startedDown = down;
        const res = await client!.request(`${url}/c-${i}-${j}`).catch(() => undefined);
        if (startedDown) requestsDuringOutage++;
        if (res !== undefined) {
          await res.body.dump();
          if (upAt > 0) return void backAfter.push(performance.now() - upAt);
        }
        if (upAt > 0 && performance.now() - upAt > 5_000) return;
        await sleep(res === undefined ? 20 : 5);
      }
    };
    try {
      const callers = Promise.all(Array.from({ length: 20 }, (_, i) => caller(i)));
      await sleep(100);
      down = true;
      const arrivalsAtDown = server.arrivals;
      const downAt = performance.now();
      await sleep(1_500);
      const arrivalsDuringOutage = server.arrivals - arrivalsAtDown;
      upAt = performance.now();
      down = false;
      await callers;
      expect(backAfter).toHaveLength(20);
      // The probe that found the origin back came within a fraction of the outage, not after a grown (up to 1 s) wait.
      expect(Math.min(...backAfter)).toBeLessThan(300);
      expect(Math.max(...backAfter)).toBeLessThan(600);
      // Probes kept coming late in the outage (every ~5 refused requests), not only on the timer's doubling schedule
      // (5, 10, … 640, then 1 000 ms apart, jittered: at most one or two in the outage's last 500 ms).
      const lateProbes = probes.filter((t) => t > downAt + 1_000 && t < upAt);
      expect(lateProbes.length).toBeGreaterThanOrEqual(4);
      // Yet the origin saw far fewer attempts than requests: the 20 in flight when it went down, their retries, and one
      // probe at a time, at most one per 5 refused requests (without a breaker: every request and its retries).
      expect(requestsDuringOutage).toBeGreaterThan(300);
      expect(arrivalsDuringOutage).toBeLessThan(requestsDuringOutage * 0.3);
    } finally {
      diagnosticsChannel.unsubscribe('holdfast:breaker', onBreaker);
    }
  });

  it('requests sleeping out a long backoff go as soon as a probe closes the breaker, not when the backoff ends', async () => {
    let down = true;
    server = await startEffectServer(() => (down ? 'reset-before-effect' : 'none'));
    const url = server.url;
    let retries = 0;
    const breakerEvents: string[] = [];
    const onBreaker = (message: unknown): void => {
      breakerEvents.push((message as { event: string }).event);
    };
    diagnosticsChannel.subscribe('holdfast:breaker', onBreaker);
    onTestFinished(() => {
      diagnosticsChannel.unsubscribe('holdfast:breaker', onBreaker);
    });
    client = createHttpClient({
      schedule: constant(4_000),
      attempts: 2,
      onRetry: (event) => {
        // Immediate retries (made at once while the origin still looked alive) do not sleep.
        if (!event.immediate) retries++;
      },
    });
    // 30 GETs fail at once: the first ones retry at once, until the run of failures says the origin is not alive;
    // then they sleep 4 s before their second attempt, the rest fail, and the breaker opens.
    const first = Array.from({ length: 30 }, (_, i) =>
      client!.request(`${url}/w-${i}`).then(
        async (res) => {
          await res.body.dump();
          return performance.now();
        },
        () => undefined,
      ),
    );
    await vi.waitFor(() => expect(retries).toBeGreaterThan(0));
    await new Promise((r) => setTimeout(r, 100));
    const sleeping = retries;
    expect(breakerEvents).toContain('open');
    down = false;
    const upAt = performance.now();
    // The next request after the breaker's first wait is its probe; it succeeds and closes the breaker.
    let probed = false;
    for (let i = 0; i < 50 && !probed; i++) {
      const res = await client.request(`${url}/probe-${i}`).catch(() => undefined);
      if (res !== undefined) {
        await res.body.dump();
        probed = true;
      } else await new Promise((r) => setTimeout(r, 10));
    }
    expect(probed).toBe(true);
    expect(breakerEvents.at(-1)).toBe('close');
    const woken = (await Promise.all(first)).filter((t): t is number => t !== undefined);
    expect(woken).toHaveLength(sleeping);
    for (const t of woken) expect(t - upAt).toBeLessThan(1_500);
    expect(effectTotals(server.effects).duplicated).toBe(0);
  });

  it('a POST during a refused-connection outage is retried (it never reached the server) and applied once', async () => {
    const url = await behindProxy();
    client = createHttpClient({ attempts: 20, schedule: constant(50), budget: false, breaker: false });
    await proxy!.disable({ mode: 'refuse' });
    const pending = client.request(`${url}/orders`, { method: 'POST', body: 'x', headers: { 'x-request-id': 'down-1' } });
    setTimeout(() => void proxy!.enable(), 200).unref();
    const res = await pending;
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(server!.effects.get('down-1')).toBe(1);
  });

  it('a POST reset by the proxy after the server applied it is reported, not repeated', async () => {
    const url = await behindProxy();
    client = createHttpClient({ schedule: constant(5), budget: false, breaker: false });
    // The upstream answers, but the answer never reaches the client: the connection is reset instead.
    proxy!.addToxic({ type: 'reset_peer', stream: 'downstream', attributes: { timeout: 0 } });
    const error = await client.request(`${url}/orders`, { method: 'POST', body: 'x', headers: { 'x-request-id': 'rp-1' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    await new Promise((r) => setTimeout(r, 50));
    expect(server!.effects.get('rp-1') ?? 0).toBeLessThanOrEqual(1);
    expect(server!.arrivals).toBeLessThanOrEqual(1);
  });
});

describe('rule 6: keep-alive', () => {
  it("honours the server's Keep-Alive timeout hint: requests spaced past it never hit a closing socket", async () => {
    server = await startEffectServer();
    server.server.keepAliveTimeout = 300;
    client = createHttpClient({ schedule: constant(5), budget: false, breaker: false });
    const retries: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await client.request(`${server.url}/orders`, { method: 'POST', body: 'x', headers: { 'x-request-id': `ka-${i}` } });
      await res.body.dump();
      await new Promise((r) => setTimeout(r, 310));
    }
    expect(retries).toEqual([]);
    expect(effectTotals(server.effects)).toEqual({ total: 4, duplicated: 0 });
  });
});

describe('close()', () => {
  it('a client that went through faults leaves nothing open', async () => {
    const baseline = process.getActiveResourcesInfo();
    const url = await behindProxy((_req, n) => (n === 1 ? 'reset-after-effect' : 'none'));
    client = createHttpClient({ schedule: constant(5) });
    await (await client.request(`${url}/`)).body.dump();
    await client.close();
    client = undefined;
    await proxy!.close();
    proxy = undefined;
    await server!.close();
    server = undefined;
    expect(await settledOpenHandles(baseline)).toEqual([]);
  });
});
