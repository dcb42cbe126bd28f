import { createHook } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, connect, type AddressInfo, type Socket } from 'node:net';
import { Agent, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AttemptInfo, Fault, GiveUpEvent, RetryBudgetRefusedEvent, RetryEvent } from '@holdfast/core';
import {
  AttemptTimeoutError,
  HoldfastError,
  OutcomeUnknownError,
  RetryBudget,
  RetryError,
  RetryPolicy,
  classifyResponse,
  constant,
  createRetryPolicy,
  exponential,
  honorRetryAfter,
  retry,
} from '@holdfast/core';
import { settle, tcpHandles, watchTimers } from './support/live-timers.js';

// Every test talks to real loopback servers through undici or raw sockets and
// produces real faults (RSTs, refused connections, stalls, 503s).

const cleanups: (() => Promise<void> | void)[] = [];
let tcpBefore = 0;
let holdfastTimers: ReturnType<typeof watchHoldfastTimers>;

/**
 * Timers created by holdfast's own sources that are still pending (neither
 * fired nor cleared). Told apart by their creation stack, because the test
 * runner keeps timers of its own.
 */
function watchHoldfastTimers(): { pending(): string[]; stop(): void } {
  const live = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout') return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 30;
      const stack = new Error('timer created').stack ?? '';
      Error.stackTraceLimit = limit;
      // The frame that called setTimeout must be ours (undici's process-wide timer can be created inside our call).
      const frames = stack.split('\n');
      const caller = frames[frames.findIndex((frame) => frame.includes('at setTimeout (')) + 1] ?? '';
      if (caller.includes('/packages/core/src/')) live.set(id, stack);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return { pending: () => [...live.values()], stop: () => void hook.disable() };
}

beforeEach(() => {
  tcpBefore = tcpHandles();
  holdfastTimers = watchHoldfastTimers();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await settle();
  holdfastTimers.stop();
  // Nothing holdfast started may outlive the call: no timer, no socket.
  expect(holdfastTimers.pending()).toEqual([]);
  expect(tcpHandles()).toBe(tcpBefore);
});

type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void;

interface HttpServer {
  readonly url: string;
  readonly hits: () => number;
  /** When each request arrived (performance.now()). */
  readonly arrivals: number[];
}

async function httpServer(handler: Handler): Promise<HttpServer> {
  let hits = 0;
  const arrivals: number[] = [];
  const server = createServer((req, res) => {
    hits++;
    arrivals.push(performance.now());
    handler(req, res, hits);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, hits: () => hits, arrivals };
}

/** A port nothing listens on: bound, then released. */
async function closedPortUrl(): Promise<string> {
  const server = createTcpServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return `http://127.0.0.1:${port}/`;
}

function newAgent(): Agent {
  const agent = new Agent({ connect: { timeout: 5_000 } });
  cleanups.push(() => agent.destroy());
  return agent;
}

/** Reads the whole body; fails on anything but 2xx the way an HTTP client would, with the response's Fault. */
function httpCall(url: string, agent: Agent, options: { method?: 'GET' | 'POST'; body?: string } = {}) {
  return async (info: AttemptInfo): Promise<string> => {
    const response = await request(url, {
      dispatcher: agent,
      method: options.method ?? 'GET',
      ...(options.body === undefined ? {} : { body: options.body }),
      ...(info.signal === undefined ? {} : { signal: info.signal }),
    });
    const text = await response.body.text();
    if (response.statusCode >= 400) {
      throw new HoldfastError(`HTTP ${response.statusCode}`, classifyResponse(response.statusCode, response.headers));
    }
    return text;
  };
}

const resetAfterReading: Handler = (req) => {
  req.resume();
  req.on('end', () => req.socket.resetAndDestroy());
};

const answerOk: Handler = (req, res) => {
  req.resume();
  res.end('ok');
};

const quick = constant(5);

describe('retry() under real faults', () => {
  it('retries connections the server resets, and the server sees every attempt', async () => {
    const server = await httpServer((req, res, hit) => (hit <= 2 ? resetAfterReading(req, res, hit) : answerOk(req, res, hit)));
    const retries: RetryEvent[] = [];
    const result = await retry(httpCall(server.url, newAgent()), {
      attempts: 4,
      schedule: quick,
      operation: { method: 'GET' },
      onRetry: (event) => retries.push(event),
    });
    expect(result).toBe('ok');
    expect(server.hits()).toBe(3);
    expect(retries.map((e) => [e.attempt, e.delayMs])).toEqual([
      [1, 5],
      [2, 5],
    ]);
    expect(retries.every((e) => e.fault.transient && ['connection-reset', 'closed'].includes(e.fault.kind))).toBe(true);
  });

  it('retries a refused connection even for a POST: nothing reached the peer', async () => {
    const refused = await closedPortUrl();
    const bodies: string[] = [];
    const server = await httpServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        bodies.push(body);
        res.end('created');
      });
    });
    const agent = newAgent();
    const faults: Fault[] = [];
    // The same POST, whose target comes up on the third try (a restarting server).
    const result = await retry((info) => httpCall(info.attempt < 3 ? refused : server.url, agent, { method: 'POST', body: 'order-1' })(info), {
      schedule: quick,
      operation: { method: 'POST' },
      onRetry: (event) => faults.push(event.fault),
    });
    expect(result).toBe('created');
    expect(bodies).toEqual(['order-1']);
    expect(faults.map((f) => [f.kind, f.phase, f.code])).toEqual([
      ['connection-refused', 'connect', 'ECONNREFUSED'],
      ['connection-refused', 'connect', 'ECONNREFUSED'],
    ]);
  });

  it('gives up after the last attempt with a RetryError that says why and keeps the last error', async () => {
    const refused = await closedPortUrl();
    let calls = 0;
    const error = await retry(
      (info) => {
        calls++;
        return httpCall(refused, newAgent())(info);
      },
      { attempts: 3, schedule: quick },
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(error).toBeInstanceOf(RetryError);
    const giveUp = error as RetryError;
    expect(giveUp.reason).toBe('attempts-exhausted');
    expect(giveUp.attempts).toBe(3);
    expect(giveUp.fault).toMatchObject({ kind: 'connection-refused', phase: 'connect', code: 'ECONNREFUSED' });
    expect(giveUp.code).toBe('ECONNREFUSED');
    expect((giveUp.cause as { code?: string }).code).toBe('ECONNREFUSED');
    expect(giveUp.message).toContain('after 3 attempts');
    expect(giveUp.message).toContain('no attempts left');
  });

  it('never repeats a POST the server received before the reset: OutcomeUnknownError after exactly 1 attempt', async () => {
    const server = await httpServer(resetAfterReading);
    const shouldRetry = vi.fn(() => true);
    const giveUps: GiveUpEvent[] = [];
    const error = await retry(httpCall(server.url, newAgent(), { method: 'POST', body: 'charge $10' }), {
      schedule: quick,
      operation: { method: 'POST' },
      shouldRetry, // cannot widen the decision
      onGiveUp: (event) => giveUps.push(event),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect(error).toMatchObject({ attempts: 1, reason: 'outcome-unknown' });
    expect((error as OutcomeUnknownError).fault.phase).not.toBe('connect');
    expect((error as Error).message).toContain('the outcome is unknown');
    expect(server.hits()).toBe(1);
    expect(shouldRetry).not.toHaveBeenCalled();
    expect(giveUps).toEqual([{ event: 'give-up', attempts: 1, reason: 'outcome-unknown', fault: (error as OutcomeUnknownError).fault }]);
  });

  it('repeats the same POST when it carries an idempotency key, or the caller says it is idempotent', async () => {
    for (const operation of [
      { method: 'POST', idempotencyKey: 'order-42' },
      { method: 'POST', idempotent: true },
    ]) {
      const server = await httpServer((req, res, hit) => (hit === 1 ? resetAfterReading(req, res, hit) : answerOk(req, res, hit)));
      const result = await retry(httpCall(server.url, newAgent(), { method: 'POST', body: 'x' }), { schedule: quick, operation });
      expect(result).toBe('ok');
      expect(server.hits()).toBe(2);
    }
  });

  it("honours a 503's Retry-After: waits at least that long, and less than the cap", async () => {
    const server = await httpServer((req, res, hit) => {
      req.resume();
      if (hit === 1) {
        res.writeHead(503, { 'retry-after': '1' });
        res.end('busy');
      } else {
        res.end('ok');
      }
    });
    const retries: RetryEvent[] = [];
    const result = await retry(httpCall(server.url, newAgent()), {
      schedule: honorRetryAfter(constant(10), { capMs: 5000 }),
      operation: { method: 'GET' },
      onRetry: (event) => retries.push(event),
    });
    expect(result).toBe('ok');
    expect(retries).toHaveLength(1);
    expect(retries[0]!.fault).toMatchObject({ kind: 'http-status', status: 503, retryAfterMs: 1000 });
    expect(retries[0]!.delayMs).toBe(1000);
    const waited = server.arrivals[1]! - server.arrivals[0]!;
    expect(waited).toBeGreaterThanOrEqual(995); // timers may fire a hair early against performance.now()
    expect(waited).toBeLessThan(5000);
  });

  it('does not retry a fault that cannot change (a 400)', async () => {
    const server = await httpServer((req, res) => {
      req.resume();
      res.writeHead(400);
      res.end('bad');
    });
    const error = await retry(httpCall(server.url, newAgent()), { schedule: quick, operation: { method: 'GET' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryError);
    expect(error).toMatchObject({ reason: 'not-transient', attempts: 1, fault: { status: 400 } });
    expect(error).not.toBeInstanceOf(OutcomeUnknownError);
    expect(server.hits()).toBe(1);
  });
});

describe('retry() deadlines and timeouts', () => {
  it("refuses a backoff that would end after the deadline and gives up at once with reason 'deadline'", async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    for (const limit of [{ deadlineMs: 1000 }, { deadline: Date.now() + 1000 }, { deadlineMs: 60_000, deadline: Date.now() + 1000 }]) {
      let calls = 0;
      const start = performance.now();
      const error = await retry(
        (info) => {
          calls++;
          return httpCall(refused, agent)(info);
        },
        { attempts: 5, schedule: constant(3000), ...limit },
      ).catch((e: unknown) => e);
      const elapsed = performance.now() - start;
      expect(error).toBeInstanceOf(RetryError);
      expect(error).toMatchObject({ reason: 'deadline', attempts: 1, fault: { kind: 'connection-refused' } });
      expect((error as Error).message).toMatch(/next attempt would start after the overall deadline \(a 3000 ms backoff, \d+ ms left\)/);
      expect(calls).toBe(1);
      expect(elapsed).toBeLessThan(1000);
    }
  });

  it('retries until the deadline with attempts: Infinity, and never runs past it', async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    let calls = 0;
    const start = performance.now();
    const error = await retry(
      (info) => {
        calls++;
        return httpCall(refused, agent)(info);
      },
      { attempts: Number.POSITIVE_INFINITY, schedule: constant(60), deadlineMs: 600 },
    ).catch((e: unknown) => e);
    const elapsed = performance.now() - start;
    expect(error).toMatchObject({ reason: 'deadline' });
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(calls).toBeLessThanOrEqual(11);
    expect(elapsed).toBeLessThan(600 + 100);
  });

  it('cuts a stalled attempt short at the deadline, aborting its signal', async () => {
    const server = await httpServer(() => {
      // Never answers.
    });
    const signals: AbortSignal[] = [];
    const start = performance.now();
    const error = await retry(
      (info) => {
        signals.push(info.signal!);
        return httpCall(server.url, newAgent())(info);
      },
      { deadlineMs: 300, schedule: quick, operation: { method: 'GET' } },
    ).catch((e: unknown) => e);
    const elapsed = performance.now() - start;
    expect(error).toBeInstanceOf(RetryError);
    expect(error).toMatchObject({ reason: 'deadline', attempts: 1, fault: { kind: 'timeout', code: 'ETIMEDOUT' } });
    expect((error as Error).message).toContain('the overall deadline has passed');
    const cause = (error as RetryError).cause as AttemptTimeoutError;
    expect(cause).toBeInstanceOf(AttemptTimeoutError);
    expect(cause.byDeadline).toBe(true);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(295);
    expect(elapsed).toBeLessThan(300 + 1500);
  });

  it('a stalled POST cut short by the deadline is an unknown outcome, not a silent repeat', async () => {
    const server = await httpServer((req) => req.resume());
    const error = await retry(httpCall(server.url, newAgent(), { method: 'POST', body: 'x' }), {
      deadlineMs: 200,
      operation: { method: 'POST' },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect(server.hits()).toBe(1);
  });

  it('abandons an attempt after attemptTimeoutMs and retries', async () => {
    const server = await httpServer((req, res, hit) => {
      if (hit > 1) answerOk(req, res, hit);
    });
    const signals: AbortSignal[] = [];
    const retries: RetryEvent[] = [];
    const result = await retry(
      (info) => {
        signals.push(info.signal!);
        return httpCall(server.url, newAgent())(info);
      },
      { attemptTimeoutMs: 200, schedule: quick, operation: { method: 'GET' }, onRetry: (e) => retries.push(e) },
    );
    expect(result).toBe('ok');
    expect(server.hits()).toBe(2);
    expect(signals.map((s) => s.aborted)).toEqual([true, false]);
    expect(signals[0]!.reason).toBeInstanceOf(AttemptTimeoutError);
    expect(retries).toHaveLength(1);
    expect(retries[0]!.fault).toMatchObject({ kind: 'timeout', code: 'ETIMEDOUT', transient: true });
  });

  it("abandons an attempt whose operation ignores its signal, and absorbs the attempt's late failure", async () => {
    const stalled = createTcpServer((socket) => socket.on('error', () => undefined));
    stalled.listen(0, '127.0.0.1');
    await once(stalled, 'listening');
    const { port } = stalled.address() as AddressInfo;
    const sockets: Socket[] = [];
    cleanups.push(async () => {
      stalled.close();
      await once(stalled, 'close');
    });
    const waitForReply = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        sockets.push(socket);
        socket.once('data', (data) => resolve(String(data)));
        socket.once('error', reject);
        socket.once('close', () => reject(new Error('closed without a reply')));
      });
    const result = await retry(({ attempt }) => (attempt === 1 ? waitForReply() : 'second attempt'), {
      attemptTimeoutMs: 150,
      schedule: quick,
      operation: { idempotent: true },
    });
    expect(result).toBe('second attempt');
    // The abandoned attempt fails late; nothing may surface as an unhandled rejection.
    sockets[0]!.destroy(new Error('late failure of an abandoned attempt'));
    await settle();
  });
});

describe('retry() and the caller’s AbortSignal', () => {
  it('rejects at once with the reason when aborted during a backoff sleep, and makes no further attempt', async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    const controller = new AbortController();
    const reason = new Error('user navigated away');
    let calls = 0;
    const start = performance.now();
    const error = await retry(
      (info) => {
        calls++;
        return httpCall(refused, agent)(info);
      },
      {
        schedule: constant(10_000),
        signal: controller.signal,
        onRetry: () => setTimeout(() => controller.abort(reason), 50),
      },
    ).catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(calls).toBe(1);
    expect(performance.now() - start).toBeLessThan(2000);
    // Aborted by a listener before the sleep even starts.
    const early = new AbortController();
    const earlyError = await retry(httpCall(refused, agent), {
      schedule: constant(10_000),
      signal: early.signal,
      onRetry: () => early.abort(reason),
    }).catch((e: unknown) => e);
    expect(earlyError).toBe(reason);
  });

  it("gives later attempts the caller's signal too when no timer is asked for", async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    const controller = new AbortController();
    const signals: (AbortSignal | undefined)[] = [];
    const result = await retry(
      async (info) => {
        signals.push(info.signal);
        if (info.attempt === 1) await httpCall(refused, agent)(info);
        return 'ok';
      },
      { schedule: quick, signal: controller.signal },
    );
    expect(result).toBe('ok');
    expect(signals).toEqual([controller.signal, controller.signal]);
  });

  it('rejects with the reason when aborted during an attempt, bare or under a timer, and never retries it', async () => {
    for (const timers of [{}, { attemptTimeoutMs: 10_000 }, { deadlineMs: 10_000 }]) {
      const server = await httpServer(() => {
        // Never answers.
      });
      const controller = new AbortController();
      const reason = new Error('cancelled');
      setTimeout(() => controller.abort(reason), 100);
      const error = await retry(httpCall(server.url, newAgent()), {
        signal: controller.signal,
        operation: { method: 'GET' },
        schedule: quick,
        ...timers,
      }).catch((e: unknown) => e);
      expect(error).toBe(reason);
      expect(server.hits()).toBe(1);
    }
  });

  it('a guarded attempt rejects at once on abort even if the operation ignores its signal', async () => {
    const server = await httpServer(() => {
      // Never answers.
    });
    const agent = newAgent();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const start = performance.now();
    const error = await retry(() => request(server.url, { dispatcher: agent }), {
      attemptTimeoutMs: 10_000,
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    expect(performance.now() - start).toBeLessThan(2000);
    await agent.destroy();
  });

  it('never runs the operation when the signal is already aborted', async () => {
    const reason = new Error('already gone');
    const operation = vi.fn(() => 'never');
    for (const timers of [{}, { attemptTimeoutMs: 1000 }]) {
      await expect(retry(operation, { signal: AbortSignal.abort(reason), ...timers })).rejects.toBe(reason);
      await expect(createRetryPolicy().execute(operation, { signal: AbortSignal.abort(reason), ...timers })).rejects.toBe(reason);
    }
    expect(operation).not.toHaveBeenCalled();
  });

  it("returns an operation's own abort unchanged and does not retry it", async () => {
    const server = await httpServer(() => {
      // Never answers.
    });
    const agent = newAgent();
    let calls = 0;
    const error = await retry(
      async () => {
        calls++;
        const own = new AbortController();
        setTimeout(() => own.abort(), 30);
        return request(server.url, { dispatcher: agent, signal: own.signal });
      },
      { schedule: quick, operation: { method: 'GET' } },
    ).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(RetryError);
    expect((error as Error).name).toBe('AbortError');
    expect(calls).toBe(1);
  });
});

describe('retry() decisions', () => {
  it('lets shouldRetry narrow the decision, with the fault and the attempt that failed', async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    const seen: [string, number][] = [];
    const error = await retry(httpCall(refused, agent), {
      attempts: 5,
      schedule: quick,
      shouldRetry: (fault, attempt) => {
        seen.push([fault.kind, attempt]);
        return attempt < 2;
      },
    }).catch((e: unknown) => e);
    expect(seen).toEqual([
      ['connection-refused', 1],
      ['connection-refused', 2],
    ]);
    expect(error).toMatchObject({ reason: 'should-retry', attempts: 2 });
    expect((error as Error).message).toContain('shouldRetry() declined');
  });

  it('retries a synchronous throw like a rejection, and gives up on what it cannot classify', async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    let calls = 0;
    let firstError: unknown;
    const result = await retry(
      async (info) => {
        calls++;
        if (calls === 1) {
          // A real ECONNREFUSED, thrown synchronously.
          firstError ??= await httpCall(refused, agent)(info).catch((e: unknown) => e);
          throw firstError;
        }
        return 'ok';
      },
      { schedule: quick },
    );
    expect(result).toBe('ok');
    const syncThrow = await retry(
      () => {
        throw firstError;
      },
      { attempts: 2, schedule: quick },
    ).catch((e: unknown) => e);
    expect(syncThrow).toMatchObject({ reason: 'attempts-exhausted', attempts: 2 });
    const guardedSyncThrow = await retry(
      () => {
        throw firstError;
      },
      { attempts: 2, schedule: quick, attemptTimeoutMs: 5000 },
    ).catch((e: unknown) => e);
    expect(guardedSyncThrow).toMatchObject({ reason: 'attempts-exhausted', attempts: 2, cause: firstError });
    const error = await retry(
      () => {
        throw 'a string is not an error'; // eslint-disable-line @typescript-eslint/only-throw-error -- code in the wild does this
      },
      { schedule: quick },
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'not-transient', attempts: 1, cause: 'a string is not an error' });
  });

  it('passes attempt, previous delay, fault and the injected random to the schedule', async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    const contexts: unknown[] = [];
    await retry(httpCall(refused, agent), {
      attempts: 3,
      random: () => 0.25,
      schedule: {
        description: 'probe',
        next: (context) => {
          contexts.push({ attempt: context.attempt, previous: context.previousDelayMs, kind: context.fault?.kind, random: context.random() });
          return context.attempt;
        },
      },
    }).catch(() => undefined);
    expect(contexts).toEqual([
      { attempt: 1, previous: 0, kind: 'connection-refused', random: 0.25 },
      { attempt: 2, previous: 1, kind: 'connection-refused', random: 0.25 },
    ]);
  });

  it('reports a schedule that returns an unusable delay instead of sleeping on it', async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    const error = await retry(httpCall(refused, agent), { schedule: { description: 'broken', next: () => Number.NaN } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toBe("retry: schedule 'broken' returned NaN before attempt 2; a delay must be a finite number >= 0");
  });

  it('gives the context (fixed, or computed per error) to classify, with the descriptor as defaults', async () => {
    const server = await httpServer(resetAfterReading);
    const agent = newAgent();
    // The caller knows the reset happened before the request left (phase connect), so even a POST may be repeated.
    const contextFn = vi.fn(() => ({ phase: 'connect' as const }));
    // A connect-phase reset would also earn an immediate retry on top of `attempts`; this test counts the scheduled ones.
    const error = await retry(httpCall(server.url, agent, { method: 'POST', body: 'x' }), {
      attempts: 2,
      immediateRetries: 0,
      schedule: quick,
      operation: { method: 'POST' },
      context: contextFn,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'attempts-exhausted', attempts: 2, fault: { phase: 'connect' } });
    expect(contextFn.mock.calls.map((call: unknown[]) => call[1])).toEqual([1, 2]);
    expect(server.hits()).toBe(2);
    const fixed = await retry(httpCall(server.url, agent, { method: 'POST', body: 'x' }), {
      attempts: 2,
      immediateRetries: 0,
      schedule: quick,
      context: { phase: 'connect' },
    }).catch((e: unknown) => e);
    expect(fixed).toMatchObject({ reason: 'attempts-exhausted', attempts: 2 });
  });
});

describe('retry() events', () => {
  it('publishes retry and give-up on diagnostics channels, without credentials', async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    const published: { channel: string; message: unknown }[] = [];
    const subscribers = ['retry', 'give-up'].map((name) => {
      const channel = `holdfast:${name}`;
      const onMessage = (message: unknown): void => {
        published.push({ channel, message });
      };
      diagnosticsChannel.subscribe(channel, onMessage);
      return () => diagnosticsChannel.unsubscribe(channel, onMessage);
    });
    const policy = createRetryPolicy({ attempts: 2, schedule: constant(1), name: 'orders' });
    const listened: unknown[] = [];
    policy.on('retry', (event) => listened.push(event));
    policy.on('give-up', (event) => listened.push(event));
    const secretUrl = `${refused.replace('http://', 'http://alice:s3cret@')}orders?token=abc123`;
    const error = await policy
      .execute(async (info) => {
        try {
          return await httpCall(refused, agent)(info);
        } catch (cause) {
          throw new Error(`POST ${secretUrl} failed`, { cause });
        }
      })
      .catch((e: unknown) => e)
      .finally(() => subscribers.forEach((unsubscribe) => unsubscribe()));
    expect(error).toMatchObject({ reason: 'attempts-exhausted', attempts: 2 });
    expect(published.map((p) => p.channel)).toEqual(['holdfast:retry', 'holdfast:give-up']);
    expect(published[0]!.message).toMatchObject({ name: 'orders', attempt: 1, delayMs: 1, fault: { kind: 'connection-refused', phase: 'connect' } });
    expect(published[1]!.message).toMatchObject({ name: 'orders', attempts: 2, reason: 'attempts-exhausted', fault: { code: 'ECONNREFUSED' } });
    expect(listened).toHaveLength(2);
    const everything = JSON.stringify([published, listened, (error as Error).message, (error as RetryError).fault]);
    expect(everything).not.toContain('s3cret');
    expect(everything).not.toContain('alice');
    expect(everything).not.toContain('abc123');
  });

  it('reports a listener that throws as a warning and carries on', async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      const error = await retry(httpCall(refused, agent), {
        attempts: 2,
        schedule: quick,
        onRetry: () => {
          throw new Error('listener bug');
        },
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({ reason: 'attempts-exhausted', attempts: 2 });
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => w.message)).toEqual(["a listener for holdfast event 'retry' threw: listener bug"]);
  });
});

describe('retry() with a RetryBudget', () => {
  it('gives up with the original fault when the budget is empty, and says so in events', async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0 });
    const budgetEvents: unknown[] = [];
    budget.on('exhausted', (event) => budgetEvents.push(event));
    const refusedEvents: RetryBudgetRefusedEvent[] = [];
    const giveUps: GiveUpEvent[] = [];
    let calls = 0;
    const error = await retry(
      (info) => {
        calls++;
        return httpCall(refused, agent)(info);
      },
      { budget, schedule: quick, onBudgetExhausted: (e) => refusedEvents.push(e), onGiveUp: (e) => giveUps.push(e) },
    ).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(error).toBeInstanceOf(RetryError);
    expect(error).toMatchObject({ reason: 'budget-exhausted', attempts: 1, fault: { kind: 'connection-refused' } });
    expect(((error as RetryError).cause as { code: string }).code).toBe('ECONNREFUSED');
    expect(refusedEvents).toEqual([{ event: 'budget-exhausted', attempts: 1, fault: (error as RetryError).fault, available: 0 }]);
    expect(giveUps).toEqual([{ event: 'give-up', attempts: 1, reason: 'budget-exhausted', fault: (error as RetryError).fault }]);
    expect(budgetEvents).toHaveLength(1);
    expect(budget.stats()).toMatchObject({ requests: 1, retries: 0, refused: 1 });
  });

  it('bounds the retries of a burst of failing calls sharing one policy by ratio × calls', async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    const budget = new RetryBudget({ ratio: 0.2, minRetriesPerSecond: 0, connectPhaseCost: 1 });
    const policy = new RetryPolicy({ attempts: 5, schedule: quick, budget });
    expect(policy.budget).toBe(budget);
    let calls = 0;
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, () =>
        policy.execute((info) => {
          calls++;
          return httpCall(refused, agent)(info);
        }),
      ),
    );
    const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as RetryError).reason : 'fulfilled'));
    expect(calls).toBe(30 + 6); // 30 calls deposit 0.2 each: six retries in all
    expect(reasons.filter((r) => r === 'budget-exhausted').length).toBeGreaterThanOrEqual(24);
    expect(budget.stats()).toMatchObject({ requests: 30, retries: 6 });
  });
});

describe('the happy path', () => {
  it('runs the first attempt bare: one shared frozen info, no timer, no clock read', async () => {
    const infos: AttemptInfo[] = [];
    const operation = (info: AttemptInfo): Promise<number> => {
      infos.push(info);
      return Promise.resolve(1);
    };
    const policy = createRetryPolicy({ attempts: 5, schedule: exponential() });
    const timers = watchTimers();
    const now = vi.spyOn(Date, 'now');
    const perf = vi.spyOn(performance, 'now');
    try {
      expect(await retry(operation)).toBe(1);
      expect(await retry(operation, { attempts: 3, operation: { method: 'GET' } })).toBe(1);
      expect(await policy.execute(operation)).toBe(1);
      expect(await policy.execute(operation, { operation: { method: 'POST' } })).toBe(1);
      expect(await retry(() => 'plain value')).toBe('plain value');
      expect(now).not.toHaveBeenCalled();
      expect(perf).not.toHaveBeenCalled();
      expect(timers.count()).toBe(0);
    } finally {
      now.mockRestore();
      perf.mockRestore();
      timers.stop();
    }
    expect(infos).toHaveLength(4);
    expect(new Set(infos).size).toBe(1);
    expect(infos[0]).toEqual({ attempt: 1 });
    expect(Object.isFrozen(infos[0])).toBe(true);
  });

  it("hands the caller's own signal to a bare first attempt (no AbortController of ours)", async () => {
    const controller = new AbortController();
    const seen: AttemptInfo[] = [];
    await retry((info) => seen.push(info), { signal: controller.signal });
    await createRetryPolicy().execute((info) => seen.push(info), { signal: controller.signal });
    expect(seen.map((info) => info.signal === controller.signal)).toEqual([true, true]);
  });

  it('keeps the process alive through a backoff and an attempt timer by default, and not with unref: true', async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    // The newest timer is ours when read synchronously right after retry created it.
    let newest: NodeJS.Timeout | undefined;
    const hook = createHook({
      init(_id, type, _trigger, resource) {
        if (type === 'Timeout') newest = resource as NodeJS.Timeout;
      },
    }).enable();
    try {
      for (const unref of [false, true]) {
        const attemptTimerRefs: boolean[] = [];
        const sleepTimerRefs: boolean[] = [];
        await retry(
          (info) => {
            attemptTimerRefs.push(newest!.hasRef());
            return httpCall(refused, agent)(info);
          },
          {
            attempts: 2,
            attemptTimeoutMs: 5000,
            schedule: constant(100),
            unref,
            onRetry: () => queueMicrotask(() => sleepTimerRefs.push(newest!.hasRef())),
          },
        ).catch(() => undefined);
        expect(attemptTimerRefs).toEqual([!unref, !unref]);
        expect(sleepTimerRefs).toEqual([!unref]);
      }
    } finally {
      hook.disable();
    }
  });
});

describe('RetryPolicy', () => {
  it('adds call options to its own: both shouldRetry must agree, call timers apply', async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    const policyVotes: number[] = [];
    const callVotes: number[] = [];
    const policy = new RetryPolicy({
      attempts: 4,
      schedule: quick,
      shouldRetry: (_fault, attempt) => {
        policyVotes.push(attempt);
        return true;
      },
    });
    const error = await policy
      .execute(httpCall(refused, agent), {
        shouldRetry: (_fault, attempt) => {
          callVotes.push(attempt);
          return attempt < 2;
        },
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'should-retry', attempts: 2 });
    expect(policyVotes).toEqual([1, 2]);
    expect(callVotes).toEqual([1, 2]);
    const vetoed = await policy.execute(httpCall(refused, agent), { shouldRetry: () => false }).catch((e: unknown) => e);
    expect(vetoed).toMatchObject({ reason: 'should-retry', attempts: 1 });
  });

  it('applies its own attemptTimeoutMs and deadlineMs to every call', async () => {
    const server = await httpServer(() => {
      // Never answers.
    });
    const policy = new RetryPolicy({ attemptTimeoutMs: 100, deadlineMs: 250, schedule: quick, operation: { method: 'GET' } });
    const start = performance.now();
    const error = await policy.execute(httpCall(server.url, newAgent())).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'deadline' });
    expect((error as RetryError).attempts).toBeGreaterThanOrEqual(2);
    expect(performance.now() - start).toBeLessThan(250 + 1500);
    // Each attempt sent one request; on a loaded machine the deadline can cut the last one before it arrived.
    expect(server.hits()).toBeLessThanOrEqual((error as RetryError).attempts);
    expect(server.hits()).toBeGreaterThanOrEqual((error as RetryError).attempts - 1);
  });

  it('wake() ends every sleeping call’s backoff at once: the peer is back, the next attempts run now', async () => {
    let down = true;
    const server = await httpServer((_req, res) => {
      if (down) {
        res.statusCode = 503;
        res.end();
        return;
      }
      res.end('ok');
    });
    const agent = newAgent();
    const policy = new RetryPolicy({ attempts: 3, schedule: constant(10_000), operation: { method: 'GET' } });
    expect(policy.wake()).toBe(0);
    const retried = new Promise<void>((resolve) => {
      let seen = 0;
      policy.on('retry', () => {
        if (++seen === 3) resolve();
      });
    });
    const start = performance.now();
    const calls = Array.from({ length: 3 }, () => policy.execute(httpCall(server.url, newAgent())));
    await retried;
    // Every call failed once and sleeps its 10 s; an aborted one leaves the sleepers too.
    const controller = new AbortController();
    const aborted = policy.execute(httpCall(server.url, agent), { signal: controller.signal }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(server.hits()).toBe(4));
    await new Promise((r) => setTimeout(r, 20));
    controller.abort(new Error('caller gave up'));
    expect(await aborted).toMatchObject({ message: 'caller gave up' });
    down = false;
    expect(policy.wake()).toBe(3);
    expect(await Promise.all(calls)).toEqual(['ok', 'ok', 'ok']);
    expect(performance.now() - start).toBeLessThan(2_000);
    expect(server.hits()).toBe(7);
    expect(policy.wake()).toBe(0);
  });

  it('removes listeners with off() and with the function on() returns', async () => {
    const refused = await closedPortUrl();
    const agent = newAgent();
    const policy = new RetryPolicy({ attempts: 2, schedule: quick });
    const calls: string[] = [];
    const a = (): void => {
      calls.push('a');
    };
    const removeB = policy.on('retry', () => calls.push('b'));
    policy.on('retry', a);
    policy.off('retry', a);
    removeB();
    await policy.execute(httpCall(refused, agent)).catch(() => undefined);
    expect(calls).toEqual([]);
  });
});

describe('option validation', () => {
  const op = (): number => 1;

  it.each([
    [{ attempts: -2 }, RangeError, "retry: option 'attempts' must be an integer >= 1 or Infinity, got -2"],
    [{ attempts: 1.5 }, RangeError, "retry: option 'attempts' must be an integer >= 1 or Infinity, got 1.5"],
    [{ attemptTimeoutMs: 0 }, RangeError, "retry: option 'attemptTimeoutMs' must be a number of milliseconds from 1 to 2147483647, got 0"],
    [{ deadlineMs: 3e9 }, RangeError, "retry: option 'deadlineMs' must be a number of milliseconds from 1 to 2147483647, got 3000000000"],
    [{ deadline: Number.NaN }, RangeError, "retry: option 'deadline' must be a finite epoch time in milliseconds, got NaN"],
    [{ schedule: 100 }, RangeError, "retry: option 'schedule' must be a Schedule (an object with next(context)), got 100"],
    [{ budget: { tryWithdraw: () => true } }, RangeError, "retry: option 'budget' must be a RetryBudget, got object"],
    [{ signal: 'abort' }, RangeError, `retry: option 'signal' must be an AbortSignal, got "abort"`],
    [{ operation: { method: 7 } }, RangeError, "retry: option 'operation' must be an object { method?: string"],
    [{ operation: null }, RangeError, "retry: option 'operation' must be an object"],
    [{ operation: { idempotent: 'yes' } }, RangeError, "retry: option 'operation' must be an object"],
    [{ operation: { idempotencyKey: 5 } }, RangeError, "retry: option 'operation' must be an object"],
    [{ context: 'connect' }, RangeError, "retry: option 'context' must be a FaultContext object or a function"],
    [{ shouldRetry: true }, RangeError, "retry: option 'shouldRetry' must be a function (fault, attempt) => boolean, got true"],
    [{ name: 1 }, RangeError, "retry: option 'name' must be a string, got 1"],
    [{ unref: 'yes' }, RangeError, `retry: option 'unref' must be a boolean, got "yes"`],
    [{ random: 0.5 }, RangeError, "retry: option 'random' must be a function returning a number in [0, 1), got 0.5"],
    [{ onRetry: 'log' }, RangeError, `retry: option 'onRetry' must be a function, got "log"`],
    [{ retries: 3 }, TypeError, "retry: unknown option 'retries' (did you mean attempts (which counts the first attempt too)?); accepted: attempts,"],
    [{ colour: 'red' }, TypeError, "retry: unknown option 'colour'; accepted: "],
    [null, TypeError, 'retry: options must be an object, got null'],
  ])('retry() rejects %o', async (options, type, message) => {
    const error = await retry(op, options as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toContain(message);
  });

  it('accepts undefined for any option (spread from a partial config)', async () => {
    await expect(retry(op, { attempts: undefined, schedule: undefined, signal: undefined })).resolves.toBe(1);
    expect(() => new RetryPolicy({ attempts: undefined, budget: undefined })).not.toThrow();
  });

  it('checks the operation is a function', async () => {
    await expect(retry('fetch' as never)).rejects.toThrow('retry: the operation must be a function (attempt) => value or promise, got "fetch"');
    await expect(retry(undefined as never, {})).rejects.toThrow(TypeError);
    await expect(createRetryPolicy().execute(42 as never)).rejects.toThrow('RetryPolicy.execute: the operation must be a function');
  });

  it('validates policy options at construction and call options at each call', async () => {
    expect(() => createRetryPolicy({ attempts: 0 })).toThrow("RetryPolicy: option 'attempts' must be an integer >= 1 or Infinity, got 0");
    expect(() => new RetryPolicy({ signal: AbortSignal.abort() } as never)).toThrow("RetryPolicy: unknown option 'signal'");
    const policy = createRetryPolicy();
    await expect(policy.execute(op, { attemptTimeoutMs: -1 })).rejects.toThrow(
      "RetryPolicy.execute: option 'attemptTimeoutMs' must be a number of milliseconds from 1 to 2147483647, got -1",
    );
    await expect(policy.execute(op, { attempts: 3 } as never)).rejects.toThrow("RetryPolicy.execute: unknown option 'attempts'");
    await expect(policy.execute(op, { maxRetryTime: 5 } as never)).rejects.toThrow('(did you mean deadlineMs?)');
  });
});
