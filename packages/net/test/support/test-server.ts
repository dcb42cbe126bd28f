import net from 'node:net';
import tls from 'node:tls';

export type Framing = 'raw' | 'lines' | 'length-prefixed';

export interface TestServerOptions {
  readonly framing: Framing;
  /** Called once per received message (chunk, for raw) with a function to answer on the same connection. */
  readonly onMessage?: (message: Buffer, reply: (answer: string | Buffer) => void, socket: net.Socket) => void;
  /** Serve TLS with this key and certificate. */
  readonly tls?: { key: string; cert: string };
  readonly host?: string;
}

function frame(framing: Framing, payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  if (framing === 'raw') return body;
  if (framing === 'lines') return Buffer.concat([body, Buffer.from('\n')]);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

/** Splits a byte stream into frames, the way a peer speaking the protocol would (independent of the package's decoder). */
function splitter(framing: Framing, sink: (message: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    if (framing === 'raw') {
      sink(chunk);
      return;
    }
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (framing === 'lines') {
        const end = pending.indexOf(0x0a);
        if (end === -1) return;
        sink(pending.subarray(0, end));
        pending = pending.subarray(end + 1);
      } else {
        if (pending.length < 4) return;
        const size = pending.readUInt32BE(0);
        if (pending.length < 4 + size) return;
        sink(pending.subarray(4, 4 + size));
        pending = pending.subarray(4 + size);
      }
    }
  };
}

/**
 * A real server on loopback speaking one framing, that can be stopped and
 * started again on the same port (a restart), and whose connections can be
 * reset (a real RST, `resetAndDestroy()`).
 */
export class TestServer {
  readonly framing: Framing;
  readonly received: Buffer[] = [];
  readonly connections = new Set<net.Socket>();
  accepted = 0;
  port = 0;
  readonly #options: TestServerOptions;
  #server: net.Server | undefined;
  #raw: net.Socket[] = [];

  constructor(options: TestServerOptions) {
    this.framing = options.framing;
    this.#options = options;
  }

  get host(): string {
    return this.#options.host ?? '127.0.0.1';
  }

  async start(): Promise<this> {
    const onConnection = (socket: net.Socket): void => {
      this.accepted++;
      this.connections.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => this.connections.delete(socket));
      const reply = (answer: string | Buffer): void => {
        if (!socket.destroyed) socket.write(frame(this.framing, answer));
      };
      socket.on(
        'data',
        splitter(this.framing, (message) => {
          // A connection this server reset processes nothing more, like a crashed handler.
          if (socket.destroyed) return;
          this.received.push(Buffer.from(message));
          this.#options.onMessage?.(message, reply, socket);
        }),
      );
    };
    const server = this.#options.tls === undefined ? net.createServer(onConnection) : tls.createServer(this.#options.tls, onConnection);
    server.on('error', () => {});
    // TLS sockets cannot be reset themselves; the TCP socket under them can.
    if (this.#options.tls !== undefined) server.on('connection', (raw: net.Socket) => this.#raw.push(raw));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.#server = server;
    return this;
  }

  /** Stops listening and resets every open connection, as a crashing server would. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.resetAll();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  resetAll(): void {
    for (const socket of this.connections) this.reset(socket);
  }

  /** Sends a real RST on a connection (on the TCP socket under it, for TLS). */
  reset(socket: net.Socket): void {
    if (this.#options.tls === undefined) {
      socket.resetAndDestroy();
      return;
    }
    for (const raw of this.#raw.splice(0)) if (!raw.destroyed) raw.resetAndDestroy();
    socket.destroy();
  }

  /** Frames for the server's protocol (for tests that write by hand). */
  frame(payload: string | Buffer): Buffer {
    return frame(this.framing, payload);
  }

  texts(): string[] {
    return this.received.map((b) => b.toString());
  }
}
