/**
 * Real loopback peers for the chaos proxy's tests: an echo server, a server
 * that sends a fixed payload, and a client that records everything it sees.
 */
import { createHook } from 'node:async_hooks';
import net from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

export interface TestServer {
  readonly server: Server;
  readonly port: number;
  /** Sockets the server accepted (to check what reached it). */
  readonly sockets: Socket[];
  /** Errors seen on accepted sockets, by code. */
  readonly errors: string[];
  /** Bytes received by the server across all connections. */
  received(): number;
  close(): Promise<void>;
}

export async function startServer(onSocket: (socket: Socket) => void, host = '127.0.0.1'): Promise<TestServer> {
  const sockets: Socket[] = [];
  const errors: string[] = [];
  let received = 0;
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    socket.on('data', (d: Buffer) => (received += d.length));
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    sockets,
    errors,
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Echoes every byte back. */
export function startEchoServer(host?: string): Promise<TestServer> {
  return startServer((socket) => socket.pipe(socket), host);
}

/** Sends `payload` as soon as a client connects, then ends (FIN) unless told to stay open. */
export function startSendingServer(payload: Buffer, options: { end?: boolean } = {}): Promise<TestServer> {
  return startServer((socket) => {
    if (options.end === false) socket.write(payload);
    else socket.end(payload);
  });
}

export interface RecordingClient {
  readonly socket: Socket;
  readonly chunks: Buffer[];
  /** performance.now() of each chunk. */
  readonly times: number[];
  data(): Buffer;
  /** Resolves with how the connection ended: 'end' (FIN), an error code, or 'close'. */
  readonly finished: Promise<{ how: string; at: number }>;
  /** Resolves once at least `bytes` have arrived. */
  waitFor(bytes: number): Promise<void>;
}

export function connectRecording(port: number, host = '127.0.0.1'): Promise<RecordingClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host });
    const chunks: Buffer[] = [];
    const times: number[] = [];
    const waiters: { bytes: number; resolve: () => void }[] = [];
    let total = 0;
    let settle: (v: { how: string; at: number }) => void = () => undefined;
    const finished = new Promise<{ how: string; at: number }>((r) => (settle = r));
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      times.push(performance.now());
      total += d.length;
      for (const w of [...waiters]) if (total >= w.bytes) w.resolve();
    });
    socket.on('end', () => settle({ how: 'end', at: performance.now() }));
    socket.on('error', (e: NodeJS.ErrnoException) => settle({ how: e.code ?? e.message, at: performance.now() }));
    socket.on('close', () => settle({ how: 'close', at: performance.now() }));
    socket.once('connect', () =>
      resolve({
        socket,
        chunks,
        times,
        data: () => Buffer.concat(chunks),
        finished,
        waitFor: (bytes) =>
          new Promise<void>((r) => {
            if (total >= bytes) r();
            else waiters.push({ bytes, resolve: r });
          }),
      }),
    );
    socket.once('error', reject);
  });
}

/** Connects and reports how the attempt went: 'connected', or the error code. */
export function tryConnect(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      // A proxy in reset mode accepts, then resets: give the RST a moment to arrive.
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      socket.once('end', () => resolve('end'));
      setTimeout(() => {
        resolve('connected');
        socket.destroy();
      }, 200).unref();
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `check()` is true, polling; fails after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Handle kinds that tests must leave as they found them. */
export function countHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind === 'TCPSocketWrap' || kind === 'TCPServerWrap' || kind === 'Timeout') counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

/**
 * Counts timers created by code whose path contains `pathPart` that have
 * neither fired nor been cleared (async_hooks reports both as 'destroy').
 */
export function trackTimersFrom(pathPart: string): { live(): number; stop(): void } {
  const live = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout') return;
      const stack = new Error().stack ?? '';
      if (stack.includes(pathPart)) live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  });
  hook.enable();
  return { live: () => live.size, stop: () => hook.disable() };
}
