import { describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { defaultReconnectSchedule } from '@holdfast/core';
import { ReconnectingWebSocket } from '@holdfast/ws';
import { busiestWindow, seededRandom } from './support/seeded-random.js';
import { startServer, waitFor } from './support/ws-server.js';
import { failOnEscapes } from './support/escapes.js';

failOnEscapes();

/**
 * When does a client that lost its server at t=0 get back in, if the server
 * refuses connections until `downMs`? Pure schedule math (connect attempts
 * taken as instant), the same loop the Supervisor runs.
 */
function reconnectTime(downMs: number, random: () => number): number {
  let t = 0;
  let previousDelayMs = 0;
  for (let attempt = 1; ; attempt++) {
    previousDelayMs = defaultReconnectSchedule.next({ attempt, previousDelayMs, random });
    t += previousDelayMs;
    if (t >= downMs) return t;
  }
}

describe('a herd of clients after a server restart', () => {
  it('the default schedule spreads 1000 clients: no 100 ms window over 15 %, all back within 3 s (schedule math)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = seededRandom(seed);
      const times = Array.from({ length: 1000 }, () => reconnectTime(1000, random));
      expect(busiestWindow(times, 100)).toBeLessThanOrEqual(150);
      expect(Math.max(...times) - 1000).toBeLessThanOrEqual(3000);
    }
  });

  it('1000 real clients through a 1 s restart spread over the jitter window (chosen delays: no 100 ms window over 15 %, all due within 3 s)', async () => {
    const CLIENTS = 1000;
    let server = await startServer({ echo: false });
    const port = server.port;
    // Milliseconds after the server listened again: when each client was back, and when its last reconnect
    // attempt was due (the moment of its 'reconnecting' event plus the delay it announced).
    const reopened: number[] = [];
    const due: number[] = [];
    let restartedAt = 0;
    const clients: ReconnectingWebSocket[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const client = new ReconnectingWebSocket(server.url, { random: seededRandom(1000 + i), heartbeat: false });
      let dueAt = 0;
      client.on('reconnecting', ({ delayMs }) => {
        dueAt = performance.now() + delayMs;
      });
      client.on('open', () => {
        if (restartedAt === 0) return;
        reopened.push(performance.now() - restartedAt);
        due.push(dueAt - restartedAt);
      });
      clients.push(client);
      // In batches, so the first connections do not overflow the listen backlog (that is not what is measured).
      if (i % 100 === 99) await waitFor(() => server.clients.size === i + 1, `${i + 1} clients connected`, 10_000);
    }
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    server = await startServer({ port, echo: false });
    restartedAt = performance.now();
    await waitFor(() => reopened.length === CLIENTS, 'every client back', 10_000);
    await Promise.all(clients.map((client) => client.close()));
    await server.stop();

    // What holdfast decides (the schedule's delays) meets the goal: measured 10-11 % with these seeds.
    expect(busiestWindow(due, 100)).toBeLessThanOrEqual(CLIENTS * 0.15);
    expect(Math.max(...due)).toBeLessThanOrEqual(3000);
    // The opens add this process's event loop, which also runs the server: measured 11-17 % and 1.9 s alone,
    // up to 20 % with the other test files and two busy processes on the 2 cores, and 35-36 % beside the otlp
    // suite's gRPC tests at a load average of 7-9 (a stalled loop lets a burst of handshakes through together;
    // the same code as before issue 10 measured the same alone). The margin is for that; a herd without jitter
    // is 70-100 % (see the benchmark), so this still tells the two apart.
    expect(busiestWindow(reopened, 100)).toBeLessThanOrEqual(CLIENTS * 0.45);
    // Spread across the 2 s jitter window, not one burst (reconnecting-websocket and partysocket send every
    // client at once: see the herd benchmark).
    expect(Math.max(...reopened) - Math.min(...reopened)).toBeGreaterThan(1500);
    expect(Math.max(...reopened)).toBeLessThan(3000 + 1000);
  }, 30_000);
});
