import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { closeServer, listen } from './listen.js';

/**
 * A WebSocket server on loopback that can be restarted on the same port.
 * It counts the connections it accepts (with their times, to see a herd),
 * the messages each client (`?id=`) sent it, and can push a numbered tick to
 * every client.
 */
export interface DemoWsServer {
  readonly port: number;
  readonly url: string;
  /** performance.now() of each accepted upgrade. */
  readonly accepts: number[];
  /** Distinct messages received per client id. */
  readonly received: Map<string, Set<string>>;
  readonly clients: number;
  /** Closes every connection with `code` and stops listening. */
  stop(code?: number): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Sends `tick <n>` to every open client. */
  tick(): void;
  close(): Promise<void>;
}

export async function startWsServer(): Promise<DemoWsServer> {
  const accepts: number[] = [];
  const received = new Map<string, Set<string>>();
  const peers = new Set<WebSocket>();
  let http: Server | undefined;
  let wss: WebSocketServer | undefined;
  let sockets = new Set<Socket>();
  let port = 0;
  let ticks = 0;

  const start = async (): Promise<void> => {
    http = createServer();
    sockets = new Set();
    const own = sockets;
    http.on('connection', (socket) => {
      own.add(socket);
      socket.once('close', () => own.delete(socket));
    });
    wss = new WebSocketServer({ server: http });
    wss.on('connection', (peer, req) => {
      accepts.push(performance.now());
      peers.add(peer);
      const id = new URL(req.url ?? '/', 'http://x').searchParams.get('id') ?? '?';
      const set = received.get(id) ?? new Set<string>();
      received.set(id, set);
      peer.on('message', (data: Buffer) => set.add(data.toString()));
      peer.on('close', () => peers.delete(peer));
      peer.on('error', () => undefined);
    });
    wss.on('error', () => undefined);
    port = await listen(http, port);
  };

  const stop = async (code = 1012): Promise<void> => {
    for (const peer of peers) peer.close(code, 'restarting');
    peers.clear();
    const [server, ws] = [http, wss];
    http = undefined;
    wss = undefined;
    ws?.close();
    if (server !== undefined) await closeServer(server, sockets);
  };

  await start();
  return {
    port,
    get url() {
      return `ws://127.0.0.1:${port}`;
    },
    accepts,
    received,
    get clients() {
      return peers.size;
    },
    stop,
    start,
    tick() {
      ticks++;
      for (const peer of peers) if (peer.readyState === peer.OPEN) peer.send(`tick ${ticks}`);
    },
    close: () => stop(1001),
  };
}
