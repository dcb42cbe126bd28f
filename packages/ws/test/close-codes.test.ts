import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { constant } from '@holdfast/core';
import { ReconnectingWebSocket, type ReconnectingWebSocketEvents } from '@holdfast/ws';
import { startServer, waitFor, type TestServer } from './support/ws-server.js';
import { failOnEscapes } from './support/escapes.js';

type CloseEvent = ReconnectingWebSocketEvents['close'];
type DisconnectEvent = ReconnectingWebSocketEvents['disconnect'];
type GiveUpEvent = ReconnectingWebSocketEvents['give-up'];
type ReconnectingEvent = ReconnectingWebSocketEvents['reconnecting'];

failOnEscapes();

let server: TestServer;
beforeEach(async () => {
  server = await startServer();
});
afterEach(async () => {
  await server.stop();
});

/** Opens a client, makes the server close it with `code`, and reports what the client did next. */
async function closeWith(code: number, options: ConstructorParameters<typeof ReconnectingWebSocket>[1] = {}) {
  const socket = new ReconnectingWebSocket(server.url, { schedule: constant(10), minUptimeMs: 0, ...options });
  await new Promise((resolve) => socket.once('open', resolve));
  const connectionsBefore = server.connections;
  const disconnect = new Promise<DisconnectEvent>((resolve) => socket.once('disconnect', resolve));
  const closes: CloseEvent[] = [];
  socket.on('close', (event) => closes.push(event));
  // 1005 is never sent: it is what the receiver reports for a close frame without a code.
  for (const peer of server.clients)
    if (code === 1005) peer.close();
    else peer.close(code, `bye ${code}`);
  const event = await disconnect;
  // Long enough for several reconnects at 10 ms if the policy allowed them.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const reconnected = server.connections > connectionsBefore;
  const state = socket.readyState;
  await socket.close();
  return { event, closes, reconnected, state };
}

describe('close-code policy', () => {
  it.each([1001, 1005, 1011, 1012, 1013, 1014])('reconnects after %i', async (code) => {
    const { event, reconnected, closes } = await closeWith(code);
    expect(event).toMatchObject({ code, reason: code === 1005 ? '' : `bye ${code}`, willReconnect: true });
    expect(reconnected).toBe(true);
    expect(closes).toHaveLength(1); // only the final close() of the test
  });

  it.each([1000, 1003, 1008, 4000, 4999])('stops for good after %i, with a final close event', async (code) => {
    const { event, reconnected, closes, state } = await closeWith(code);
    expect(event).toMatchObject({ code, willReconnect: false });
    expect(reconnected).toBe(false);
    expect(state).toBe(ReconnectingWebSocket.CLOSED);
    expect(closes).toHaveLength(1);
    expect(closes[0]).toMatchObject({ code, reason: `bye ${code}`, wasClean: true });
    expect(closes[0]!.fault?.code).toBe(`WS_${code}`);
  });

  it('reconnects after an application code when shouldReconnect says so', async () => {
    const seen: unknown[] = [];
    const { reconnected } = await closeWith(4001, {
      shouldReconnect: (fault, context) => {
        seen.push([fault.code, context.closeCode]);
        return context.closeCode === 4001;
      },
    });
    expect(reconnected).toBe(true);
    expect(seen[0]).toEqual(['WS_4001', 4001]);
  });

  it("the fault of a loss is the same in 'disconnect', 'reconnecting' and 'give-up', and shouldReconnect is asked once per loss", async () => {
    const asked: [string, number | undefined][] = [];
    const socket = new ReconnectingWebSocket(server.url, {
      schedule: constant(10),
      minUptimeMs: 0,
      shouldReconnect: (fault, context) => (asked.push([fault.code, context.closeCode]), context.closeCode === 1012),
    });
    const disconnects: DisconnectEvent[] = [];
    const reconnecting: ReconnectingEvent[] = [];
    const giveUps: GiveUpEvent[] = [];
    socket.on('disconnect', (event) => disconnects.push(event));
    socket.on('reconnecting', (event) => reconnecting.push(event));
    socket.on('give-up', (event) => giveUps.push(event));
    await new Promise((resolve) => socket.once('open', resolve));
    for (const peer of server.clients) peer.close(1012, 'restarting');
    await new Promise((resolve) => socket.once('open', resolve));
    for (const peer of server.clients) peer.close(1008, 'forbidden');
    await new Promise((resolve) => socket.once('close', resolve));
    expect(disconnects.map((event) => [event.code, event.willReconnect])).toEqual([
      [1012, true],
      [1008, false],
    ]);
    // Close codes that an error object could not carry reach the Supervisor's events as they were classified here.
    expect(reconnecting[0]!.fault).toBe(disconnects[0]!.fault);
    expect(giveUps).toHaveLength(1);
    expect(giveUps[0]!.fault).toBe(disconnects[1]!.fault);
    expect(asked).toEqual([
      ['WS_1012', 1012],
      ['WS_1008', 1008],
    ]);
    await socket.close();
  });

  it('1009 from a server with a small maxPayload is a non-transient payload fault with a hint, not retried blindly', async () => {
    const small = await startServer({ ws: { maxPayload: 64 } });
    const socket = new ReconnectingWebSocket(small.url, { schedule: constant(10), minUptimeMs: 0 });
    await new Promise((resolve) => socket.once('open', resolve));
    const closed = new Promise<CloseEvent>((resolve) => socket.once('close', resolve));
    const disconnects: DisconnectEvent[] = [];
    socket.on('disconnect', (event) => disconnects.push(event));
    socket.send('x'.repeat(1000));
    const event = await closed;
    expect(disconnects).toHaveLength(1);
    expect(disconnects[0]).toMatchObject({ code: 1009, willReconnect: false, unconfirmed: { messages: 1, bytes: 1000 } });
    expect(event.code).toBe(1009);
    expect(event.fault).toMatchObject({ code: 'WS_1009', transient: false });
    expect(event.fault!.hint).toMatch(/maxPayload|payload/i);
    await waitFor(() => small.clients.size === 0, 'server side closed');
    expect(small.connections).toBe(1);
    await socket.close();
    await small.stop();
  });

  it('a close frame that arrives while onConnect finishes is a loss like any other: the socket reconnects', async () => {
    let greeted = 0;
    const flaky = await startServer({
      echo: false,
      onConnection: (peer) => {
        peer.on('message', () => {
          // The handshake's answer; the first connection also closes at once, so the client reads the greeting
          // and the close frame in one turn: onConnect resolves on the greeting with the socket already CLOSING.
          peer.send('hello');
          if (++greeted === 1) peer.close(1012, 'restarting');
        });
      },
    });
    const socket = new ReconnectingWebSocket(flaky.url, {
      schedule: constant(10),
      onConnect: ({ socket: raw, send }) =>
        new Promise<void>((resolve) => {
          raw.once('message', () => resolve());
          send('ready');
        }),
    });
    const disconnects: DisconnectEvent[] = [];
    socket.on('disconnect', (event) => disconnects.push(event));
    await waitFor(() => flaky.connections >= 2 && socket.readyState === ReconnectingWebSocket.OPEN, 'the second connection, open', 5000);
    expect(disconnects.map((event) => [event.code, event.willReconnect])).toEqual([[1012, true]]);
    await socket.close();
    await flaky.stop();
  });
});
