import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pRetry, { AbortError } from 'p-retry';
import { Agent, fetch } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createChaosProxy, type ChaosProxy } from '@holdfast/chaos';
import type { GiveUpEvent, RetryBudgetRefusedEvent, RetryEvent } from '@holdfast/core';
import {
  HoldfastError,
  OutcomeUnknownError,
  ResponseStatusError,
  RetryBudget,
  RetryError,
  constant,
  holdfastRetryOptions,
  honorRetryAfter,
} from '@holdfast/core';
import { createHook } from 'node:async_hooks';
import { settle, tcpHandles } from './support/live-timers.js';

// The real p-retry drives every call here; holdfast only supplies its options. Faults are real: the chaos proxy
// resets connections after the server applied the request, or refuses them while disabled.

const cleanups: (() => Promise<void> | void)[] = [];
let tcpBefore = 0;

beforeEach(() => {
  tcpBefore = tcpHandles();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await settle();
  expect(tcpHandles()).toBe(tcpBefore);
});

type Answer = 'ok' | { status: number; headers?: Record<string, string> };

interface Setup {
  readonly url: string;
  readonly proxy: ChaosProxy;
  readonly agent: Agent;
  /** Requests applied per `x-request-id`. */
  readonly effects: Map<string, number>;
  arrivals(): number;
}

/** A server with side effects behind a chaos proxy; `answer(n)` picks the n-th arrival's answer. */
async function setup(answer: (arrival: number) => Answer = () => 'ok'): Promise<Setup> {
  const effects = new Map<string, number>();
  let arrivals = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const a = answer(++arrivals);
      if (a !== 'ok') {
        res.writeHead(a.status, a.headers).end(`status ${a.status}`);
        return;
      }
      const id = String(req.headers['x-request-id'] ?? req.url);
      effects.set(id, (effects.get(id) ?? 0) + 1);
      res.end(`applied ${id}`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port } });
  const agent = new Agent();
  cleanups.push(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  cleanups.push(() => proxy.close());
  cleanups.push(() => agent.close());
  return { url: proxy.url(), proxy, agent, effects, arrivals: () => arrivals };
}

/** The next response is cut by a real RST after the server applied the request; later ones pass. */
function resetNextResponse(s: Setup): () => void {
  const name = s.proxy.addToxic({ type: 'reset_peer', stream: 'downstream' });
  return () => s.proxy.removeToxic(name);
}

/** The usual p-retry + fetch operation: a failed status is thrown, here as holdfast's ResponseStatusError. */
function call(s: Setup, path: string, init: { method?: string; body?: string; id?: string } = {}): () => Promise<string> {
  return async () => {
    const res = await fetch(`${s.url}${path}`, {
      method: init.method ?? 'GET',
      ...(init.body === undefined ? {} : { body: init.body }),
      headers: { 'x-request-id': init.id ?? path },
      dispatcher: s.agent,
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new ResponseStatusError(res);
    }
    return res.text();
  };
}

const fast = { schedule: constant(5) } as const;

/** Timers set by core's own sources (the backoff) and still pending; undici's own timers are not counted. */
function watchCoreTimers(): { pending(): string[]; stop(): void } {
  const live = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout') return;
      const stack = new Error('timer created').stack ?? '';
      if (stack.includes('/packages/core/src/')) live.set(id, stack);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return { pending: () => [...live.values()], stop: () => void hook.disable() };
}

describe('pRetry(fn, holdfastRetryOptions()) takes holdfast’s decisions', () => {
  it('a GET whose response is reset after the server applied it is retried, with a retry event', async () => {
    const s = await setup();
    const heal = resetNextResponse(s);
    const retries: RetryEvent[] = [];
    const text = await pRetry(
      call(s, '/item'),
      holdfastRetryOptions({
        ...fast,
        operation: { method: 'GET' },
        onRetry: (e) => {
          retries.push(e);
          heal();
        },
      }),
    );
    expect(text).toBe('applied /item');
    expect(s.effects.get('/item')).toBe(2);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ attempt: 1, fault: { kind: 'connection-reset', transient: true } });
  });

  it('a POST reset after it was applied fails with OutcomeUnknownError, applied once; plain p-retry applies it twice', async () => {
    const s = await setup();
    resetNextResponse(s);
    const giveUps: GiveUpEvent[] = [];
    const error = await pRetry(
      call(s, '/orders', { method: 'POST', body: 'one order', id: 'order-1' }),
      holdfastRetryOptions({ ...fast, operation: { method: 'POST' }, onGiveUp: (e) => giveUps.push(e) }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect(error).toBeInstanceOf(HoldfastError);
    expect((error as OutcomeUnknownError).fault).toMatchObject({ kind: 'connection-reset', transient: true });
    expect((error as OutcomeUnknownError).attempts).toBe(1);
    expect(s.effects.get('order-1')).toBe(1);
    expect(giveUps).toEqual([expect.objectContaining({ reason: 'outcome-unknown', attempts: 1 })]);

    // The same fault under p-retry's own decisions: fetch's TypeError is a network error to it, so the POST goes again.
    s.proxy.clearToxics();
    const heal = resetNextResponse(s);
    await pRetry(call(s, '/orders', { method: 'POST', body: 'one order', id: 'order-2' }), {
      retries: 2,
      minTimeout: 5,
      onFailedAttempt: heal,
    });
    expect(s.effects.get('order-2')).toBe(2);
  });

  it('a POST whose connection is refused never reached the server, so it is retried and applied once', async () => {
    const s = await setup();
    await s.proxy.disable();
    const retries: RetryEvent[] = [];
    const text = await pRetry(
      call(s, '/orders', { method: 'POST', body: 'x', id: 'order-3' }),
      holdfastRetryOptions({
        ...fast,
        operation: { method: 'POST' },
        onRetry: (e) => {
          retries.push(e);
          void s.proxy.enable();
        },
      }),
    );
    expect(text).toBe('applied order-3');
    expect(s.effects.get('order-3')).toBe(1);
    expect(retries[0]?.fault).toMatchObject({ kind: 'connection-refused', phase: 'connect' });
  });

  it("a 503 with Retry-After waits the server's delay (capped), not the schedule's", async () => {
    const s = await setup((n) => (n === 1 ? { status: 503, headers: { 'retry-after': '1' } } : 'ok'));
    const delays: number[] = [];
    const started = performance.now();
    const text = await pRetry(
      call(s, '/busy'),
      holdfastRetryOptions({
        schedule: honorRetryAfter(constant(5), { capMs: 150 }),
        operation: { method: 'GET' },
        onRetry: (e) => delays.push(e.delayMs),
      }),
    );
    expect(text).toBe('applied /busy');
    // The schedule says 5 ms; 150 ms is Retry-After's 1 s clamped to the cap.
    expect(delays).toEqual([150]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(s.arrivals()).toBe(2);
  });

  it('a 429 on a POST is retried (the server did not process it); a 400 is not, after one attempt', async () => {
    const s = await setup((n) => (n === 1 ? { status: 429, headers: { 'retry-after': '0' } } : n === 3 ? { status: 400 } : 'ok'));
    expect(
      await pRetry(call(s, '/p', { method: 'POST', body: 'a', id: 'p-1' }), holdfastRetryOptions({ ...fast, operation: { method: 'POST' } })),
    ).toBe('applied p-1');
    const error = await pRetry(call(s, '/q'), holdfastRetryOptions({ ...fast, operation: { method: 'GET' } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    expect(error).toMatchObject({ reason: 'not-transient', attempts: 1, fault: { kind: 'http-status', status: 400 } });
    expect(s.arrivals()).toBe(3);
  });

  it('a GET that keeps failing stops after holdfast’s attempts (3), with the last fault', async () => {
    const s = await setup(() => ({ status: 502 }));
    const error = await pRetry(call(s, '/down'), holdfastRetryOptions({ ...fast, operation: { method: 'GET' } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    expect(error).toMatchObject({ reason: 'attempts-exhausted', attempts: 3, fault: { status: 502 } });
    expect((error as RetryError).cause).toBeInstanceOf(ResponseStatusError);
    expect(s.arrivals()).toBe(3);
  });

  it('a shared RetryBudget is spent: once it is empty the call gives up with budget-exhausted', async () => {
    const s = await setup(() => ({ status: 503 }));
    // No share of traffic and a floor of one retry (1 a second over 1 s): the call's first retry empties it.
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 1, ttlMs: 1_000 });
    const refused: RetryBudgetRefusedEvent[] = [];
    const options = {
      ...fast,
      attempts: 5,
      budget,
      operation: { method: 'GET' },
      onBudgetExhausted: (e: RetryBudgetRefusedEvent) => refused.push(e),
    };
    const error = await pRetry(call(s, '/a'), holdfastRetryOptions(options)).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'budget-exhausted', attempts: 2 });
    expect(refused).toHaveLength(1);
    expect(budget.stats()).toMatchObject({ retries: 1, refused: 1 });
    expect(s.arrivals()).toBe(2);
  });

  it("the caller's AbortSignal ends the backoff at once with its reason, and leaves no timer", async () => {
    const s = await setup(() => ({ status: 503 }));
    const timers = watchCoreTimers();
    const caller = new AbortController();
    const reason = new Error('the caller gave up');
    const started = performance.now();
    const error = await pRetry(
      call(s, '/slow'),
      holdfastRetryOptions({
        schedule: constant(60_000),
        operation: { method: 'GET' },
        signal: caller.signal,
        onRetry: () => setTimeout(() => caller.abort(reason), 10),
      }),
    ).catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(s.arrivals()).toBe(1);
    await settle();
    timers.stop();
    expect(timers.pending()).toEqual([]);
  });

  it('an AbortError thrown by the operation still stops p-retry with its error, holdfast not asked', async () => {
    const s = await setup();
    const retries: RetryEvent[] = [];
    const mine = new Error('not found, stop');
    const error = await pRetry(
      () => {
        throw new AbortError(mine);
      },
      holdfastRetryOptions({ ...fast, onRetry: (e) => retries.push(e) }),
    ).catch((e: unknown) => e);
    expect(error).toBe(mine);
    expect(retries).toEqual([]);
    expect(s.arrivals()).toBe(0);
  });

  it('one options object serves many calls, each with its own count of attempts (in turn and at once)', async () => {
    const s = await setup(() => ({ status: 503 }));
    const options = holdfastRetryOptions({ ...fast, operation: { method: 'GET' } });
    for (const path of ['/one', '/two']) {
      await expect(pRetry(call(s, path), options)).rejects.toMatchObject({ reason: 'attempts-exhausted', attempts: 3 });
    }
    const together = await Promise.all(['/a', '/b', '/c'].map((path) => pRetry(call(s, path), options).catch((e: unknown) => e)));
    expect(together.map((e) => (e as RetryError).attempts)).toEqual([3, 3, 3]);
    expect(s.arrivals()).toBe(15);
  });

  it('retries and give-ups are published once each on holdfast:retry and holdfast:give-up', async () => {
    const s = await setup(() => ({ status: 503 }));
    const seen: string[] = [];
    const onRetry = (m: unknown): void => void seen.push(`retry ${(m as RetryEvent).attempt}`);
    const onGiveUp = (m: unknown): void => void seen.push(`give-up ${(m as GiveUpEvent).reason}`);
    diagnosticsChannel.subscribe('holdfast:retry', onRetry);
    diagnosticsChannel.subscribe('holdfast:give-up', onGiveUp);
    try {
      await pRetry(call(s, '/x'), holdfastRetryOptions({ ...fast, attempts: 2, name: 'orders-api', operation: { method: 'GET' } })).catch(() => {});
    } finally {
      diagnosticsChannel.unsubscribe('holdfast:retry', onRetry);
      diagnosticsChannel.unsubscribe('holdfast:give-up', onGiveUp);
    }
    expect(seen).toEqual(['retry 1', 'give-up attempts-exhausted']);
  });
});

describe('holdfastRetryOptions() checks its options', () => {
  it("p-retry's own names are refused with a pointer to holdfast's", () => {
    expect(() => holdfastRetryOptions({ retries: 3 } as never)).toThrow(
      /holdfastRetryOptions: unknown option 'retries' \(did you mean attempts \(which counts the first attempt too\)\?\)/,
    );
    expect(() => holdfastRetryOptions({ maxRetryTime: 1000 } as never)).toThrow(/did you mean deadlineMs/);
  });

  it('what p-retry cannot carry out is refused, and values are checked', () => {
    expect(() => holdfastRetryOptions({ attemptTimeoutMs: 100 } as never)).toThrow(TypeError);
    expect(() => holdfastRetryOptions({ onRecovered: () => {} } as never)).toThrow(/unknown option 'onRecovered'/);
    expect(() => holdfastRetryOptions({ attempts: 0 })).toThrow(RangeError);
    expect(() => holdfastRetryOptions({ attempts: 0 })).toThrow(
      "holdfastRetryOptions: option 'attempts' must be an integer >= 1, or Infinity, got 0",
    );
  });

  it("turns p-retry's own count and delay off: holdfast's attempts and schedule decide", () => {
    const options = holdfastRetryOptions({ attempts: 4 });
    expect(options).toMatchObject({ retries: Number.POSITIVE_INFINITY, minTimeout: 0, randomize: false });
    expect(typeof options.shouldRetry).toBe('function');
  });
});
