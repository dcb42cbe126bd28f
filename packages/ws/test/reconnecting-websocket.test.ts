import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { constant } from '@holdfast/core';
import { DEFAULT_WS_SCHEDULE, ReconnectingWebSocket, type WebMessageEvent, type ReconnectingWebSocketEvents } from '@holdfast/ws';
import { activeHandles, startServer, waitFor, type TestServer } from './support/ws-server.js';
import { failOnEscapes } from './support/escapes.js';

type OpenEvent = ReconnectingWebSocketEvents['open'];

failOnEscapes();

let server: TestServer;

beforeEach(async () => {
  server = await startServer();
});

afterEach(async () => {
  await server.stop();
});

function nextEvent<T>(socket: ReconnectingWebSocket, name: 'open' | 'close' | 'disconnect'): Promise<T> {
  return new Promise((resolve) => socket.once(name, resolve as never));
}

describe('ReconnectingWebSocket against a real server', () => {
  it('opens, sends and receives like a WebSocket, with Node events and browser-style listeners', async () => {
    const socket = new ReconnectingWebSocket(server.url);
    expect(socket.readyState).toBe(ReconnectingWebSocket.CONNECTING);
    const opened = await nextEvent<OpenEvent>(socket, 'open');
    expect(opened).toMatchObject({ event: 'open', attempt: 1, url: server.url });
    expect(socket.readyState).toBe(socket.OPEN);

    const nodeMessages: string[] = [];
    const webMessages: unknown[] = [];
    const handlerMessages: unknown[] = [];
    socket.on('message', (data, isBinary) => {
      expect(isBinary).toBe(false);
      nodeMessages.push((data as Buffer).toString());
    });
    socket.addEventListener('message', (event: WebMessageEvent) => webMessages.push(event.data));
    socket.onmessage = (event) => handlerMessages.push(event.data);
    expect(socket.send('hello')).toBe(true);
    expect(socket.send('world')).toBe(true);
    await waitFor(() => nodeMessages.length === 2, 'two echoes');
    expect(nodeMessages).toEqual(['hello', 'world']);
    // Text frames reach browser-style listeners as strings, as in a browser.
    expect(webMessages).toEqual(['hello', 'world']);
    expect(handlerMessages).toEqual(['hello', 'world']);

    const closes: unknown[] = [];
    socket.onclose = (event) => closes.push(event.code);
    await socket.close();
    expect(socket.readyState).toBe(socket.CLOSED);
    expect(closes).toEqual([1000]);
  });

  it('honours binaryType for binary frames', async () => {
    server.wss.on('connection', (peer) => peer.send(Buffer.from([1, 2, 3])));
    const socket = new ReconnectingWebSocket(server.url);
    socket.binaryType = 'arraybuffer';
    const data = await new Promise<unknown>((resolve) => socket.on('message', (payload, isBinary) => isBinary && resolve(payload)));
    expect(data).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(data as ArrayBuffer)]).toEqual([1, 2, 3]);
    await socket.close();
  });

  it('queues what is sent before the connection opens and flushes it after onConnect, in order', async () => {
    const socket = new ReconnectingWebSocket(server.url, {
      onConnect: async ({ send, attempt, signal }) => {
        expect(attempt).toBe(1);
        expect(signal.aborted).toBe(false);
        // A resubscription that needs a round trip still goes first.
        await new Promise((resolve) => setTimeout(resolve, 20));
        send('subscribe');
      },
    });
    socket.send('queued-1');
    socket.send('queued-2');
    expect(socket.bufferedAmount).toBe(16);
    await nextEvent(socket, 'open');
    socket.send('after-open');
    await waitFor(() => server.received.length === 4, 'four messages at the server');
    expect(server.received).toEqual(['subscribe', 'queued-1', 'queued-2', 'after-open']);
    expect(socket.stats()).toMatchObject({ connects: 1, sent: 4, queued: 0, dropped: { total: 0 } });
    await socket.close();
  });

  it('resolves a URL provider before every attempt and keeps credentials out of events', async () => {
    const urls: string[] = [];
    let token = 0;
    const socket = new ReconnectingWebSocket(
      () => {
        const url = `${server.url}/feed?token=secret${++token}`;
        urls.push(url);
        return url;
      },
      { schedule: constant(10), minUptimeMs: 0 },
    );
    const first = await nextEvent<OpenEvent>(socket, 'open');
    expect(first.url).not.toContain('secret');
    expect(socket.url).not.toContain('secret');
    for (const peer of server.clients) peer.terminate();
    await nextEvent(socket, 'open');
    expect(urls).toEqual([`${server.url}/feed?token=secret1`, `${server.url}/feed?token=secret2`]);
    await socket.close();
  });

  it('close() while connecting, while waiting and while open leaves no socket or timer behind', async () => {
    const before = activeHandles();
    const connecting = new ReconnectingWebSocket(server.url);
    await connecting.close();

    const open = new ReconnectingWebSocket(server.url, { heartbeat: { intervalMs: 50, timeoutMs: 50 } });
    await nextEvent(open, 'open');
    await open.close();

    const refused = await startServer();
    const refusedUrl = refused.url;
    await refused.stop();
    const waiting = new ReconnectingWebSocket(refusedUrl, { schedule: constant(10_000) });
    await new Promise<void>((resolve) => waiting.once('reconnecting', () => resolve()));
    await waiting.close();

    await waitFor(() => server.clients.size === 0, 'server side sockets closed');
    // Handles are released by libuv a tick or two after close; a leak never is.
    const kinds = ['TCPSocketWrap', 'TCPServerWrap', 'ConnectWrap', 'Timeout'];
    const released = (): boolean => kinds.every((type) => (activeHandles()[type] ?? 0) <= (before[type] ?? 0));
    await waitFor(released, 'every handle released', 2000).catch(() => undefined);
    const after = activeHandles();
    for (const type of kinds) expect(`${type}: ${after[type] ?? 0}`).toBe(`${type}: ${Math.min(after[type] ?? 0, before[type] ?? 0)}`);
  });

  it('drops (with an event) what is sent after close()', async () => {
    const socket = new ReconnectingWebSocket(server.url);
    await nextEvent(socket, 'open');
    await socket.close();
    const drops: unknown[] = [];
    socket.on('drop', (event) => drops.push(event.reason));
    expect(socket.send('late')).toBe(false);
    expect(drops).toEqual(['closed']);
    expect(socket.stats().dropped.closed).toBe(1);
  });

  it('validates its options at construction, naming the option and what is accepted; unknown ones are refused with a hint', () => {
    expect(() => new ReconnectingWebSocket('http://[bad')).toThrow(/url must be a ws:, wss:, http: or https: URL/);
    expect(() => new ReconnectingWebSocket('ftp://user:pw@example.com')).toThrow(/got an invalid URL string/);
    expect(() => new ReconnectingWebSocket('ftp://user:pw@example.com')).not.toThrow(/pw/);
    expect(() => new ReconnectingWebSocket(server.url, { heartbeat: { intervalMs: 0 } })).toThrow(
      "ReconnectingWebSocket: option 'heartbeat.intervalMs' must be an integer number of milliseconds from 1 to 2147483647, got 0",
    );
    expect(() => new ReconnectingWebSocket(server.url, { queue: { overflow: 'lose' as never } })).toThrow(
      `option 'queue.overflow' must be 'reject', 'drop-oldest' or 'drop-newest', got "lose"`,
    );
    expect(() => new ReconnectingWebSocket(server.url, { maxAttempts: 0 })).toThrow(
      "option 'maxAttempts' must be an integer >= 1, or Infinity, got 0",
    );
    expect(() => new ReconnectingWebSocket(server.url, { onConnect: 'x' as never })).toThrow("option 'onConnect' must be a function");
    expect(() => new ReconnectingWebSocket(server.url, { minUptime: 10 } as never)).toThrow(
      "ReconnectingWebSocket: unknown option 'minUptime' (did you mean minUptimeMs?)",
    );
    expect(() => new ReconnectingWebSocket(server.url, { queue: { maxItem: 10 } } as never)).toThrow(
      "unknown option 'queue.maxItem' (did you mean maxItems?)",
    );
    expect(() => new ReconnectingWebSocket(server.url, { heartbeat: { interval: 10 } } as never)).toThrow(
      "unknown option 'heartbeat.interval' (did you mean intervalMs?)",
    );
  });

  it('the old option names work for one release, each with one DeprecationWarning', async () => {
    const warnings: (Error & { code?: string })[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const hooked: number[] = [];
      const socket = new ReconnectingWebSocket(server.url, {
        onOpen: ({ attempt }) => void hooked.push(attempt),
        queue: { maxMessages: 1 },
        schedule: DEFAULT_WS_SCHEDULE,
      });
      socket.send('first');
      socket.send('second'); // the queue holds one: 'first' is dropped
      await nextEvent(socket, 'open');
      await waitFor(() => server.received.length === 1, 'the queued message');
      expect(hooked).toEqual([1]);
      expect(server.received).toEqual(['second']);
      expect(socket.stats().dropped).toMatchObject({ overflow: 1, total: 1 });
      expect(() => new ReconnectingWebSocket(server.url, { onOpen: () => {}, onConnect: () => {} })).toThrow(
        "give 'onConnect' or its old name 'onOpen', not both",
      );
      await socket.close();
      expect(DEFAULT_WS_SCHEDULE.next({ attempt: 1, previousDelayMs: 0, random: () => 0.5 })).toBe(1000);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    const codes = warnings.filter((w) => w.name === 'DeprecationWarning').map((w) => w.code);
    expect(codes.sort()).toEqual(['HOLDFAST_DEP003', 'HOLDFAST_DEP009', 'HOLDFAST_DEP010']);
  });

  it("EventEmitter's addListener/removeListener/removeAllListeners still work for one release, with one DeprecationWarning", async () => {
    const warnings: (Error & { code?: string })[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const socket = new ReconnectingWebSocket(server.url);
      const messages: string[] = [];
      const onMessage = (data: Buffer): void => void messages.push(data.toString());
      /* eslint-disable @typescript-eslint/no-deprecated -- the old names, on purpose */
      socket.addListener('message', onMessage);
      await nextEvent(socket, 'open');
      socket.send('one');
      await waitFor(() => messages.length === 1, 'the echo');
      socket.removeListener('message', onMessage);
      socket.send('two');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(messages).toEqual(['one']);
      socket.removeAllListeners();
      /* eslint-enable @typescript-eslint/no-deprecated */
      await socket.close();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'DeprecationWarning').map((w) => w.code)).toEqual(['HOLDFAST_DEP014']);
  });
});
