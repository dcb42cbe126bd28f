import { spawn } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BreakerOpenError,
  CircuitBreaker,
  HoldfastError,
  breakerResetDelay,
  classifyResponse,
  createBreaker,
  type BreakerEvents,
  type BreakerOptions,
} from '@holdfast/core';
import { settle, tcpHandles, watchTimers } from './support/live-timers.js';

type Mode = 'ok' | 'reset' | 'not-found' | 'slow';

/** An HTTP server on 127.0.0.1 whose behaviour is switched by the test; `connections` counts every TCP connection it accepted. */
class FailingServer {
  mode: Mode = 'ok';
  connections = 0;
  readonly #server: http.Server;
  readonly #sockets = new Set<net.Socket>();
  port = 0;

  constructor() {
    this.#server = http.createServer((request, response) => {
      if (this.mode === 'reset') {
        request.socket.resetAndDestroy();
      } else if (this.mode === 'not-found') {
        response.writeHead(404).end('no such thing');
      } else if (this.mode === 'slow') {
        setTimeout(() => response.end('late'), 150);
      } else {
        response.end('ok');
      }
    });
    this.#server.on('connection', (socket) => {
      this.connections++;
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.#server.address() as net.AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** An HTTP status the caller treats as an error, carrying its Fault as @holdfast/http's errors do. */
class HttpStatusError extends HoldfastError {
  readonly statusCode: number;
  constructor(statusCode: number, headers: http.IncomingHttpHeaders) {
    super(`Request failed with status code ${statusCode}`, classifyResponse(statusCode, headers));
    this.statusCode = statusCode;
  }
}

/** One GET on a fresh connection (no keep-alive, so each call is one TCP connection the server counts). */
function get(port: number, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/', agent: false, ...(signal ? { signal } : {}) }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('error', reject);
      response.on('end', () => {
        if ((response.statusCode ?? 0) >= 400) reject(new HttpStatusError(response.statusCode ?? 0, response.headers));
        else resolve(body);
      });
    });
    request.on('error', reject);
  });
}

function record(breaker: CircuitBreaker) {
  const log: { name: keyof BreakerEvents; at: number; payload: BreakerEvents[keyof BreakerEvents] }[] = [];
  for (const name of ['state-change', 'open', 'half-open', 'close', 'reject'] as const) {
    breaker.on(name, (payload) => log.push({ name, at: Date.now(), payload }));
  }
  const of = <K extends keyof BreakerEvents>(name: K): BreakerEvents[K][] =>
    log.filter((e) => e.name === name).map((e) => e.payload as BreakerEvents[K]);
  const transitions = (): string[] => of('state-change').map((e) => `${e.from}>${e.to}`);
  return { log, of, transitions };
}

const next = <K extends keyof BreakerEvents>(breaker: CircuitBreaker, name: K): Promise<BreakerEvents[K]> =>
  new Promise((resolve) => breaker.once(name, resolve));

async function settled<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: BreakerOptions) {
  const server = await new FailingServer().start();
  const breaker = createBreaker({ name: 'api', ...options });
  cleanups.push(
    () => server.stop(),
    () => breaker.close(),
  );
  return { server, breaker, events: record(breaker), call: () => breaker.execute(() => get(server.port)) };
}

describe('CircuitBreaker over a real HTTP server', () => {
  it('opens after the failure threshold, fails fast without touching the server, half-opens, and closes on a good probe', async () => {
    const { server, breaker, events, call } = await setup({ minimumRequests: 4, resetTimeoutMs: 300 });
    expect(await call()).toBe('ok');
    server.mode = 'reset';
    for (let i = 0; i < 3; i++) {
      const { error } = await settled(call());
      expect((error as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    }
    // 3 failures out of 4 calls: 75 % > 50 %, and the minimum of 4 calls is reached.
    expect(breaker.state).toBe('open');
    const [opened] = events.of('open');
    expect(opened!.fault).toMatchObject({ kind: 'connection-reset' });
    const openedAt = events.log.find((e) => e.name === 'open')!.at;
    expect(opened!.retryAt).toBeGreaterThanOrEqual(openedAt + 300 - 5);

    const before = server.connections;
    for (let i = 0; i < 20; i++) {
      const { error } = await settled(call());
      expect(error).toBeInstanceOf(BreakerOpenError);
      expect((error as BreakerOpenError).retryAt).toBe(opened!.retryAt);
      expect((error as BreakerOpenError).message).toContain("circuit 'api' is open");
      expect((error as BreakerOpenError).message).toContain('ECONNRESET');
      expect((error as BreakerOpenError).fault.kind).toBe('circuit-open');
    }
    expect(server.connections).toBe(before);
    expect(events.of('reject')).toHaveLength(20);

    await next(breaker, 'half-open');
    const halfOpenAt = Date.now();
    expect(halfOpenAt - openedAt).toBeGreaterThanOrEqual(290);
    server.mode = 'slow';
    const probe = call();
    // One probe at a time: while it is in flight, others still fail fast.
    const { error: whileProbing } = await settled(call());
    expect(whileProbing).toBeInstanceOf(BreakerOpenError);
    expect(await probe).toBe('late');
    expect(server.connections).toBe(before + 1);
    expect(breaker.state).toBe('closed');
    expect(events.transitions()).toEqual(['closed>open', 'open>half-open', 'half-open>closed']);
    expect(events.of('close')).toHaveLength(1);
    expect(breaker.stats()).toMatchObject({ state: 'closed', successes: 2, failures: 3, ignored: 0, rejected: 21 });
  });

  it('re-opens when the probe fails, for another resetTimeoutMs', async () => {
    const { server, breaker, events, call } = await setup({ minimumRequests: 2, resetTimeoutMs: 200 });
    server.mode = 'reset';
    await settled(call());
    await settled(call());
    expect(breaker.state).toBe('open');
    await next(breaker, 'half-open');
    const { error } = await settled(call());
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    expect(breaker.state).toBe('open');
    const [first, second] = events.of('open');
    expect(second!.retryAt - first!.retryAt).toBeGreaterThanOrEqual(190);
    expect(events.transitions()).toEqual(['closed>open', 'open>half-open', 'half-open>open']);
  });

  it('with maxResetTimeoutMs, each failed probe doubles the wait (jittered, capped); a success starts again from resetTimeoutMs', async () => {
    const { server, breaker, events, call } = await setup({ minimumRequests: 1, resetTimeoutMs: 30, maxResetTimeoutMs: 240 });
    server.mode = 'reset';
    await settled(call());
    for (let probe = 0; probe < 4; probe++) {
      await next(breaker, 'half-open');
      expect((await settled(call())).error).toMatchObject({ code: 'ECONNRESET' });
    }
    const opens = events.log.filter((e) => e.name === 'open');
    const halfOpens = events.log.filter((e) => e.name === 'half-open');
    const waits = opens.map((e) => (e.payload as BreakerEvents['open']).retryAt - e.at);
    // Ceilings 30, 60, 120, 240, 240; each wait between half and all of its ceiling, never below 30.
    const bounds: [number, number][] = [
      [30, 30],
      [30, 60],
      [60, 120],
      [120, 240],
      [120, 240],
    ];
    expect(waits).toHaveLength(5);
    waits.forEach((wait, i) => {
      expect(wait).toBeGreaterThanOrEqual(bounds[i]![0] - 1);
      expect(wait).toBeLessThanOrEqual(bounds[i]![1] + 1);
    });
    // No probe before its time.
    halfOpens.forEach((e, i) => expect(e.at).toBeGreaterThanOrEqual((opens[i]!.payload as BreakerEvents['open']).retryAt - 3));
    await next(breaker, 'half-open');
    server.mode = 'ok';
    expect(await call()).toBe('ok');
    server.mode = 'reset';
    await settled(call());
    expect(breaker.state).toBe('open');
    const reopened = events.log.filter((e) => e.name === 'open').at(-1)!;
    expect((reopened.payload as BreakerEvents['open']).retryAt - reopened.at).toBeLessThanOrEqual(31);
  });

  it('with probeAfterRejections, a busy caller probes after that many refused calls, before the grown wait is over, never sooner than resetTimeoutMs', async () => {
    const { server, breaker, events, call } = await setup({
      minimumRequests: 1,
      resetTimeoutMs: 20,
      maxResetTimeoutMs: 60_000,
      probeAfterRejections: 3,
    });
    server.mode = 'reset';
    await settled(call());
    // Fail five probes (at least 10 ms apart, refusals in between do not matter yet) so the wait has grown past 300 ms.
    for (let probe = 0; probe < 5; probe++) {
      await next(breaker, 'half-open');
      await settled(call());
    }
    const [lastOpen] = events.of('open').slice(-1);
    expect(lastOpen!.retryAt - Date.now()).toBeGreaterThan(250);
    const connections = server.connections;
    // Within resetTimeoutMs of opening: refused however many calls come (no timer can run between these awaits).
    for (let i = 0; i < 5; i++) expect((await settled(call())).error).toBeInstanceOf(BreakerOpenError);
    expect(server.connections).toBe(connections);
    await new Promise((resolve) => setTimeout(resolve, 40));
    server.mode = 'ok';
    // Enough calls were refused: this one is the probe, long before retryAt.
    expect(await call()).toBe('ok');
    expect(Date.now()).toBeLessThan(lastOpen!.retryAt);
    expect(breaker.state).toBe('closed');
    expect(events.transitions().slice(-2)).toEqual(['open>half-open', 'half-open>closed']);
  });

  it('refused calls are not requests of the window: after an outage with many refusals, the next outage opens it again as fast', async () => {
    const { server, breaker, call } = await setup({ minimumRequests: 4, resetTimeoutMs: 100 });
    server.mode = 'reset';
    for (let i = 0; i < 4; i++) await settled(call());
    expect(breaker.state).toBe('open');
    for (let i = 0; i < 50; i++) expect((await settled(call())).error).toBeInstanceOf(BreakerOpenError);
    expect(breaker.stats()).toMatchObject({ windowRequests: 4, windowFailures: 4, rejected: 50 });
    await next(breaker, 'half-open');
    server.mode = 'ok';
    expect(await call()).toBe('ok');
    expect(breaker.state).toBe('closed');
    // The origin fails again within the window: 5 of 6 calls failed, so one failure opens it (with the 50
    // refusals counted as requests it would take some 50 more).
    server.mode = 'reset';
    await settled(call());
    expect(breaker.state).toBe('open');
  });

  it('breakerResetDelay: the schedule of open times', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => breakerResetDelay(50, 1000, n, () => 0))).toEqual([50, 50, 100, 200, 400, 500]);
    expect([0, 1, 2, 3, 4, 5].map((n) => breakerResetDelay(50, 1000, n, () => 0.999_999))).toEqual([50, 100, 200, 400, 800, 1000]);
    // A fixed wait when the ceiling is the start, and no overflow after very many failed probes.
    expect(breakerResetDelay(50, 50, 7, () => 0.5)).toBe(50);
    expect(breakerResetDelay(50, 1000, 5000, () => 0.5)).toBe(750);
  });

  it('does not count aborts or 404s: they never open it, and the threshold counts only real failures', async () => {
    const { server, breaker, call } = await setup({ minimumRequests: 4 });
    server.mode = 'slow';
    for (let i = 0; i < 6; i++) {
      const controller = new AbortController();
      const pending = breaker.execute(() => get(server.port, controller.signal));
      setTimeout(() => controller.abort(), 10);
      const { error } = await settled(pending);
      expect((error as Error).name).toBe('AbortError');
    }
    server.mode = 'not-found';
    for (let i = 0; i < 6; i++) {
      const { error } = await settled(call());
      expect((error as HttpStatusError).statusCode).toBe(404);
    }
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ failures: 0, ignored: 12, windowRequests: 12, windowFailures: 0 });

    // Real failures must now exceed half of the window's calls, the ignored ones included.
    server.mode = 'reset';
    for (let i = 0; i < 12; i++) await settled(call());
    // 12 failures out of 24 calls: exactly 50 %, not more.
    expect(breaker.state).toBe('closed');
    await settled(call());
    // 13 out of 25: 52 %.
    expect(breaker.state).toBe('open');
    expect(breaker.stats()).toMatchObject({ failures: 13, ignored: 12, windowRequests: 25, windowFailures: 13 });
  });

  it('an aborted probe proves nothing: the breaker stays open instead of closing', async () => {
    const { server, breaker, events, call } = await setup({ minimumRequests: 1, resetTimeoutMs: 150 });
    server.mode = 'reset';
    await settled(call());
    expect(breaker.state).toBe('open');
    await next(breaker, 'half-open');
    server.mode = 'slow';
    const controller = new AbortController();
    const probe = breaker.execute(() => get(server.port, controller.signal));
    setTimeout(() => controller.abort(), 10);
    expect((await settled(probe)).error).toMatchObject({ name: 'AbortError' });
    expect(breaker.state).toBe('open');
    expect(events.of('open').at(-1)!.fault).toMatchObject({ kind: 'aborted' });
    await next(breaker, 'half-open');
    server.mode = 'ok';
    expect(await call()).toBe('ok');
    expect(events.transitions()).toEqual(['closed>open', 'open>half-open', 'half-open>open', 'open>half-open', 'half-open>closed']);
  });

  it("a 'state-change' listener whose own call fails at once supersedes the transition it was told about", async () => {
    const breaker = createBreaker({ minimumRequests: 1, resetTimeoutMs: 50 });
    cleanups.push(() => breaker.close());
    const events = record(breaker);
    const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', syscall: 'connect' });
    const failAtOnce = (): Promise<never> =>
      breaker.execute(() => {
        throw refused();
      });
    const reactTo = new Set(['half-open', 'closed']);
    breaker.on('state-change', ({ to }) => {
      // Once per state: the listener's own call throws synchronously, so opossum re-opens the breaker inside this listener.
      if (reactTo.delete(to)) void settled(failAtOnce());
    });
    await settled(failAtOnce());
    await next(breaker, 'half-open');
    expect(await breaker.execute(() => Promise.resolve('probe ok'))).toBe('probe ok');
    expect(events.transitions()).toEqual(['closed>open', 'open>half-open', 'half-open>open', 'open>half-open', 'half-open>closed', 'closed>open']);
    // The superseded transitions got their 'state-change' but no 'half-open' / 'close' event.
    expect(events.of('half-open')).toHaveLength(1);
    expect(events.of('close')).toHaveLength(0);
    expect(breaker.state).toBe('open');
  });

  it('isFailure decides what counts; one that throws counts the fault', async () => {
    const { server, breaker, call } = await setup({ minimumRequests: 1, isFailure: (fault) => fault.kind !== 'connection-reset' });
    server.mode = 'reset';
    for (let i = 0; i < 5; i++) await settled(call());
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ failures: 0, ignored: 5 });

    const strict = createBreaker({ minimumRequests: 1, isFailure: (fault) => fault.status === 404 });
    cleanups.push(() => strict.close());
    server.mode = 'not-found';
    await settled(strict.execute(() => get(server.port)));
    expect(strict.state).toBe('open');

    const broken = createBreaker({
      minimumRequests: 1,
      isFailure: () => {
        throw new Error('predicate bug');
      },
    });
    cleanups.push(() => broken.close());
    server.mode = 'reset';
    const { error } = await settled(broken.execute(() => get(server.port)));
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    expect(broken.state).toBe('open');
  });

  it('counts a function that throws synchronously, and rejects a non-function without calling anything', async () => {
    const breaker = createBreaker({ minimumRequests: 1 });
    cleanups.push(() => breaker.close());
    const { error } = await settled(
      breaker.execute(() => {
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', syscall: 'connect' });
      }),
    );
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(breaker.state).toBe('open');
    const { error: notAFunction } = await settled(breaker.execute('nope' as never));
    expect(notAFunction).toBeInstanceOf(TypeError);
    expect((notAFunction as Error).message).toContain('execute() needs a function');
  });

  it('close() releases every timer, even while open; later calls reject with a clear error', async () => {
    const server = await new FailingServer().start();
    cleanups.push(() => server.stop());
    server.mode = 'reset';
    const timers = watchTimers();
    try {
      const breaker = createBreaker({ name: 'db', minimumRequests: 1, resetTimeoutMs: 60_000, windowMs: 60_000 });
      await settled(breaker.execute(() => get(server.port)));
      expect(breaker.state).toBe('open');
      await settle();
      // The rolling-window interval and the reset timer: both pending (and unref'd) until close().
      expect(timers.count()).toBeGreaterThanOrEqual(2);
      breaker.close();
      breaker.close();
      await settle();
      expect(timers.count()).toBe(0);
      const { error } = await settled(breaker.execute(() => Promise.resolve(1)));
      expect(error).toBeInstanceOf(HoldfastError);
      expect(error).toMatchObject({ code: 'HOLDFAST_BREAKER_CLOSED' });
      expect((error as Error).message).toBe("circuit 'db' was closed with close(); create a new breaker");
    } finally {
      timers.stop();
    }
    await server.stop();
    cleanups.length = 0;
    await settle();
    expect(tcpHandles()).toBe(0);
  });

  it('lets a process that used a breaker exit by itself (no timer keeps it alive)', async () => {
    const source = fileURLToPath(new URL('../src/breaker.ts', import.meta.url));
    // The breaker is left open with a one-minute reset timer and window: if any timer held the event loop the child would live a minute.
    const script = `
      const { createBreaker } = await import(${JSON.stringify(source)});
      const breaker = createBreaker({ minimumRequests: 1, resetTimeoutMs: 60000, windowMs: 60000 });
      await breaker.execute(async () => 'ok');
      for (let i = 0; i < 2; i++) {
        await breaker.execute(async () => { throw Object.assign(new Error('reset'), { code: 'ECONNRESET' }); }).catch(() => {});
      }
      process.stdout.write(breaker.state);
    `;
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    clearTimeout(killer);
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(stdout).toBe('open');
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('publishes transitions and rejections on holdfast:breaker', async () => {
    const seen: { event: string; name: string }[] = [];
    const onMessage = (message: unknown): void => void seen.push(message as (typeof seen)[number]);
    diagnosticsChannel.subscribe('holdfast:breaker', onMessage);
    try {
      const breaker = createBreaker({ name: 'billing', minimumRequests: 1 });
      await settled(breaker.execute(() => Promise.reject(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))));
      await settled(breaker.execute(() => Promise.resolve(1)));
      breaker.close();
    } finally {
      diagnosticsChannel.unsubscribe('holdfast:breaker', onMessage);
    }
    expect(seen.map((m) => `${m.event}:${m.name}`)).toEqual(['state-change:billing', 'open:billing', 'reject:billing']);
  });
});

describe('CircuitBreaker options', () => {
  it('validates options with messages that name the option, the value and what is accepted', () => {
    const cases: [BreakerOptions, string][] = [
      [{ name: '' }, 'CircuitBreaker: option \'name\' must be a non-empty string, got ""'],
      [
        { failureThresholdPercent: 100 },
        "option 'failureThresholdPercent' must be a number >= 0 and < 100 (the breaker opens when more than this share failed), got 100",
      ],
      [{ failureThresholdPercent: -1 }, "option 'failureThresholdPercent' must be a number >= 0 and < 100"],
      [{ minimumRequests: 0 }, "option 'minimumRequests' must be an integer >= 1, got 0"],
      [{ windowMs: 5 }, "option 'windowMs' must be an integer from 10 to 2147483647, got 5"],
      [
        { windowBuckets: 3 },
        "option 'windowBuckets' must be an integer from 1 to 1000 that divides windowMs (10000) into buckets of at least 10 ms, got 3",
      ],
      [
        { windowMs: 100, windowBuckets: 20 },
        "option 'windowBuckets' must be an integer from 1 to 1000 that divides windowMs (100) into buckets of at least 10 ms, got 20",
      ],
      [{ resetTimeoutMs: 0 }, "option 'resetTimeoutMs' must be an integer from 1 to 2147483647, got 0"],
      [
        { resetTimeoutMs: 100, maxResetTimeoutMs: 50 },
        "option 'maxResetTimeoutMs' must be an integer from resetTimeoutMs (100) to 2147483647, got 50",
      ],
      [{ maxResetTimeoutMs: 1.5 }, "option 'maxResetTimeoutMs' must be an integer from resetTimeoutMs (5000) to 2147483647, got 1.5"],
      [{ probeAfterRejections: 0 }, "option 'probeAfterRejections' must be an integer >= 1, or Infinity (only the wait lets a probe through), got 0"],
      [{ probeAfterRejections: Number.NaN }, "option 'probeAfterRejections' must be an integer >= 1, or Infinity"],
      [{ isFailure: 'yes' as never }, 'option \'isFailure\' must be a function (fault) => boolean, got "yes"'],
    ];
    for (const [options, message] of cases) expect(() => createBreaker(options)).toThrow(message);
    expect(() => new CircuitBreaker(null as never)).toThrow('CircuitBreaker: options must be an object, got null');
    expect(() => createBreaker({ consecutiveFailures: 0 })).toThrow("option 'consecutiveFailures' must be an integer >= 1, or Infinity, got 0");
    expect(() => createBreaker({ resetTimeout: 5 } as never)).toThrow("CircuitBreaker: unknown option 'resetTimeout' (did you mean resetTimeoutMs?)");
    const breaker = createBreaker();
    expect([
      breaker.name,
      breaker.state,
      breaker.consecutiveFailures,
      breaker.resetTimeoutMs,
      breaker.maxResetTimeoutMs,
      breaker.probeAfterRejections,
    ]).toEqual(['breaker', 'closed', 20, 5000, 5000, Number.POSITIVE_INFINITY]);
    expect(breaker.stats()).toEqual({
      state: 'closed',
      windowRequests: 0,
      windowFailures: 0,
      consecutiveFailures: 0,
      successes: 0,
      failures: 0,
      ignored: 0,
      rejected: 0,
    });
    breaker.close();
  });

  it('off() removes a listener', async () => {
    const breaker = createBreaker({ minimumRequests: 1 });
    let calls = 0;
    const listener = (): void => {
      calls++;
    };
    breaker.on('state-change', listener);
    breaker.off('state-change', listener);
    await settled(breaker.execute(() => Promise.reject(Object.assign(new Error('x'), { code: 'ECONNRESET' }))));
    expect(breaker.state).toBe('open');
    expect(calls).toBe(0);
    breaker.close();
  });
});
