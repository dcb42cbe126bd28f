import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import type WebSocket from 'ws';
import { createChaosProxy, type ChaosProxy } from '@holdfast/chaos';
import { constant } from '@holdfast/core';
import { ReconnectingWebSocket, type ReconnectingWebSocketEvents } from '@holdfast/ws';
import { startServer, waitFor, type TestServer } from './support/ws-server.js';
import { failOnEscapes } from './support/escapes.js';

type DisconnectEvent = ReconnectingWebSocketEvents['disconnect'];

failOnEscapes();

let server: TestServer;
let proxy: ChaosProxy;

beforeEach(async () => {
  server = await startServer();
  proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: server.port } });
});

afterEach(async () => {
  await proxy.close();
  await server.stop();
});

const viaProxy = (): string => `ws://127.0.0.1:${proxy.port}`;

describe('faults through the chaos proxy', () => {
  it('a half-open connection (timeout toxic: nothing passes) is detected within heartbeat interval + timeout', async () => {
    const heartbeat = { intervalMs: 300, timeoutMs: 300 };
    let raw: WebSocket | undefined;
    const socket = new ReconnectingWebSocket(viaProxy(), {
      heartbeat,
      schedule: constant(20),
      minUptimeMs: 0,
      onConnect: ({ socket: opened }) => {
        raw = opened;
      },
    });
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send('confirmed');
    await waitFor(() => server.received.length === 1, 'the first message');
    // A pong confirms it (waited for, not timed: on a loaded machine the first ping can be late).
    await new Promise((resolve) => raw!.once('pong', resolve));

    proxy.addToxic({ name: 'stall-up', type: 'timeout', stream: 'upstream', attributes: { timeout: 0 } });
    proxy.addToxic({ name: 'stall-down', type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } });
    const stalledAt = performance.now();
    const disconnected = new Promise<DisconnectEvent>((resolve) => socket.once('disconnect', resolve));
    for (let i = 0; i < 5; i++) socket.send(`lost-${i}`);
    const event = await disconnected;
    const detectedMs = performance.now() - stalledAt;

    expect(event.fault.kind).toBe('timeout');
    expect(event).toMatchObject({ code: 1006, willReconnect: true });
    // The five sent into the stall are reported, the confirmed one is not.
    expect(event.unconfirmed.messages).toBe(5);
    expect(detectedMs).toBeGreaterThanOrEqual(heartbeat.timeoutMs - 20);
    // interval + timeout is the bound; the margin absorbs timer lateness on a loaded machine.
    expect(detectedMs).toBeLessThan(heartbeat.intervalMs + heartbeat.timeoutMs + 400);
    expect(server.received).toEqual(['confirmed']);

    proxy.removeToxic('stall-up');
    proxy.removeToxic('stall-down');
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send('after');
    await waitFor(() => server.received.includes('after'), 'a message on the new connection');
    await socket.close();
  });

  it('reset_peer in the middle of a large message: no partial message, a reset fault, then a whole message on the next connection', async () => {
    const big = 'x'.repeat(256 * 1024);
    server.wss.on('connection', (peer) => peer.on('message', (data) => (data as Buffer).toString() === 'big please' && peer.send(big)));
    const socket = new ReconnectingWebSocket(viaProxy(), { schedule: constant(20), minUptimeMs: 0 });
    const messages: number[] = [];
    socket.on('message', (data) => messages.push((data as Buffer).length));
    await new Promise((resolve) => socket.once('open', resolve));
    proxy.addToxic({ name: 'rst', type: 'reset_peer', stream: 'downstream', attributes: { after_bytes: 64 * 1024 } });
    const disconnected = new Promise<DisconnectEvent>((resolve) => socket.once('disconnect', resolve));
    socket.send('big please');
    const event = await disconnected;
    expect(event.code).toBe(1006);
    expect(event.fault.kind).toBe('connection-reset');
    expect(event.fault.code).toBe('ECONNRESET');
    // Only the 10-byte echo of the request got through, never a piece of the large message.
    expect(messages.filter((length) => length !== 10)).toEqual([]);

    proxy.removeToxic('rst');
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send('big please');
    await waitFor(() => messages.includes(big.length), 'the large message, whole');
    expect(messages.filter((length) => length !== 10)).toEqual([big.length]);
    await socket.close();
  });

  it('slicer: frames cut into tiny TCP segments both ways still arrive whole and in order', async () => {
    proxy.addToxic({ type: 'slicer', stream: 'upstream', attributes: { average_size: 7, size_variation: 5, delay: 0 } });
    proxy.addToxic({ type: 'slicer', stream: 'downstream', attributes: { average_size: 7, size_variation: 5, delay: 0 } });
    const socket = new ReconnectingWebSocket(viaProxy());
    const echoes: string[] = [];
    socket.on('message', (data) => echoes.push((data as Buffer).toString()));
    const sent = Array.from({ length: 30 }, (_, i) => `message ${i} ${'y'.repeat(i * 37)}`);
    for (const message of sent) socket.send(message);
    await waitFor(() => echoes.length === sent.length, 'every echo', 10_000);
    expect(server.received).toEqual(sent);
    expect(echoes).toEqual(sent);
    expect(socket.stats().disconnects).toBe(0);
    await socket.close();
  });
});
