/**
 * @holdfast/ws beside raw ws, reconnecting-websocket 4.4 and partysocket 1.3
 * (both given ws as their WebSocket), in the same run: throughput, recovery
 * after a server restart, the herd after a restart, memory per idle connection.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { exponential } from '@holdfast/core';
import { ReconnectingWebSocket } from '@holdfast/ws';
import { alternate, fmt, median, percentile, printTable, type BenchOptions } from './lib/report.js';

// The transport and the peers are dependencies of packages/ws, not of the repository root.
const require = createRequire(new URL('../../packages/ws/package.json', import.meta.url));
const WebSocket = require('ws') as WsModule;
const PeerReconnecting = require('reconnecting-websocket') as new (url: string, protocols?: unknown, options?: object) => PeerSocket;
// partysocket's CommonJS build puts its ReconnectingWebSocket class on `WebSocket.default`.
const PartySocket = (require('partysocket') as { WebSocket: { default: new (url: string, protocols?: unknown, options?: object) => PeerSocket } }).WebSocket.default;

/** The part of ws used here (its types live with packages/ws). */
interface WsSocket {
  readyState: number;
  send(data: string): void;
  close(): void;
  terminate(): void;
  on(event: 'open' | 'close', listener: () => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  once(event: 'close', listener: () => void): void;
}
interface WsModule {
  new (url: string): WsSocket;
  readonly CLOSED: number;
  WebSocketServer: new (options: { server: Server }) => {
    clients: Set<WsSocket>;
    close(callback: () => void): void;
    on(event: 'connection', listener: (socket: WsSocket) => void): void;
  };
}

interface PeerSocket {
  send(data: string): void;
  close(): void;
  readyState: number;
  addEventListener(type: string, listener: (event: never) => void): void;
}

/** What every contender is reduced to: send, and know when it is open. */
interface Client {
  send(data: string): void;
  onOpen(listener: () => void): void;
  close(): Promise<void>;
}

type Name = 'raw ws' | 'holdfast' | 'reconnecting-websocket' | 'partysocket';
const CONTENDERS: readonly Name[] = ['raw ws', 'holdfast', 'reconnecting-websocket', 'partysocket'];
const RECONNECTING: readonly Name[] = ['holdfast', 'reconnecting-websocket', 'partysocket'];

interface BenchServer {
  port: number;
  received: number;
  onMessage: ((text: string) => void) | undefined;
  stop(): Promise<void>;
}

async function startServer(port = 0): Promise<BenchServer> {
  const http: Server = createServer();
  const wss = new WebSocket.WebSocketServer({ server: http });
  const state: BenchServer = {
    port: 0,
    received: 0,
    onMessage: undefined,
    async stop() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  wss.on('connection', (socket) => {
    socket.on('error', () => {});
    socket.on('message', (data) => {
      state.received++;
      state.onMessage?.(data.toString());
    });
  });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  state.port = (http.address() as AddressInfo).port;
  return state;
}

function connect(name: Name, url: string, holdfastOptions: ConstructorParameters<typeof ReconnectingWebSocket>[1] = {}, peerOptions: object = {}): Client {
  if (name === 'raw ws') {
    const socket = new WebSocket(url);
    socket.on('error', () => {});
    return {
      send: (data) => socket.send(data),
      onOpen: (listener) => socket.on('open', listener),
      close: () => new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) resolve();
        else {
          socket.once('close', () => resolve());
          socket.close();
        }
      }),
    };
  }
  if (name === 'holdfast') {
    const socket = new ReconnectingWebSocket(url, holdfastOptions);
    return { send: (data) => socket.send(data), onOpen: (listener) => socket.on('open', listener), close: () => socket.close() };
  }
  const Peer = name === 'partysocket' ? PartySocket : PeerReconnecting;
  const socket = new Peer(url, [], { WebSocket, ...peerOptions });
  socket.addEventListener('error', () => {});
  return {
    send: (data) => socket.send(data),
    onOpen: (listener) => socket.addEventListener('open', listener),
    close: () => {
      socket.close();
      return Promise.resolve();
    },
  };
}

const opened = (client: Client): Promise<void> => new Promise((resolve) => client.onOpen(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function throughput(smoke: boolean): Promise<void> {
  const messages = smoke ? 2000 : 100_000;
  const payload = 'x'.repeat(64);
  const server = await startServer();
  const url = `ws://127.0.0.1:${server.port}`;
  const rounds = await alternate(CONTENDERS, smoke ? 2 : 10, async (name) => {
    const client = connect(name, url, { heartbeat: false });
    await opened(client);
    server.received = 0;
    const done = new Promise<void>((resolve) => {
      server.onMessage = () => {
        if (server.received === messages) resolve();
      };
    });
    const started = performance.now();
    for (let i = 0; i < messages; i++) {
      client.send(payload);
      // Yield now and then so the socket drains as it would in a real producer.
      if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
    await done;
    const seconds = (performance.now() - started) / 1000;
    await client.close();
    return messages / seconds;
  });
  await server.stop();
  const raw = median(rounds['raw ws']);
  console.log(`\nthroughput: ${fmt(messages)} messages of 64 B, client to server, medians of ${rounds['raw ws'].length} alternating rounds`);
  printTable(
    ['client', 'messages/s', 'MB/s', 'x raw ws'],
    CONTENDERS.map((name) => {
      const rate = median(rounds[name]);
      return [name, fmt(rate), fmt((rate * 64) / 1e6, 2), fmt(rate / raw, 3)];
    }),
  );
}

async function recovery(smoke: boolean): Promise<void> {
  const restarts = smoke ? 3 : 50;
  const downMs = 200;
  const firstStepMs = 100;
  const results: Record<string, number[]> = {};
  for (const name of RECONNECTING) {
    let server = await startServer();
    const port = server.port;
    const client = connect(
      name,
      `ws://127.0.0.1:${port}`,
      { schedule: exponential({ initialMs: firstStepMs, factor: 2, maxMs: 2000 }), minUptimeMs: 0, heartbeat: false },
      { minReconnectionDelay: firstStepMs, maxReconnectionDelay: 2000, reconnectionDelayGrowFactor: 2 },
    );
    await opened(client);
    const times: number[] = [];
    for (let i = 0; i < restarts; i++) {
      await server.stop();
      await sleep(downMs);
      // Sent while down: delivered once the client is back (each of the three queues it).
      client.send(`restart ${i}`);
      server = await startServer(port);
      const upAt = performance.now();
      await new Promise<void>((resolve) => {
        server.onMessage = (text) => text === `restart ${i}` && resolve();
      });
      times.push(performance.now() - upAt);
    }
    await client.close();
    await server.stop();
    results[name] = times;
  }
  console.log(`\nrecovery: server down ${downMs} ms, ${restarts} restarts; time from the server listening again to the message sent while down arriving`);
  console.log(`(each client's first backoff step is ${firstStepMs} ms, doubling: holdfast with full jitter, the peers without)`);
  printTable(
    ['client', 'p50 ms', 'p99 ms'],
    RECONNECTING.map((name) => [name, fmt(median(results[name]!), 1), fmt(percentile(results[name]!, 99), 1)]),
  );
}

/** The most values in any window of `widthMs`. */
function busiestWindow(times: readonly number[], widthMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= widthMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

async function herd(smoke: boolean): Promise<void> {
  const clients = smoke ? 40 : 1000;
  const downMs = 1000;
  const rows: (string | number)[][] = [];
  for (const name of RECONNECTING) {
    let server = await startServer();
    const port = server.port;
    const fleet = Array.from({ length: clients }, () => connect(name, `ws://127.0.0.1:${port}`, { heartbeat: false }));
    await Promise.all(fleet.map(opened));
    const reopened: number[] = [];
    let upAt = 0;
    for (const client of fleet) client.onOpen(() => upAt > 0 && reopened.push(performance.now() - upAt));
    await server.stop();
    await sleep(downMs);
    server = await startServer(port);
    upAt = performance.now();
    const deadline = upAt + 20_000;
    while (reopened.length < clients && performance.now() < deadline) await sleep(20);
    await Promise.all(fleet.map((client) => client.close()));
    await server.stop();
    const busiest = busiestWindow(reopened, 100);
    rows.push([
      name,
      `${reopened.length}/${clients}`,
      busiest,
      `${fmt((100 * busiest) / clients, 1)} %`,
      fmt(reopened.length === 0 ? Number.NaN : Math.max(...reopened)),
    ]);
  }
  console.log(`\nherd: ${clients} clients, default settings, server down ${downMs} ms; reconnects counted from the server listening again`);
  printTable(['client', 'back', 'most in 100 ms', 'share', 'last back ms'], rows);
}

async function memory(smoke: boolean): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const connections = smoke ? 20 : 1000;
  const server = await startServer();
  const rows: (string | number)[][] = [];
  for (const name of ['raw ws', 'holdfast'] as const) {
    gc();
    const before = process.memoryUsage();
    const fleet = Array.from({ length: connections }, () => connect(name, `ws://127.0.0.1:${server.port}`));
    await Promise.all(fleet.map(opened));
    gc();
    const after = process.memoryUsage();
    rows.push([name, fmt((after.heapUsed - before.heapUsed) / connections), fmt((after.rss - before.rss) / connections)]);
    await Promise.all(fleet.map((client) => client.close()));
  }
  await server.stop();
  console.log(`\nmemory: ${connections} idle connections (client and server in one process; the server's share is the same for both)`);
  printTable(['client', 'heap B/connection', 'RSS B/connection'], rows);
}

export default async function ({ smoke }: BenchOptions): Promise<void> {
  await throughput(smoke);
  await recovery(smoke);
  await herd(smoke);
  await memory(smoke);
}
