import { createChaosProxy, type ChaosProxy } from '@holdfast/chaos';
import { constant } from '@holdfast/core';
import { ReconnectingSocket, type ReconnectingSocketEvents } from '@holdfast/net';
import { afterEach, describe, expect, it } from 'vitest';
import { failOnEscapedErrors, settle, sleep, socketHandles, until } from './support/leaks.js';
import { TestServer } from './support/test-server.js';

failOnEscapedErrors();

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serverBehindProxy(options: ConstructorParameters<typeof TestServer>[0]): Promise<{ srv: TestServer; proxy: ChaosProxy }> {
  const srv = await new TestServer(options).start();
  cleanups.push(() => srv.stop());
  const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: srv.port } });
  cleanups.push(() => proxy.close());
  return { srv, proxy };
}

function client(options: ConstructorParameters<typeof ReconnectingSocket>[0]): ReconnectingSocket {
  const socket = new ReconnectingSocket({ host: '127.0.0.1', schedule: constant(20), ...options });
  cleanups.push(() => socket.close());
  return socket;
}

function record<K extends keyof ReconnectingSocketEvents>(socket: ReconnectingSocket, name: K): ReconnectingSocketEvents[K][] {
  const events: ReconnectingSocketEvents[K][] = [];
  socket.on(name, (e) => events.push(e as never));
  return events;
}

describe('through the chaos proxy', () => {
  it('reset_peer mid-message: the cut frame is reported, and the next message arrives whole on the next connection', async () => {
    const { srv, proxy } = await serverBehindProxy({ framing: 'length-prefixed' });
    const socket = client({ port: proxy.port, framing: 'length-prefixed' });
    const disconnects = record(socket, 'disconnect');
    await new Promise((resolve) => socket.once('open', resolve));
    // A real RST after 64 KiB of the 1 MiB message went through.
    proxy.addToxic({ name: 'cut', type: 'reset_peer', stream: 'upstream', toxicity: 1, attributes: { after_bytes: 65_536 } });
    socket.send(Buffer.alloc(1024 * 1024, 0x61));
    await until(() => disconnects.length === 1, 'the disconnect');
    proxy.removeToxic('cut');
    socket.send('after');
    await until(() => srv.received.length === 1, 'the next message');
    await sleep(30);
    expect(srv.texts()).toEqual(['after']);
    expect(disconnects[0]!.fault.kind).toBe('connection-reset');
    expect(disconnects[0]!.unconfirmed).toEqual({ messages: 1, bytes: 1024 * 1024 + 4 });
  });

  it('reset_peer mid-message with confirm: the cut message is sent again whole and arrives once', async () => {
    const { srv, proxy } = await serverBehindProxy({
      framing: 'length-prefixed',
      onMessage: (m, reply) => reply(`ACK ${m.subarray(0, 8).toString().trim()}`),
    });
    const socket = client({
      port: proxy.port,
      framing: 'length-prefixed',
      confirm: {
        sequenceOf: (m) => Number(Buffer.from(m).subarray(0, 8).toString().trim()),
        ackOf: (m) => (m.toString().startsWith('ACK ') ? Number(m.toString().slice(4)) : undefined),
      },
    });
    const disconnects = record(socket, 'disconnect');
    await new Promise((resolve) => socket.once('open', resolve));
    proxy.addToxic({ name: 'cut', type: 'reset_peer', stream: 'upstream', toxicity: 1, attributes: { after_bytes: 100_000 } });
    const big = Buffer.alloc(512 * 1024, 0x62);
    big.write('1       ');
    socket.send(big);
    await until(() => disconnects.length === 1, 'the disconnect');
    expect(disconnects[0]).toMatchObject({ resend: true, unconfirmed: { messages: 1, bytes: big.length + 4 } });
    proxy.removeToxic('cut');
    await until(() => socket.stats().confirmed === 1, 'the acknowledgement');
    expect(srv.received).toHaveLength(1);
    expect(srv.received[0]!.equals(big)).toBe(true);
    expect(socket.stats().resent).toBe(1);
  });

  it('exactly-once across 100 resets made by the proxy (RST to both sides, bytes in flight lost): every message accepted once, in order', async () => {
    let highest = 0;
    const accepted: number[] = [];
    const gaps: string[] = [];
    let wireRepeats = 0;
    let sinceReset = 0;
    let proxyResets = 0;
    // Filled in once the proxy exists; the server's handler needs it to reset connections.
    const holder: { proxy?: ChaosProxy } = {};
    const behind = await serverBehindProxy({
      framing: 'length-prefixed',
      onMessage: (m, reply) => {
        const text = m.toString();
        if (text === 'HELLO') {
          reply(`ACK ${highest}`);
          return;
        }
        const seq = Number(text.slice(4));
        // The peer's half of the protocol: ignore a number it already has, never accept past a gap.
        if (seq <= highest) wireRepeats++;
        else if (seq !== highest + 1) gaps.push(`${highest} -> ${seq}`);
        else {
          highest = seq;
          accepted.push(seq);
          reply(`ACK ${highest}`);
        }
        if (++sinceReset >= 11 + (proxyResets % 4) * 7 && proxyResets < 100 && holder.proxy !== undefined) {
          sinceReset = 0;
          proxyResets += holder.proxy.resetAll() > 0 ? 1 : 0;
        }
      },
    });
    const { proxy } = behind;
    holder.proxy = proxy;
    // Bytes held in the proxy for a moment are lost when it resets: some messages are always in flight.
    proxy.addToxic({ type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 2 } });
    const socket = client({
      port: proxy.port,
      framing: 'length-prefixed',
      schedule: constant(1),
      confirm: {
        sequenceOf: (m) => Number(m.toString().slice(4)),
        ackOf: (m) => (m.toString().startsWith('ACK ') ? Number(m.toString().slice(4)) : undefined),
        maxUnconfirmed: 32,
      },
      onConnect: async ({ send, receive }) => {
        send('HELLO');
        await receive();
      },
    });
    const drops = record(socket, 'drop');
    const total = 5000;
    for (let seq = 1; seq <= total; seq++) {
      if (!socket.send(`MSG ${seq}`)) await new Promise((resolve) => socket.once('drain', resolve));
    }
    await until(() => highest === total, `all ${total} messages (at ${highest})`, 15_000);
    expect(proxyResets).toBe(100);
    expect(gaps).toEqual([]);
    expect(accepted).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(drops).toEqual([]);
    // A repeat on the wire is possible here (the peer may read bytes of the dead connection after answering HELLO); it is recognised by its number.
    expect(wireRepeats).toBeLessThanOrEqual(socket.stats().resent);
  });

  it('timeout toxic (a silent stall): the heartbeat detects it within interval + timeout and reconnects', async () => {
    const { srv, proxy } = await serverBehindProxy({
      framing: 'lines',
      onMessage: (m, reply) => {
        if (m.toString() === 'PING') reply('PONG');
      },
    });
    const intervalMs = 100;
    const timeoutMs = 200;
    const socket = client({
      port: proxy.port,
      framing: 'lines',
      heartbeat: { intervalMs, timeoutMs, ping: 'PING', isPong: (m) => m.toString() === 'PONG' },
    });
    const disconnects = record(socket, 'disconnect');
    const connects = record(socket, 'open');
    await until(() => connects.length === 1, 'the connection');
    await sleep(250);
    expect(srv.texts().filter((t) => t === 'PING').length).toBeGreaterThanOrEqual(1);
    // Nothing is forwarded in either direction any more, and nothing is closed: a half-open connection.
    proxy.addToxic({ name: 'stall-up', type: 'timeout', stream: 'upstream', toxicity: 1, attributes: { timeout: 0 } });
    proxy.addToxic({ name: 'stall-down', type: 'timeout', stream: 'downstream', toxicity: 1, attributes: { timeout: 0 } });
    const stalledAt = Date.now();
    socket.send('into the void');
    await until(() => disconnects.length === 1, 'the heartbeat to declare the connection dead');
    const detectedMs = Date.now() - stalledAt;
    expect(disconnects[0]!.fault.kind).toBe('timeout');
    expect(disconnects[0]!.unconfirmed.messages).toBe(1);
    // Bound: interval + timeout after the last byte received (before the stall), plus as much again for a busy machine's timers.
    expect(detectedMs).toBeLessThan(2 * (intervalMs + timeoutMs));
    proxy.removeToxic('stall-up');
    proxy.removeToxic('stall-down');
    await until(() => connects.length === 2, 'the reconnect');
  });

  it('slicer: frames cut into 1-5 byte slices are reassembled exactly, in both framings', async () => {
    for (const framing of ['lines', 'length-prefixed'] as const) {
      const expected = Array.from({ length: 200 }, (_, i) => `message ${i} ${'x'.repeat(i % 17)}`);
      const { proxy } = await serverBehindProxy({
        framing,
        onMessage: (m, reply) => {
          if (m.toString() === 'go') for (const e of expected) reply(e);
        },
      });
      proxy.addToxic({ type: 'slicer', stream: 'downstream', toxicity: 1, attributes: { average_size: 3, size_variation: 2, delay: 0 } });
      const socket = client({ port: proxy.port, framing });
      const messages: string[] = [];
      socket.on('message', (m) => messages.push(m.toString()));
      socket.send('go');
      await until(() => messages.length === expected.length, `${framing}: all messages`);
      expect(messages).toEqual(expected);
      expect(proxy.stats().connections.total).toBe(1);
    }
  });

  it('proxy down (refusing, then accepting and resetting): queued messages flushed into reset connections are reported, and with confirm all arrive', async () => {
    for (const withConfirm of [false, true]) {
      const { srv, proxy } = await serverBehindProxy({
        framing: 'lines',
        onMessage: (m, reply) => reply(`ACK ${m.toString().slice(1)}`),
      });
      const socket = client({
        port: proxy.port,
        framing: 'lines',
        confirm: withConfirm
          ? {
              sequenceOf: (m) => Number(m.toString().slice(1)),
              ackOf: (m) => (m.toString().startsWith('ACK ') ? Number(m.toString().slice(4)) : undefined),
            }
          : undefined,
      });
      const reconnecting = record(socket, 'reconnecting');
      const disconnects = record(socket, 'disconnect');
      const drops = record(socket, 'drop');
      await new Promise((resolve) => socket.once('open', resolve));
      await proxy.disable({ mode: 'refuse', existing: 'reset' });
      for (let i = 1; i <= 10; i++) socket.send(`m${i}`);
      await until(() => reconnecting.some((e) => e.fault.code === 'ECONNREFUSED'), 'a refused attempt');
      // Accepts, then resets: the queue is flushed into connections that die at once.
      await proxy.enable();
      await proxy.disable({ mode: 'reset' });
      const resetsBefore = reconnecting.filter((e) => e.fault.code === 'ECONNRESET').length;
      await until(() => reconnecting.filter((e) => e.fault.code === 'ECONNRESET').length >= resetsBefore + 3, 'attempts reset by the proxy');
      await proxy.enable();
      await until(() => socket.connected && socket.stats().queued === 0 && socket.stats().unconfirmed === 0, 'the queue to empty');
      await sleep(50);
      const arrived = srv.texts();
      const sent = Array.from({ length: 10 }, (_, i) => `m${i + 1}`);
      expect(drops).toEqual([]);
      expect(new Set(arrived).size).toBe(arrived.length);
      // Whatever arrived, arrived in order.
      expect(arrived).toEqual(sent.filter((m) => arrived.includes(m)));
      if (withConfirm) {
        expect(arrived).toEqual(sent);
      } else {
        const reported = disconnects.reduce((sum, e) => sum + e.sent.messages, 0);
        expect(sent.length - arrived.length).toBeLessThanOrEqual(reported);
      }
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    }
  });

  it('close() in every state leaves no socket behind', async () => {
    await settle();
    const baseline = socketHandles();
    const { proxy } = await serverBehindProxy({ framing: 'lines' });
    proxy.addToxic({ type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 50 } });
    const sockets = [
      client({ port: proxy.port, framing: 'lines' }),
      client({ port: proxy.port, framing: 'lines' }),
      client({ port: proxy.port, framing: 'lines', onConnect: () => new Promise(() => {}) }),
    ];
    await new Promise((resolve) => sockets[0]!.once('open', resolve));
    sockets[0]!.send('in flight');
    // One open with a write in flight, one connecting, one stuck in onConnect.
    await Promise.all(sockets.map((s) => s.close()));
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await settle();
    expect(socketHandles()).toBe(baseline);
  });
});
