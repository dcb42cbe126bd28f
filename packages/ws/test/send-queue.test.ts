import { describe, expect, it } from 'vitest';
import { constant, QueueFullError } from '@holdfast/core';
import { ReconnectingWebSocket, type ReconnectingWebSocketEvents } from '@holdfast/ws';
import { startServer, waitFor } from './support/ws-server.js';
import { failOnEscapes } from './support/escapes.js';

type DropEvent = ReconnectingWebSocketEvents['drop'];

failOnEscapes();

/** A port that refuses connections: a server started and stopped. */
async function downServer() {
  const server = await startServer();
  await server.stop();
  return server;
}

async function sendWhileDown(overflow: 'drop-oldest' | 'drop-newest' | 'reject') {
  const down = await downServer();
  const socket = new ReconnectingWebSocket(down.url, { queue: { maxItems: 3, overflow }, schedule: constant(20), minUptimeMs: 0 });
  const drops: DropEvent[] = [];
  socket.on('drop', (event) => drops.push(event));
  const results: unknown[] = [];
  for (const message of ['m1', 'm2', 'm3', 'm4', 'm5']) {
    try {
      results.push(socket.send(message));
    } catch (error) {
      results.push(error);
    }
  }
  const server = await startServer({ port: down.port });
  const expected = overflow === 'drop-oldest' ? 3 : 3;
  await waitFor(() => server.received.length === expected, 'the queue flushed after the server came up');
  const received = [...server.received];
  const stats = socket.stats();
  await socket.close();
  await server.stop();
  return { drops, results, received, stats };
}

describe('send queue while disconnected', () => {
  it("'drop-oldest' keeps the newest messages and reports each dropped one", async () => {
    const { drops, received, stats } = await sendWhileDown('drop-oldest');
    expect(received).toEqual(['m3', 'm4', 'm5']);
    expect(drops.map((event) => [event.data, event.reason])).toEqual([
      ['m1', 'overflow'],
      ['m2', 'overflow'],
    ]);
    expect(stats.dropped).toMatchObject({ overflow: 2, total: 2 });
  });

  it("'drop-newest' keeps the oldest messages and send() returns false for the dropped ones", async () => {
    const { drops, results, received } = await sendWhileDown('drop-newest');
    expect(received).toEqual(['m1', 'm2', 'm3']);
    expect(results.slice(3)).toEqual([false, false]);
    expect(drops.map((event) => event.data)).toEqual(['m4', 'm5']);
  });

  it("'reject' throws QueueFullError and the caller keeps the message", async () => {
    const { drops, results, received } = await sendWhileDown('reject');
    expect(received).toEqual(['m1', 'm2', 'm3']);
    expect(results[3]).toBeInstanceOf(QueueFullError);
    expect((results[3] as QueueFullError).item).toBe('m4');
    expect(drops).toEqual([]);
  });

  it('queue: false drops what is sent while disconnected, each with an event, and never replays it', async () => {
    const down = await downServer();
    const socket = new ReconnectingWebSocket(down.url, { queue: false, schedule: constant(20), minUptimeMs: 0 });
    const drops: DropEvent[] = [];
    socket.on('drop', (event) => drops.push(event));
    expect(socket.send('stale-quote')).toBe(false);
    const server = await startServer({ port: down.port });
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send('fresh-quote');
    await waitFor(() => server.received.length === 1, 'the fresh message');
    expect(server.received).toEqual(['fresh-quote']);
    expect(drops.map((event) => [event.data, event.reason])).toEqual([['stale-quote', 'not-connected']]);
    await socket.close();
    await server.stop();
  });

  it('close() drops what is still queued, with a drop event for each message', async () => {
    const down = await downServer();
    const socket = new ReconnectingWebSocket(down.url, { schedule: constant(1000) });
    const drops: DropEvent[] = [];
    socket.on('drop', (event) => drops.push(event));
    socket.send('a');
    socket.send('b');
    await socket.close();
    expect(drops.map((event) => [event.data, event.reason])).toEqual([
      ['a', 'closed'],
      ['b', 'closed'],
    ]);
  });
});

describe('backpressure', () => {
  it("send() returns false at the bufferedAmount high-water mark and 'drain' follows", async () => {
    const server = await startServer({ echo: false });
    const socket = new ReconnectingWebSocket(server.url, { highWaterMarkBytes: 64 * 1024 });
    await new Promise((resolve) => socket.once('open', resolve));
    const chunk = Buffer.alloc(16 * 1024, 1);
    let accepted = 0;
    while (socket.send(chunk)) accepted++;
    expect(socket.bufferedAmount).toBeGreaterThanOrEqual(64 * 1024);
    await new Promise<void>((resolve) => socket.once('drain', () => resolve()));
    expect(socket.bufferedAmount).toBeLessThan(64 * 1024);
    expect(accepted).toBeGreaterThanOrEqual(0);
    await socket.close();
    await server.stop();
  });
});
