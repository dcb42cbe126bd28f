import { describe, expect, it } from 'vitest';
import { constant } from '@holdfast/core';
import { ReconnectingWebSocket, type ReconnectingWebSocketEvents } from '@holdfast/ws';
import { startServer, waitFor, type TestServer } from './support/ws-server.js';
import { failOnEscapes } from './support/escapes.js';

type DisconnectEvent = ReconnectingWebSocketEvents['disconnect'];
type ReconnectingEvent = ReconnectingWebSocketEvents['reconnecting'];

failOnEscapes();

describe('server restart', () => {
  it('reconnects after the server stops and starts again on the same port, and delivers what was sent meanwhile', async () => {
    let server: TestServer = await startServer();
    const port = server.port;
    const socket = new ReconnectingWebSocket(server.url, { schedule: constant(50), minUptimeMs: 0 });
    const disconnects: DisconnectEvent[] = [];
    const reconnecting: ReconnectingEvent[] = [];
    socket.on('disconnect', (event) => disconnects.push(event));
    socket.on('reconnecting', (event) => reconnecting.push(event));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send('before');
    await waitFor(() => server.received.length === 1, 'first message');

    await server.stop();
    await waitFor(() => disconnects.length === 1, 'the disconnect');
    expect(socket.readyState).toBe(socket.CONNECTING);
    expect(disconnects[0]).toMatchObject({ code: 1006, willReconnect: true });
    // While down, sends wait in the queue.
    expect(socket.send('during-1')).toBe(true);
    expect(socket.send('during-2')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Attempts against the closed port fail fast (refused) and keep the schedule's pace.
    expect(reconnecting.length).toBeGreaterThanOrEqual(2);
    expect(reconnecting.every((event) => event.delayMs === 50)).toBe(true);
    expect(reconnecting.at(-1)!.fault.kind).toBe('connection-refused');

    server = await startServer({ port });
    await waitFor(() => server.received.length === 2, 'queued messages after restart', 5000);
    expect(server.received).toEqual(['during-1', 'during-2']);
    expect(socket.readyState).toBe(socket.OPEN);
    expect(socket.stats()).toMatchObject({ connects: 2, disconnects: 1, queued: 0 });
    await socket.close();
    await server.stop();
  });

  it('a server that says 1012 (service restart) is reconnected to', async () => {
    const server = await startServer();
    const socket = new ReconnectingWebSocket(server.url, { schedule: constant(20), minUptimeMs: 0 });
    await new Promise((resolve) => socket.once('open', resolve));
    const disconnect = new Promise<DisconnectEvent>((resolve) => socket.once('disconnect', resolve));
    for (const peer of server.clients) peer.close(1012, 'restarting');
    expect(await disconnect).toMatchObject({ code: 1012, reason: 'restarting', willReconnect: true });
    await new Promise((resolve) => socket.once('open', resolve));
    expect(server.connections).toBe(2);
    await socket.close();
    await server.stop();
  });
});
