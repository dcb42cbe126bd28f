import { describe, expect, it } from 'vitest';
import { constant } from '@holdfast/core';
import { ReconnectingWebSocket, type ReconnectingWebSocketEvents } from '@holdfast/ws';
import { startServer, waitFor } from './support/ws-server.js';
import { failOnEscapes } from './support/escapes.js';

type DisconnectEvent = ReconnectingWebSocketEvents['disconnect'];
type DropEvent = ReconnectingWebSocketEvents['drop'];

failOnEscapes();

describe('delivery across 100 forced reconnects', () => {
  it('never duplicates, and loses nothing beyond what was reported dropped or unconfirmed at disconnect', async () => {
    const RECONNECTS = 100;
    let kills = 0;
    const server = await startServer({
      echo: false,
      onConnection: (peer) => {
        // Each connection dies abruptly after a random handful of messages, mid-stream.
        let budget = 5 + Math.floor(Math.random() * 20);
        peer.on('message', () => {
          if (--budget === 0 && kills < RECONNECTS) {
            kills++;
            peer.terminate();
          }
        });
      },
    });
    const socket = new ReconnectingWebSocket(server.url, {
      schedule: constant(1),
      minUptimeMs: 0,
      heartbeat: { intervalMs: 2, timeoutMs: 5000 },
      queue: { maxItems: 50, overflow: 'drop-oldest' },
    });
    const dropped: DropEvent[] = [];
    const disconnects: DisconnectEvent[] = [];
    socket.on('drop', (event) => dropped.push(event));
    socket.on('disconnect', (event) => disconnects.push(event));

    let seq = 0;
    while (disconnects.length < RECONNECTS) {
      socket.send(String(++seq));
      await new Promise((resolve) => setTimeout(resolve, seq % 4 === 0 ? 1 : 0));
    }
    // Everything after the last kill stays on a healthy connection and must all arrive.
    for (let i = 0; i < 20; i++) socket.send(String(++seq));
    const lastSent = seq;
    await waitFor(() => server.received.at(-1) === String(lastSent), 'the last message', 10_000);
    await socket.close();
    await server.stop();

    const received = server.received.map(Number);
    expect(new Set(received).size).toBe(received.length);
    for (let i = 1; i < received.length; i++) expect(received[i]!).toBeGreaterThan(received[i - 1]!);
    const droppedSeqs = new Set(dropped.map((event) => Number(event.data)));
    const receivedSet = new Set(received);
    for (const seqDropped of droppedSeqs) expect(receivedSet.has(seqDropped)).toBe(false);
    let missing = 0;
    for (let n = 1; n <= lastSent; n++) if (!receivedSet.has(n) && !droppedSeqs.has(n)) missing++;
    const reportedUnconfirmed = disconnects.reduce((sum, event) => sum + event.unconfirmed.messages, 0);
    expect(missing).toBeLessThanOrEqual(reportedUnconfirmed);
    // The heartbeat confirms often, so the report is a tight bound rather than "everything".
    expect(reportedUnconfirmed).toBeLessThan(lastSent / 2);
    expect(socket.stats()).toMatchObject({ disconnects: RECONNECTS, possiblyLost: reportedUnconfirmed });
  }, 60_000);
});
