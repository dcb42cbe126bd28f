import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  Supervisor,
  TypedEvents,
  constant,
  exponential,
  type ConnectAttempt,
  type Fault,
  type Schedule,
  type SupervisorEvents,
  type SupervisorOptions,
} from '@holdfast/core';
import { settle, tcpHandles, watchTimers } from './support/live-timers.js';

/** A TCP server on 127.0.0.1 that can be stopped (resetting its clients) and started again on the same port. */
class RestartableServer {
  port = 0;
  accepted = 0;
  /** `stable`: keep connections; `flap`: reset each one shortly after accepting; `greet`: send a greeting after `greetAfterMs`. */
  mode: 'stable' | 'flap' | 'silent' | 'greet' = 'stable';
  greetAfterMs = 0;
  readonly sockets = new Set<net.Socket>();
  #server: net.Server | undefined;

  static async start(mode: RestartableServer['mode'] = 'stable'): Promise<RestartableServer> {
    const server = new RestartableServer();
    server.mode = mode;
    await server.start();
    return server;
  }

  async start(): Promise<void> {
    const server = net.createServer((socket) => {
      this.accepted++;
      this.sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => this.sockets.delete(socket));
      if (this.mode === 'flap') setTimeout(() => socket.resetAndDestroy(), 10);
      if (this.mode === 'greet') setTimeout(() => socket.write('hello\n'), this.greetAfterMs);
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** Resets every client connection (a real RST) and stops listening. */
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.resetAndDestroy();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  resetClients(): void {
    for (const socket of this.sockets) socket.resetAndDestroy();
  }
}

/** A port with nothing listening: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface TcpOptions extends Partial<SupervisorOptions<net.Socket>> {
  /** Resolve on the TCP connect (default) or only once the server sends a line. */
  readonly waitFor?: 'connect' | 'greeting';
  /** Like a careless transport: keep connecting after the signal aborts. */
  readonly ignoreSignal?: boolean;
}

/**
 * The smallest real transport: connect() opens a TCP socket, the socket's
 * 'close' reports lost(), dispose() destroys it. Every socket it opened is
 * kept in `sockets`, and every signal it was given in `signals`.
 */
function tcpSupervisor(port: () => number, options: TcpOptions = {}) {
  const sockets: net.Socket[] = [];
  const signals: AbortSignal[] = [];
  const { waitFor = 'connect', ignoreSignal = false, ...rest } = options;
  const connect = ({ signal }: ConnectAttempt): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      signals.push(signal);
      const socket = net.connect({ host: '127.0.0.1', port: port(), ...(ignoreSignal ? {} : { signal }) });
      sockets.push(socket);
      socket.once('error', reject);
      socket.once(waitFor === 'connect' ? 'connect' : 'data', () => {
        socket.off('error', reject);
        let lastError: unknown;
        socket.on('error', (error) => (lastError = error));
        socket.once('close', () => supervisor.lost(lastError, socket));
        resolve(socket);
      });
    });
  const supervisor = new Supervisor<net.Socket>({
    connect,
    dispose: (socket) => void socket.destroy(),
    name: 'tcp',
    ...rest,
  });
  return { supervisor, sockets, signals };
}

type Logged = { [K in keyof SupervisorEvents]: { name: K; at: number; payload: SupervisorEvents[K] } }[keyof SupervisorEvents];

function record<C>(supervisor: Supervisor<C>) {
  const log: Logged[] = [];
  const names: (keyof SupervisorEvents)[] = ['state', 'connecting', 'open', 'lost', 'reconnecting', 'give-up', 'closed'];
  for (const name of names) supervisor.on(name, (payload) => log.push({ name, at: performance.now(), payload } as Logged));
  const of = <K extends keyof SupervisorEvents>(name: K): SupervisorEvents[K][] =>
    log.filter((e) => e.name === name).map((e) => e.payload as SupervisorEvents[K]);
  const transitions = (): string[] => of('state').map((e) => `${e.from}>${e.to}`);
  return { log, of, transitions };
}

const next = <C, K extends keyof SupervisorEvents>(supervisor: Supervisor<C>, name: K): Promise<SupervisorEvents[K]> =>
  new Promise((resolve) => supervisor.once(name, resolve));

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function collectWarnings() {
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning.message);
  process.on('warning', onWarning);
  return { warnings, stop: () => process.off('warning', onWarning) };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track<T extends { close(): Promise<void> } | { stop(): Promise<void> }>(thing: T): T {
  cleanups.push(() => ('close' in thing ? thing.close() : thing.stop()));
  return thing;
}

describe('Supervisor over real TCP', () => {
  it('reconnects after the server restarts, with transitions in order and backoff growing while it is down', async () => {
    const server = track(await RestartableServer.start());
    const { supervisor, sockets } = tcpSupervisor(() => server.port, {
      schedule: exponential({ initialMs: 20, maxMs: 2000, jitter: 'none' }),
      minUptimeMs: 60_000,
    });
    track(supervisor);
    const events = record(supervisor);
    supervisor.start();
    await next(supervisor, 'open');
    const first = supervisor.connection!;
    expect(first).toBe(sockets[0]);

    await server.stop();
    await until(() => events.of('reconnecting').length >= 3);
    await server.start();
    await next(supervisor, 'open');

    expect(supervisor.state).toBe('open');
    expect(supervisor.connection).not.toBe(first);
    expect(first.destroyed).toBe(true);
    const transitions = events.transitions().join(' ');
    expect(transitions).toMatch(
      /^idle>connecting connecting>open open>lost lost>waiting (waiting>connecting connecting>waiting )+waiting>connecting connecting>open$/,
    );
    const [lost] = events.of('lost');
    expect(lost!.fault.kind).toBe('connection-reset');
    const reconnecting = events.of('reconnecting');
    expect(reconnecting[0]!.fault.kind).toBe('connection-reset');
    for (const r of reconnecting.slice(1)) expect(r.fault).toMatchObject({ kind: 'connection-refused', phase: 'connect' });
    // minUptime was never reached: the backoff keeps doubling from the first loss on.
    expect(reconnecting.map((r) => r.delayMs)).toEqual(reconnecting.map((_, i) => 20 * 2 ** i));
    expect(reconnecting.map((r) => r.attempt)).toEqual(reconnecting.map((_, i) => i + 2));
    expect(events.of('open').map((o) => o.attempt)).toEqual([1, reconnecting.length + 1]);
  });

  it('waits at least each scheduled delay, then gives up after maxAttempts with the last fault', async () => {
    const port = await closedPort();
    const { supervisor } = tcpSupervisor(() => port, {
      schedule: exponential({ initialMs: 25, maxMs: 1000, jitter: 'none' }),
      maxAttempts: 5,
    });
    const events = record(supervisor);
    const gaveUp = next(supervisor, 'give-up');
    supervisor.start();
    const giveUp = await gaveUp;
    expect(giveUp).toMatchObject({ event: 'give-up', name: 'tcp', attempts: 5, reason: 'max-attempts' });
    expect(giveUp.fault).toMatchObject({ kind: 'connection-refused', code: 'ECONNREFUSED', phase: 'connect' });
    expect(events.of('closed')).toEqual([{ event: 'closed', name: 'tcp', reason: 'give-up' }]);
    expect(supervisor.state).toBe('closed');
    expect(events.of('reconnecting').map((r) => r.delayMs)).toEqual([25, 50, 100, 200]);
    expect(events.of('connecting').map((c) => c.attempt)).toEqual([1, 2, 3, 4, 5]);
    const starts = events.log.filter((e) => e.name === 'connecting').map((e) => e.at);
    // Timers never fire early (1 ms of rounding aside); late is allowed, the machine may be busy.
    for (const [i, delay] of [25, 50, 100, 200].entries()) expect(starts[i + 1]! - starts[i]!).toBeGreaterThanOrEqual(delay - 1);
    await supervisor.close();
    expect(events.of('closed')).toHaveLength(1);
    supervisor.start();
    expect(supervisor.state).toBe('closed');
  });

  it('resets the backoff only after a connection stayed up for minUptimeMs', async () => {
    const server = track(await RestartableServer.start('flap'));
    const { supervisor } = tcpSupervisor(() => server.port, {
      schedule: exponential({ initialMs: 20, maxMs: 5000, jitter: 'none' }),
      minUptimeMs: 400,
    });
    track(supervisor);
    const events = record(supervisor);
    supervisor.start();
    await until(() => events.of('reconnecting').length >= 3);
    server.mode = 'stable';
    const flaps = events.of('reconnecting').length;
    await until(() => events.of('open').length > flaps && supervisor.state === 'open');
    await new Promise((resolve) => setTimeout(resolve, 600));
    const reconnected = next(supervisor, 'reconnecting');
    server.resetClients();
    const afterStable = await reconnected;

    const reconnecting = events.of('reconnecting');
    const beforeStable = reconnecting.slice(0, -1);
    // Each short-lived connection counts as a failed attempt: the delay keeps doubling.
    expect(beforeStable.map((r) => r.delayMs)).toEqual(beforeStable.map((_, i) => 20 * 2 ** i));
    expect(beforeStable.map((r) => r.attempt)).toEqual(beforeStable.map((_, i) => i + 2));
    for (const lost of events.of('lost').slice(0, -1)) expect(lost.uptimeMs).toBeLessThan(400);
    expect(events.of('lost').at(-1)!.uptimeMs).toBeGreaterThanOrEqual(400);
    expect(afterStable).toMatchObject({ attempt: 1, delayMs: 20 });
    expect(afterStable.fault.kind).toBe('connection-reset');
  });

  it('close() while waiting cancels the wait and leaves no timer or socket', async () => {
    const timers = watchTimers();
    try {
      const port = await closedPort();
      const { supervisor, sockets } = tcpSupervisor(() => port, { schedule: constant(60_000) });
      const events = record(supervisor);
      supervisor.start();
      await next(supervisor, 'reconnecting');
      expect(supervisor.state).toBe('waiting');
      await supervisor.close();
      await settle();
      expect(timers.count()).toBe(0);
      expect(tcpHandles()).toBe(0);
      expect(sockets.every((s) => s.destroyed)).toBe(true);
      expect(events.transitions()).toEqual(['idle>connecting', 'connecting>waiting', 'waiting>closed']);
      expect(events.of('closed')).toEqual([{ event: 'closed', name: 'tcp', reason: 'close' }]);
      expect(supervisor.close()).toBe(supervisor.close());
    } finally {
      timers.stop();
    }
  });

  it('close() while connecting aborts the attempt and resolves once its socket is gone', async () => {
    const server = await RestartableServer.start('silent');
    const timers = watchTimers();
    try {
      const { supervisor, sockets, signals } = tcpSupervisor(() => server.port, { waitFor: 'greeting', connectTimeoutMs: 30_000 });
      const events = record(supervisor);
      supervisor.start();
      await until(() => server.accepted === 1);
      expect(supervisor.state).toBe('connecting');
      await supervisor.close();
      expect(signals[0]!.aborted).toBe(true);
      expect(sockets[0]!.destroyed).toBe(true);
      expect(events.of('open')).toEqual([]);
      expect(events.transitions()).toEqual(['idle>connecting', 'connecting>closed']);
      await server.stop();
      await settle();
      expect(tcpHandles()).toBe(0);
      expect(timers.count()).toBe(0);
    } finally {
      timers.stop();
    }
  });

  it('counts a connect timeout as a failure: aborts the signal, classifies it as a timeout, retries', async () => {
    const server = track(await RestartableServer.start('silent'));
    const { supervisor, sockets, signals } = tcpSupervisor(() => server.port, {
      waitFor: 'greeting',
      connectTimeoutMs: 150,
      maxAttempts: 2,
      schedule: constant(10),
    });
    const events = record(supervisor);
    const gaveUp = next(supervisor, 'give-up');
    supervisor.start();
    const giveUp = await gaveUp;
    expect(giveUp.fault).toMatchObject({ kind: 'timeout', phase: 'connect' });
    expect(events.of('reconnecting')[0]!.fault.kind).toBe('timeout');
    expect(signals.map((s) => (s.reason as { code?: string }).code)).toEqual(['ETIMEDOUT', 'ETIMEDOUT']);
    const [connecting, waiting] = events.log.filter((e) => e.name === 'connecting' || e.name === 'reconnecting').map((e) => e.at);
    expect(waiting! - connecting!).toBeGreaterThanOrEqual(149);
    await supervisor.close();
    expect(sockets.every((s) => s.destroyed)).toBe(true);
  });

  it('disposes a connection that arrives after close(), and close() waits for it', async () => {
    const server = track(await RestartableServer.start('greet'));
    server.greetAfterMs = 150;
    const disposed: net.Socket[] = [];
    const { supervisor, sockets } = tcpSupervisor(() => server.port, {
      waitFor: 'greeting',
      ignoreSignal: true,
      dispose: (socket) => {
        disposed.push(socket);
        socket.destroy();
      },
    });
    const events = record(supervisor);
    supervisor.start();
    await until(() => server.accepted === 1);
    await supervisor.close();
    expect(disposed).toEqual([sockets[0]]);
    expect(sockets[0]!.destroyed).toBe(true);
    expect(events.of('open')).toEqual([]);
    expect(supervisor.connection).toBeUndefined();
  });

  it('disposes a connection that arrives after its attempt timed out, and keeps going', async () => {
    const server = track(await RestartableServer.start('greet'));
    server.greetAfterMs = 200;
    const disposed: net.Socket[] = [];
    const { supervisor, sockets } = tcpSupervisor(() => server.port, {
      waitFor: 'greeting',
      ignoreSignal: true,
      connectTimeoutMs: 50,
      schedule: constant(1000),
      dispose: (socket) => {
        disposed.push(socket);
        socket.destroy();
      },
    });
    track(supervisor);
    const events = record(supervisor);
    supervisor.start();
    await until(() => disposed.length === 1);
    expect(disposed[0]).toBe(sockets[0]);
    expect(supervisor.state).toBe('waiting');
    expect(events.of('open')).toEqual([]);
  });

  it('treats a connect() that throws synchronously or rejects with a non-error as a failed attempt', async () => {
    const server = track(await RestartableServer.start());
    let calls = 0;
    const supervisor = track(
      new Supervisor<net.Socket>({
        schedule: constant(5),
        connect: (attempt) => {
          calls++;
          if (calls === 1) throw new TypeError('bad config');
          if (calls === 2) return Promise.reject(new Error('ECONNRESET-ish', { cause: 'a string' }));
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- careless code rejects with anything
          if (calls === 3) return Promise.reject('not an error');
          return connectTcp(server.port, attempt);
        },
        dispose: (socket) => void socket.destroy(),
      }),
    );
    const events = record(supervisor);
    supervisor.start();
    await next(supervisor, 'open');
    expect(events.of('reconnecting').map((r) => r.attempt)).toEqual([2, 3, 4]);
    expect(events.of('reconnecting').every((r) => typeof r.fault.kind === 'string')).toBe(true);
    expect(supervisor.connection).toBeInstanceOf(net.Socket);
  });

  it('a listener that throws does not break the state machine', async () => {
    const server = track(await RestartableServer.start());
    const warnings = collectWarnings();
    try {
      const { supervisor } = tcpSupervisor(() => server.port);
      supervisor.on('state', () => {
        throw new Error('state listener bug');
      });
      supervisor.on('open', () => {
        throw new Error('open listener bug');
      });
      supervisor.start();
      await until(() => supervisor.state === 'open');
      await supervisor.close();
      expect(supervisor.state).toBe('closed');
      await settle();
      expect(warnings.warnings.filter((w) => w.includes('state listener bug')).length).toBe(3);
      expect(warnings.warnings.some((w) => w.includes('open listener bug'))).toBe(true);
    } finally {
      warnings.stop();
    }
  });

  it('survives calls from inside its own listeners', async () => {
    const server = track(await RestartableServer.start());
    const port = await closedPort();

    // close() from 'connecting': connect() is never called.
    let connects = 0;
    const a = new Supervisor<net.Socket>({ connect: (attempt) => (connects++, connectTcp(server.port, attempt)) });
    a.on('connecting', () => void a.close());
    a.start();
    await a.close();
    expect([a.state, connects]).toEqual(['closed', 0]);

    // close() from 'open': the fresh connection is disposed.
    const b = tcpSupervisor(() => server.port);
    b.supervisor.on('open', () => void b.supervisor.close());
    b.supervisor.start();
    await until(() => b.supervisor.state === 'closed');
    await b.supervisor.close();
    expect(b.sockets[0]!.destroyed).toBe(true);

    // lost() from the 'state' listener that announces 'open': no 'open' event, straight to waiting.
    const c = tcpSupervisor(() => server.port, { schedule: constant(60_000) });
    track(c.supervisor);
    const cEvents = record(c.supervisor);
    c.supervisor.on('state', ({ to }) => {
      if (to === 'open' && cEvents.of('lost').length === 0) c.supervisor.lost(new Error('changed my mind'));
    });
    c.supervisor.start();
    await until(() => c.supervisor.state === 'waiting');
    expect(cEvents.of('open')).toEqual([]);
    expect(c.sockets[0]!.destroyed).toBe(true);

    // reconnectNow() from 'reconnecting': the next attempt starts at once despite a one-minute delay.
    const d = tcpSupervisor(() => port, { schedule: constant(60_000), maxAttempts: 3 });
    const dEvents = record(d.supervisor);
    d.supervisor.on('reconnecting', () => d.supervisor.reconnectNow());
    const gaveUp = next(d.supervisor, 'give-up');
    d.supervisor.start();
    expect((await gaveUp).attempts).toBe(3);
    expect(dEvents.of('connecting').map((e) => e.attempt)).toEqual([1, 2, 3]);

    // close() from 'give-up' and from 'state' while closing: closed once, with reason 'close'.
    const e = tcpSupervisor(() => port, { maxAttempts: 1 });
    const eEvents = record(e.supervisor);
    e.supervisor.on('give-up', () => void e.supervisor.close());
    e.supervisor.start();
    await until(() => e.supervisor.state === 'closed');
    expect(eEvents.of('closed')).toEqual([{ event: 'closed', name: 'tcp', reason: 'close' }]);
  });

  it.each(['connecting', 'open', 'lost', 'waiting'] as const)(
    "close() from a 'state' listener entering %s stops the machine there and leaves no socket",
    async (target) => {
      const server = track(await RestartableServer.start('flap'));
      const { supervisor, sockets } = tcpSupervisor(() => server.port, { schedule: constant(5), connectTimeoutMs: Infinity });
      const events = record(supervisor);
      supervisor.on('state', ({ to }) => {
        if (to === target) void supervisor.close();
      });
      supervisor.start();
      await until(() => supervisor.state === 'closed');
      await supervisor.close();
      const transitions = events.transitions();
      expect(transitions.at(-1)).toBe(`${target}>closed`);
      expect(transitions.filter((t) => t.endsWith('>closed'))).toHaveLength(1);
      expect(sockets.every((s) => s.destroyed)).toBe(true);
      if (target === 'connecting') expect(sockets).toHaveLength(0);
      if (target === 'open') expect(events.of('open')).toEqual([]);
      if (target === 'lost') expect(events.of('lost')).toEqual([]);
      if (target === 'waiting') expect(events.of('reconnecting')).toEqual([]);
    },
  );

  it("close() from a 'lost' listener schedules no reconnect", async () => {
    const server = track(await RestartableServer.start());
    const { supervisor } = tcpSupervisor(() => server.port);
    const events = record(supervisor);
    supervisor.on('lost', () => void supervisor.close());
    supervisor.start();
    await next(supervisor, 'open');
    server.resetClients();
    await until(() => supervisor.state === 'closed');
    expect(events.of('reconnecting')).toEqual([]);
    expect(events.transitions().slice(-2)).toEqual(['open>lost', 'lost>closed']);
  });

  it('reconnectNow() skips the wait, and does nothing outside waiting', async () => {
    const port = await closedPort();
    const { supervisor } = tcpSupervisor(() => port, { schedule: constant(60_000) });
    track(supervisor);
    const events = record(supervisor);
    supervisor.reconnectNow();
    expect(supervisor.state).toBe('idle');
    supervisor.start();
    supervisor.start();
    supervisor.reconnectNow();
    await next(supervisor, 'reconnecting');
    const startedAt = performance.now();
    supervisor.reconnectNow();
    expect(supervisor.state).toBe('connecting');
    await next(supervisor, 'reconnecting');
    expect(performance.now() - startedAt).toBeLessThan(30_000);
    expect(events.of('connecting').map((c) => c.attempt)).toEqual([1, 2]);
  });

  it('ignores lost() outside open and for a connection that is not the current one; lost() without an error is a clean close', async () => {
    const server = track(await RestartableServer.start());
    const { supervisor } = tcpSupervisor(() => server.port, { schedule: constant(60_000) });
    track(supervisor);
    const events = record(supervisor);
    supervisor.lost(new Error('too early'));
    expect(supervisor.state).toBe('idle');
    supervisor.start();
    await next(supervisor, 'open');
    supervisor.lost(new Error('about another socket'), new net.Socket());
    expect(supervisor.state).toBe('open');
    supervisor.lost();
    expect(supervisor.state).toBe('waiting');
    expect(events.of('lost')[0]!.fault).toMatchObject({ kind: 'closed', transient: true });
    expect(events.of('lost')).toHaveLength(1);
  });

  it('lost() with a fault the transport already classified uses it as it is, in events, the schedule and shouldReconnect', async () => {
    const server = track(await RestartableServer.start());
    // What a WebSocket transport knows from a close frame and no error object could say.
    const policyClose: Fault = {
      kind: 'closed',
      code: 'WS_1008',
      phase: 'unknown',
      transient: false,
      hint: 'policy violation',
      message: 'WebSocket closed with code 1008',
    };
    const asked: [Fault, number][] = [];
    const scheduled: (Fault | undefined)[] = [];
    const { supervisor } = tcpSupervisor(() => server.port, {
      minUptimeMs: 0,
      schedule: { description: 'records', next: ({ fault }) => (scheduled.push(fault), 60_000) },
      shouldReconnect: (fault, { attempt }) => (asked.push([fault, attempt]), fault.transient),
    });
    track(supervisor);
    const events = record(supervisor);
    supervisor.start();
    await next(supervisor, 'open');
    const gaveUp = next(supervisor, 'give-up');
    // The error alone would classify as a reset, which is transient and would reconnect.
    supervisor.lost(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), supervisor.connection, policyClose);
    expect(await gaveUp).toMatchObject({ reason: 'should-reconnect', fault: policyClose });
    expect(events.of('lost')[0]!.fault).toBe(policyClose);
    expect(asked).toEqual([[policyClose, 0]]);

    const transientClose: Fault = { ...policyClose, code: 'WS_1012', transient: true, message: 'WebSocket closed with code 1012' };
    const b = tcpSupervisor(() => server.port, {
      schedule: { description: 'records', next: ({ fault }) => (scheduled.push(fault), 60_000) },
    });
    track(b.supervisor);
    b.supervisor.start();
    await next(b.supervisor, 'open');
    const reconnecting = next(b.supervisor, 'reconnecting');
    b.supervisor.lost(undefined, undefined, transientClose);
    expect((await reconnecting).fault).toBe(transientClose);
    expect(scheduled).toEqual([transientClose]);
  });

  it('shouldReconnect can give up on a fault; one that throws is reported and reconnecting goes on', async () => {
    const port = await closedPort();
    const seen: [string, number][] = [];
    const a = tcpSupervisor(() => port, {
      shouldReconnect: (fault, { attempt }) => (seen.push([fault.kind, attempt]), fault.kind !== 'connection-refused'),
    });
    const gaveUp = next(a.supervisor, 'give-up');
    a.supervisor.start();
    expect(await gaveUp).toMatchObject({ reason: 'should-reconnect', attempts: 1 });
    expect(seen).toEqual([['connection-refused', 1]]);

    const warnings = collectWarnings();
    try {
      const b = tcpSupervisor(() => port, {
        schedule: constant(5),
        maxAttempts: 2,
        shouldReconnect: () => {
          throw new Error('policy bug');
        },
      });
      const gaveUpB = next(b.supervisor, 'give-up');
      b.supervisor.start();
      expect(await gaveUpB).toMatchObject({ reason: 'max-attempts', attempts: 2 });
      await settle();
      expect(warnings.warnings.some((w) => w.includes('shouldReconnect threw') && w.includes('policy bug'))).toBe(true);
    } finally {
      warnings.stop();
    }
  });

  it('falls back to a 1 s delay when the schedule throws or returns nonsense', async () => {
    const port = await closedPort();
    const warnings = collectWarnings();
    try {
      const broken: Schedule[] = [
        { description: 'NaN', next: () => Number.NaN },
        { description: 'negative', next: () => -5 },
        {
          description: 'throws',
          next: () => {
            throw new Error('schedule bug');
          },
        },
      ];
      for (const schedule of broken) {
        const { supervisor } = tcpSupervisor(() => port, { schedule });
        supervisor.start();
        expect((await next(supervisor, 'reconnecting')).delayMs).toBe(1000);
        await supervisor.close();
      }
      const huge = tcpSupervisor(() => port, { schedule: { description: 'huge', next: () => 1e12 } });
      huge.supervisor.start();
      expect((await next(huge.supervisor, 'reconnecting')).delayMs).toBe(2_147_483_647);
      await huge.supervisor.close();
      await settle();
      expect(warnings.warnings.some((w) => w.includes('the schedule threw'))).toBe(true);
    } finally {
      warnings.stop();
    }
  });

  it('reports a dispose() that throws or rejects, and still closes', async () => {
    const server = track(await RestartableServer.start());
    const warnings = collectWarnings();
    try {
      for (const dispose of [
        (socket: net.Socket) => {
          socket.destroy();
          throw new Error('dispose threw');
        },
        async (socket: net.Socket) => {
          socket.destroy();
          await Promise.resolve();
          throw new Error('dispose rejected');
        },
        (socket: net.Socket) => {
          socket.destroy();
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- a careless dispose() throwing a string must be reported too
          throw 'dispose threw a string';
        },
      ]) {
        const { supervisor } = tcpSupervisor(() => server.port, { dispose });
        supervisor.start();
        await next(supervisor, 'open');
        await supervisor.close();
        expect(supervisor.state).toBe('closed');
      }
      await settle();
      expect(warnings.warnings.filter((w) => w.includes('dispose failed'))).toHaveLength(3);
      expect(warnings.warnings.some((w) => w.includes('dispose threw a string'))).toBe(true);
    } finally {
      warnings.stop();
    }
  });

  it('publishes every event on holdfast:reconnect, credentials redacted', async () => {
    const port = await closedPort();
    const seen: { event: string; fault?: { message: string } }[] = [];
    const onMessage = (message: unknown): void => void seen.push(message as (typeof seen)[number]);
    diagnosticsChannel.subscribe('holdfast:reconnect', onMessage);
    try {
      const supervisor = new Supervisor<net.Socket>({
        name: 'db',
        maxAttempts: 1,
        connect: () => Promise.reject(new Error(`connect ECONNREFUSED for mongodb://admin:hunter2@127.0.0.1:${port}/app`)),
      });
      const gaveUp = next(supervisor, 'give-up');
      supervisor.start();
      await gaveUp;
      await supervisor.close();
    } finally {
      diagnosticsChannel.unsubscribe('holdfast:reconnect', onMessage);
    }
    expect(seen.map((m) => m.event)).toEqual(['state', 'connecting', 'give-up', 'state', 'closed']);
    expect(seen[2]!.fault!.message).toContain('mongodb://');
    expect(JSON.stringify(seen)).not.toContain('hunter2');
  });
});

describe('Supervisor as a part of a long-lived object (the shared contract)', () => {
  it("decides before 'lost' whether it will reconnect, and says so; uptimeMs and delayMs are whole milliseconds", async () => {
    const server = track(await RestartableServer.start());
    const { supervisor } = tcpSupervisor(() => server.port, { schedule: constant(30.4), minUptimeMs: 0 });
    track(supervisor);
    const events = record(supervisor);
    supervisor.start();
    await next(supervisor, 'open');
    const reconnecting = next(supervisor, 'reconnecting');
    server.resetClients();
    expect(await reconnecting).toMatchObject({ attempt: 1, delayMs: 30 });
    const [lost] = events.of('lost');
    expect(lost).toMatchObject({ willReconnect: true });
    expect(Number.isInteger(lost!.uptimeMs)).toBe(true);

    const once = tcpSupervisor(() => server.port, { maxAttempts: 1 });
    track(once.supervisor);
    const onceEvents = record(once.supervisor);
    once.supervisor.start();
    await next(once.supervisor, 'open');
    const gaveUp = next(once.supervisor, 'give-up');
    server.resetClients();
    expect(await gaveUp).toMatchObject({ reason: 'max-attempts', attempts: 1 });
    expect(onceEvents.of('lost')).toMatchObject([{ willReconnect: false }]);
    expect(onceEvents.of('reconnecting')).toEqual([]);
  });

  it('shouldReconnect gets (fault, { attempt, closeCode }); a context still used as a number works, with one deprecation warning', async () => {
    const server = track(await RestartableServer.start());
    let port = server.port;
    const asked: unknown[] = [];
    const { supervisor } = tcpSupervisor(() => port, {
      minUptimeMs: 0,
      schedule: constant(5),
      // Written for the old signature: (fault, attempt) => attempt < 1.
      shouldReconnect: (_fault, context) => (asked.push({ ...context }), (context as unknown as number) < 1),
    });
    track(supervisor);
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      supervisor.start();
      await next(supervisor, 'open');
      // The next attempt is refused: the second question comes after it.
      port = await closedPort();
      const gaveUp = next(supervisor, 'give-up');
      supervisor.lost(undefined, supervisor.connection, undefined, { closeCode: 4000 });
      expect(await gaveUp).toMatchObject({ reason: 'should-reconnect', attempts: 1 });
      await settle();
    } finally {
      process.off('warning', onWarning);
    }
    expect(asked).toEqual([{ attempt: 0, closeCode: 4000 }, { attempt: 1 }]);
    const deprecations = warnings.filter((w) => (w as { code?: string }).code === 'HOLDFAST_DEP001');
    expect(deprecations.map((w) => w.name)).toEqual(['DeprecationWarning']);
  });

  it("with forwardTo, its state, reconnecting and give-up events become the owner's, each published once on the owner's channel", async () => {
    const port = await closedPort();
    const owner = new TypedEvents<Pick<SupervisorEvents, 'state' | 'reconnecting' | 'give-up'>>({
      state: 'reconnect',
      reconnecting: 'reconnect',
      'give-up': 'reconnect',
    });
    const ownerGot: string[] = [];
    for (const name of ['state', 'reconnecting', 'give-up'] as const) owner.on(name, (e) => ownerGot.push(e.event));
    const published: string[] = [];
    const onMessage = (message: unknown): void => {
      if ((message as { name: string }).name === 'owned') published.push((message as { event: string }).event);
    };
    diagnosticsChannel.subscribe('holdfast:reconnect', onMessage);
    try {
      const supervisor = new Supervisor<net.Socket>({
        name: 'owned',
        maxAttempts: 2,
        schedule: constant(5),
        forwardTo: owner,
        connect: (attempt) => connectTcp(port, attempt),
      });
      const own: string[] = [];
      supervisor.on('give-up', () => own.push(`give-up before the owner's: ${ownerGot.includes('give-up')}`));
      const gaveUp = next(supervisor, 'give-up');
      supervisor.start();
      await gaveUp;
      await supervisor.close();
      expect(own).toEqual(["give-up before the owner's: false"]);
    } finally {
      diagnosticsChannel.unsubscribe('holdfast:reconnect', onMessage);
    }
    expect(ownerGot).toEqual(['state', 'state', 'reconnecting', 'state', 'give-up', 'state']);
    // The supervisor's own connecting/closed events are not published: only what the owner emitted, once each.
    expect(published).toEqual(ownerGot);
  });
});

/** connect() for tests that build a Supervisor by hand. */
function connectTcp(port: number, { signal }: ConnectAttempt): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, signal });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}

describe('Supervisor herd behaviour (schedule math, fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('spreads 1000 clients that lost their server at once over the first 2 s with the default schedule (at most 15 % in any 100 ms)', async () => {
    vi.useFakeTimers();
    const connectsAt: number[] = [];
    const origin = Date.now();
    const fleet = Array.from(
      { length: 1000 },
      (_, i) =>
        new Supervisor<{ id: number }>({
          name: `client-${i}`,
          connect: () => {
            connectsAt.push(Date.now() - origin);
            return Promise.resolve({ id: i });
          },
        }),
    );
    const delays: number[] = [];
    for (const supervisor of fleet) supervisor.on('reconnecting', ({ delayMs }) => delays.push(delayMs));
    for (const supervisor of fleet) supervisor.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(fleet.every((s) => s.state === 'open')).toBe(true);
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' });
    for (const supervisor of fleet) supervisor.lost(reset);
    expect(delays).toHaveLength(1000);

    connectsAt.length = 0;
    const lostAt = Date.now() - origin;
    await vi.advanceTimersByTimeAsync(2000);
    expect(connectsAt).toHaveLength(1000);
    for (const times of [delays, connectsAt.map((t) => t - lostAt)]) {
      const windows = new Array<number>(20).fill(0);
      for (const t of times) windows[Math.min(19, Math.floor(t / 100))]!++;
      expect(Math.max(...windows)).toBeLessThanOrEqual(150);
      expect(Math.min(...windows)).toBeGreaterThan(0);
    }
    await Promise.all(fleet.map((s) => s.close()));
  });
});

describe('Supervisor options', () => {
  it('validates options with messages that name the option, the value and what is accepted', () => {
    const connect = (): Promise<number> => Promise.resolve(1);
    const cases: [Partial<SupervisorOptions<number>>, string][] = [
      [{ connect: undefined }, "Supervisor: option 'connect' must be a function ({ attempt, signal }) => Promise of the connection, got undefined"],
      [{ minUptimeMs: -2 }, "Supervisor: option 'minUptimeMs' must be a number from 0 to 2147483647, got -2"],
      [{ maxAttempts: 0 }, "option 'maxAttempts' must be an integer >= 1, or Infinity, got 0"],
      [{ maxAttempts: 2.5 }, "option 'maxAttempts' must be an integer >= 1, or Infinity, got 2.5"],
      [{ connectTimeoutMs: 0 }, "option 'connectTimeoutMs' must be an integer number of milliseconds from 1 to 2147483647, or Infinity, got 0"],
      [
        { connectTimeoutMs: 3e9 },
        "option 'connectTimeoutMs' must be an integer number of milliseconds from 1 to 2147483647, or Infinity, got 3000000000",
      ],
      [{ schedule: 100 as unknown as Schedule }, "option 'schedule' must be a Schedule from @holdfast/core (an object with next(context)), got 100"],
      [{ schedule: {} as Schedule }, "option 'schedule' must be a Schedule from @holdfast/core (an object with next(context)), got object"],
      [{ dispose: 'x' as never }, 'option \'dispose\' must be a function (connection) => void or a Promise, got "x"'],
      [{ shouldReconnect: true as never }, "option 'shouldReconnect' must be a function (fault, { attempt, closeCode? }) => boolean, got true"],
      [{ name: '' }, 'option \'name\' must be a non-empty string, got ""'],
      [{ random: 0.5 as never }, "option 'random' must be a function returning a number in [0, 1), got 0.5"],
      [{ minUptime: 5 } as never, "Supervisor: unknown option 'minUptime' (did you mean minUptimeMs?)"],
    ];
    for (const [options, message] of cases) {
      expect(() => new Supervisor<number>({ connect, ...options })).toThrow(message);
    }
    expect(() => new Supervisor(null as never)).toThrow('Supervisor: options must be an object, got null');
    const ok = new Supervisor<number>({ connect, connectTimeoutMs: Infinity, maxAttempts: Infinity, minUptimeMs: 0 });
    expect([ok.state, ok.name, ok.connection]).toEqual(['idle', 'supervisor', undefined]);
  });

  it('closes from idle without ever connecting', async () => {
    let connects = 0;
    const supervisor = new Supervisor<number>({ connect: () => Promise.resolve(++connects) });
    const events = record(supervisor);
    let removed = 0;
    const listener = (): void => {
      removed++;
    };
    supervisor.on('state', listener);
    supervisor.off('state', listener);
    await supervisor.close();
    supervisor.start();
    expect(connects).toBe(0);
    expect(events.transitions()).toEqual(['idle>closed']);
    expect(removed).toBe(0);
  });
});
