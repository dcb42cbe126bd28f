import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket, type ServerOptions } from 'ws';

/** A real ws server on loopback that records what it receives, and can be stopped and started again on the same port. */
export interface TestServer {
  readonly port: number;
  readonly url: string;
  readonly wss: WebSocketServer;
  /** Text messages received, in order, across every connection. */
  readonly received: string[];
  /** Server-side sockets currently open. */
  readonly clients: Set<WebSocket>;
  connections: number;
  /** Stops abruptly: every client socket is destroyed, the port is released. */
  stop(): Promise<void>;
}

export interface TestServerOptions {
  readonly port?: number;
  readonly host?: string;
  readonly ws?: Omit<ServerOptions, 'server' | 'port' | 'noServer'>;
  /** Replies to every text message with the same text (default true). */
  readonly echo?: boolean;
  readonly onConnection?: (socket: WebSocket) => void;
}

export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const host = options.host ?? '127.0.0.1';
  const http: Server = createServer();
  const wss = new WebSocketServer({ ...options.ws, server: http });
  const received: string[] = [];
  const clients = new Set<WebSocket>();
  const state = { connections: 0 };
  wss.on('connection', (socket) => {
    state.connections++;
    clients.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => clients.delete(socket));
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      const text = (data as Buffer).toString();
      received.push(text);
      if (options.echo !== false && socket.readyState === 1) socket.send(text);
    });
    options.onConnection?.(socket);
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const server: TestServer = {
    port,
    url: `ws://${host.includes(':') ? `[${host}]` : host}:${port}`,
    wss,
    received,
    clients,
    get connections() {
      return state.connections;
    },
    set connections(n: number) {
      state.connections = n;
    },
    async stop() {
      for (const socket of clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return server;
}

/** Counts of active handles by type, to prove `close()` leaves nothing behind. */
export function activeHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/** Waits until `condition()` holds, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
