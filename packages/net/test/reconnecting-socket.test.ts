import { constant } from '@holdfast/core';
import diagnosticsChannel from 'node:diagnostics_channel';
import { DEFAULT_NET_SCHEDULE, ReconnectingSocket, type ReconnectingSocketEvents, type ReconnectingSocketStats } from '@holdfast/net';
import { afterEach, describe, expect, it } from 'vitest';
import { failOnEscapedErrors, settle, socketHandles, until, watchHandles } from './support/leaks.js';
import { TestServer } from './support/test-server.js';

failOnEscapedErrors();

const open: ReconnectingSocket[] = [];
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function server(options: ConstructorParameters<typeof TestServer>[0]): Promise<TestServer> {
  const s = await new TestServer(options).start();
  servers.push(s);
  return s;
}

function client(options: ConstructorParameters<typeof ReconnectingSocket>[0]): ReconnectingSocket {
  const socket = new ReconnectingSocket({ schedule: constant(20), ...options });
  open.push(socket);
  return socket;
}

const connected = (socket: ReconnectingSocket): Promise<ReconnectingSocketEvents['open']> => new Promise((resolve) => socket.once('open', resolve));

describe('ReconnectingSocket against a real server', () => {
  it('raw: writes reach the server and its answers arrive as data', async () => {
    const srv = await server({ framing: 'raw', onMessage: (m, reply) => reply(m.toString().toUpperCase()) });
    const socket = client({ host: '127.0.0.1', port: srv.port });
    const chunks: string[] = [];
    socket.on('data', (chunk) => chunks.push(chunk.toString()));
    await connected(socket);
    expect(socket.connected).toBe(true);
    expect(socket.state).toBe('open');
    expect(socket.write('hello')).toBe(true);
    await until(() => chunks.join('') === 'HELLO', 'the echo');
  });

  it('IPv6 loopback: connects to ::1 and reconnects after the server resets', async () => {
    const srv = await server({ framing: 'lines', host: '::1', onMessage: (m, reply) => reply(`v6 ${m.toString()}`) });
    const socket = client({ host: '::1', port: srv.port, framing: 'lines' });
    const messages: string[] = [];
    socket.on('message', (m) => messages.push(m.toString()));
    socket.send('a');
    await until(() => messages.length === 1, 'the first answer');
    srv.resetAll();
    await until(() => !socket.connected, 'the disconnect');
    socket.send('b');
    await until(() => messages.length === 2, 'the second answer');
    expect(messages).toEqual(['v6 a', 'v6 b']);
  });

  it('lines: each send() arrives as one message, each answer line as one message event', async () => {
    const srv = await server({ framing: 'lines', onMessage: (m, reply) => reply(`ok ${m.toString()}`) });
    const socket = client({ host: '127.0.0.1', port: srv.port, framing: 'lines' });
    const messages: string[] = [];
    socket.on('message', (m) => messages.push(m.toString()));
    await connected(socket);
    socket.send('a');
    socket.send(Buffer.from('b'));
    socket.send(new Uint8Array([0x63]));
    await until(() => messages.length === 3, 'three answers');
    expect(srv.texts()).toEqual(['a', 'b', 'c']);
    expect(messages).toEqual(['ok a', 'ok b', 'ok c']);
    expect(() => socket.send('two\nlines')).toThrow(/must not contain/);
  });

  it('length-prefixed: binary messages with any bytes survive whole', async () => {
    const srv = await server({ framing: 'length-prefixed', onMessage: (m, reply) => reply(m) });
    const socket = client({ host: '127.0.0.1', port: srv.port, framing: 'length-prefixed' });
    const messages: Buffer[] = [];
    socket.on('message', (m) => messages.push(Buffer.from(m)));
    const big = Buffer.alloc(200_000, 7);
    const binary = Buffer.from([0, 10, 13, 255, 0]);
    socket.send(binary);
    socket.send(big);
    socket.send('');
    await until(() => messages.length === 3, 'three echoes');
    expect(messages[0]).toEqual(binary);
    expect(messages[1]!.equals(big)).toBe(true);
    expect(messages[2]!.length).toBe(0);
  });

  it('queues what is written before the first connect and flushes it in order after onConnect', async () => {
    const srv = await server({ framing: 'lines' });
    const order: string[] = [];
    const socket = client({
      host: '127.0.0.1',
      port: srv.port,
      framing: 'lines',
      onConnect: async ({ send, attempt }) => {
        order.push(`onConnect ${attempt}`);
        send('HELLO');
        await new Promise((resolve) => setTimeout(resolve, 30));
      },
    });
    socket.send('1');
    socket.send('2');
    expect(socket.stats().queued).toBe(2);
    const event = await connected(socket);
    order.push('connect');
    expect(event).toMatchObject({ attempt: 1, flushed: 2, resent: 0 });
    socket.send('3');
    await until(() => srv.received.length === 4, 'four messages');
    expect(srv.texts()).toEqual(['HELLO', '1', '2', '3']);
    expect(order).toEqual(['onConnect 1', 'connect']);
  });

  it('onConnect can wait for the peer: receive() returns the answer, which is not emitted as a message', async () => {
    const srv = await server({
      framing: 'lines',
      onMessage: (m, reply) => reply(m.toString() === 'AUTH secret' ? 'WELCOME' : `echo ${m.toString()}`),
    });
    const messages: string[] = [];
    let greeting = '';
    const socket = client({
      host: '127.0.0.1',
      port: srv.port,
      framing: 'lines',
      onConnect: async ({ send, receive }) => {
        send('AUTH secret');
        greeting = (await receive()).toString();
      },
    });
    socket.on('message', (m) => messages.push(m.toString()));
    socket.send('after');
    await until(() => messages.length === 1, 'the echo');
    expect(greeting).toBe('WELCOME');
    expect(messages).toEqual(['echo after']);
  });

  it('an onConnect that throws fails the attempt and is tried again', async () => {
    const srv = await server({ framing: 'lines' });
    let calls = 0;
    const reconnecting: string[] = [];
    const socket = client({
      host: '127.0.0.1',
      port: srv.port,
      framing: 'lines',
      onConnect: () => {
        calls++;
        if (calls < 3) throw Object.assign(new Error('handshake refused'), { code: 'EPROTO' });
      },
    });
    socket.on('reconnecting', (e) => reconnecting.push(e.fault.message));
    socket.send('x');
    await connected(socket);
    await until(() => srv.received.length === 1, 'the message');
    expect(calls).toBe(3);
    expect(reconnecting).toEqual(['handshake refused', 'handshake refused']);
    // Each failed handshake's connection was closed, not leaked.
    await until(() => srv.connections.size === 1, 'one server-side connection');
  });

  it('a throwing listener, ackOf or isPong becomes a process warning; the connection carries on', async () => {
    const srv = await server({ framing: 'lines', onMessage: (m, reply) => reply(`ACK ${m.toString()}`) });
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const socket = client({
        host: '127.0.0.1',
        port: srv.port,
        framing: 'lines',
        confirm: {
          sequenceOf: (m) => Number(m.toString()),
          ackOf: (m) => {
            if (m.toString() === 'ACK 2') throw new Error('ackOf bug');
            return Number(m.toString().slice(4));
          },
        },
        heartbeat: {
          intervalMs: 10_000,
          timeoutMs: 10_000,
          ping: 'PING',
          isPong: (m) => {
            if (m.toString() === 'ACK 3') throw new Error('isPong bug');
            return false;
          },
        },
      });
      const seen: string[] = [];
      socket.on('message', () => {
        throw new Error('listener bug');
      });
      socket.on('message', (m) => seen.push(m.toString()));
      for (const m of ['1', '2', '3', '4']) socket.send(m);
      await until(() => seen.length === 4, 'four answers');
      await until(() => warnings.length >= 6, 'the warnings');
      expect(seen).toEqual(['ACK 1', 'ACK 2', 'ACK 3', 'ACK 4']);
      expect(socket.connected).toBe(true);
      expect(socket.stats()).toMatchObject({ disconnects: 0, confirmed: 4, unconfirmed: 0 });
      expect(warnings.filter((w) => w.includes('listener bug'))).toHaveLength(4);
      expect(warnings.some((w) => w.includes('ackOf bug'))).toBe(true);
      expect(warnings.some((w) => w.includes('isPong bug'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('write() after close() is a drop event, not a throw', async () => {
    const srv = await server({ framing: 'lines' });
    const socket = client({ host: '127.0.0.1', port: srv.port, framing: 'lines' });
    await connected(socket);
    await socket.close();
    const drops: ReconnectingSocketEvents['drop'][] = [];
    socket.on('drop', (e) => drops.push(e));
    expect(socket.send('late')).toBe(false);
    expect(socket.state).toBe('closed');
    expect(socket.stats().dropped).toMatchObject({ closed: 1, total: 1 });
  });

  it('close() drops what is still queued, each with an event, and leaves no socket or timer behind', async () => {
    await settle();
    const handles = watchHandles();
    const baseline = socketHandles();
    const srv = await server({ framing: 'lines' });
    const socket = new ReconnectingSocket({
      host: '127.0.0.1',
      port: srv.port,
      framing: 'lines',
      schedule: constant(50),
      heartbeat: { intervalMs: 40, timeoutMs: 1000, ping: 'PING' },
      idleTimeoutMs: 5000,
    });
    const drops: string[] = [];
    socket.on('drop', (e) => drops.push(`${e.message.toString()}:${e.reason}:${e.outcome}`));
    await connected(socket);
    await srv.stop();
    await until(() => socket.state === 'waiting' || socket.state === 'connecting', 'the reconnect loop');
    socket.send('queued-1');
    socket.send('queued-2');
    let closedEvents = 0;
    socket.on('close', () => closedEvents++);
    await socket.close();
    await socket.close();
    await settle();
    expect(drops).toEqual(['queued-1:closed:not-sent', 'queued-2:closed:not-sent']);
    expect(closedEvents).toBe(1);
    expect(socketHandles()).toBe(baseline);
    expect(handles.timers()).toBe(0);
    handles.stop();
  });

  it('close() while connected sends what the socket buffered, then leaves nothing', async () => {
    await settle();
    const baseline = socketHandles();
    const srv = await server({ framing: 'lines' });
    const socket = new ReconnectingSocket({ host: '127.0.0.1', port: srv.port, framing: 'lines' });
    await connected(socket);
    for (let i = 0; i < 100; i++) socket.send(`m${i}`);
    await socket.close();
    await until(() => srv.received.length === 100, 'all 100 messages');
    await srv.stop();
    servers.splice(servers.indexOf(srv), 1);
    await settle();
    expect(socketHandles()).toBe(baseline);
  });

  it('validates options at construction, naming the option, the value and what is accepted', () => {
    const make = (options: object) => () => new ReconnectingSocket(options as never);
    expect(make({ port: 0 })).toThrow("option 'port' must be an integer from 1 to 65535, got 0");
    expect(make({ port: 70000 })).toThrow(/'port'.*got 70000/);
    expect(make({ port: 1, framing: 'json' })).toThrow(`option 'framing' must be 'raw', 'lines' or 'length-prefixed', got "json"`);
    expect(make({ port: 1, tls: { rejectUnauthorized: false } })).toThrow(/'tls.rejectUnauthorized' must be true or absent.*tls.ca.*got false/);
    expect(make({ port: 1, heartbeat: { intervalMs: 0, timeoutMs: 1, ping: 'p' } })).toThrow(/'heartbeat.intervalMs'.*got 0/);
    expect(make({ port: 1, heartbeat: { intervalMs: 10, timeoutMs: 10 } })).toThrow(/'heartbeat.ping'.*got undefined/);
    expect(make({ port: 1, confirm: { sequenceOf: () => 1, ackOf: () => 1 } })).toThrow(
      `option 'framing' must be 'lines' or 'length-prefixed' when confirm is set (a raw stream has no message boundaries), got "raw"`,
    );
    expect(make({ port: 1, keepAliveMs: -1 })).toThrow(/'keepAliveMs'.*got -1/);
    expect(make({ port: 1, maxMessageBytes: 1.5 })).toThrow(/'maxMessageBytes'.*got 1.5/);
    expect(make({ port: 1, queue: { overflow: 'spill' } })).toThrow(
      `ReconnectingSocket: option 'queue.overflow' must be 'reject', 'drop-oldest' or 'drop-newest', got "spill"`,
    );
    expect(make({ port: 1, maxAttempts: 0 })).toThrow(/'maxAttempts'.*got 0/);
    expect(make({ port: 1, onConnect: 'hello' })).toThrow(/'onConnect' must be a function .*, got "hello"/);
    expect(make({ port: 1, maxAttempts: 0 })).toThrow("ReconnectingSocket: option 'maxAttempts' must be an integer >= 1, or Infinity, got 0");
    // Unknown keys are refused with a hint, at every level, instead of being ignored.
    expect(make({ port: 1, connectTimeout: 5 })).toThrow("ReconnectingSocket: unknown option 'connectTimeout' (did you mean connectTimeoutMs?)");
    expect(make({ port: 1, queue: { maxMessages: 5 } })).toThrow("unknown option 'queue.maxMessages'");
    expect(make({ port: 1, heartbeat: { interval: 10, ping: 'p' } })).toThrow("unknown option 'heartbeat.interval' (did you mean intervalMs?)");
    expect(make({ port: 1, framing: 'lines', confirm: { sequenceOf: () => 1, ackOf: () => 1, maxUnconfirmd: 2 } })).toThrow(
      "unknown option 'confirm.maxUnconfirmd' (did you mean maxUnconfirmed?)",
    );
  });

  it("the old names work for one release, each with one DeprecationWarning: 'connect', written, a numeric dropped, close.reason, DEFAULT_NET_SCHEDULE, holdfast:net", async () => {
    const srv = await server({ framing: 'lines' });
    const warnings: (Error & { code?: string })[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    const legacy: string[] = [];
    const onLegacy = (message: unknown): void => void legacy.push((message as { event: string }).event);
    diagnosticsChannel.subscribe('holdfast:net', onLegacy);
    try {
      const socket = new ReconnectingSocket({ host: '127.0.0.1', port: srv.port, framing: 'lines', schedule: DEFAULT_NET_SCHEDULE });
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- the old name, on purpose
      const opened = await new Promise<ReconnectingSocketEvents['open']>((resolve) => socket.once('connect', resolve));
      expect(opened).toMatchObject({ event: 'open', attempt: 1 });
      socket.send('a');
      const stats = socket.stats() as ReconnectingSocketStats & { written: number };
      expect(stats.written).toBe(stats.sent);
      expect((stats.dropped as unknown as number) + 0).toBe(0);
      const disconnected = new Promise<ReconnectingSocketEvents['disconnect'] & { written?: unknown }>((resolve) =>
        socket.once('disconnect', resolve),
      );
      srv.resetAll();
      const lost = await disconnected;
      expect(lost.written).toEqual(lost.sent);
      expect(DEFAULT_NET_SCHEDULE.next({ attempt: 1, previousDelayMs: 0, random: () => 0 })).toBe(0);
      const closed = new Promise<ReconnectingSocketEvents['close'] & { reason?: string }>((resolve) => socket.once('close', resolve));
      await socket.close();
      expect((await closed).reason).toBe('close');
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
      diagnosticsChannel.unsubscribe('holdfast:net', onLegacy);
    }
    const codes = warnings.filter((w) => w.name === 'DeprecationWarning').map((w) => w.code);
    expect(codes.sort()).toEqual(['HOLDFAST_DEP002', 'HOLDFAST_DEP004', 'HOLDFAST_DEP005', 'HOLDFAST_DEP006', 'HOLDFAST_DEP007', 'HOLDFAST_DEP008']);
    // The old channel still got the lifecycle while it had a subscriber.
    expect(legacy).toContain('open');
    expect(legacy).toContain('disconnect');
  });
});
