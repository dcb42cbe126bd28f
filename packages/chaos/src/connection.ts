import net from 'node:net';
import type { Socket } from 'node:net';
import type { ChaosConnectionInfo, ChaosProxyEvents } from './events.js';
import { Link } from './link.js';
import type { LinkEvents } from './link.js';
import { resetSocket } from './reset-socket.js';
import type { StageEnvironment } from './stage.js';
import type { StatsCounters } from './stats.js';
import type { Toxic, ToxicStream } from './toxic.js';

/** What a connection needs from its proxy. */
export interface ConnectionContext {
  readonly upstream: { readonly host: string; readonly port: number };
  readonly stats: StatsCounters;
  readonly env: StageEnvironment;
  emit<K extends keyof ChaosProxyEvents>(name: K, payload: ChaosProxyEvents[K]): void;
  closed(connection: ProxiedConnection): void;
}

// A connection closed gracefully is destroyed once our FIN is out; if the
// peer stops reading and the FIN never leaves, it is destroyed after this.
const GRACEFUL_CLOSE_LIMIT_MS = 1000;

/**
 * A client socket, the socket the proxy dialed to the upstream for it, and
 * the two links between them. Whatever happens to one side happens to the
 * other as a real network would show it: a FIN is forwarded as a FIN, a
 * reset or an error as a RST.
 */
export class ProxiedConnection {
  readonly id: number;
  readonly openedAt = Date.now();
  /** Resolves when both sockets are closed. */
  readonly done: Promise<void>;
  #client: Socket;
  #upstream: Socket;
  #links: Record<ToxicStream, Link>;
  #context: ConnectionContext;
  #state: 'open' | 'ending' | 'closed' = 'open';
  #openSockets = 2;
  #closeTimers: NodeJS.Timeout[] = [];
  #resolveDone: () => void = () => undefined;
  #clientAddress: { address: string; port: number };

  constructor(id: number, client: Socket, toxics: Iterable<Toxic>, context: ConnectionContext) {
    this.id = id;
    this.#client = client;
    this.#context = context;
    this.#clientAddress = { address: client.remoteAddress ?? '', port: client.remotePort ?? 0 };
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    const upstream = net.connect({
      host: context.upstream.host,
      port: context.upstream.port,
      allowHalfOpen: true,
      noDelay: true,
    });
    this.#upstream = upstream;
    this.#links = {
      upstream: new Link('upstream', client, upstream, this.#linkEvents('upstream'), context.env),
      downstream: new Link('downstream', upstream, client, this.#linkEvents('downstream'), context.env),
    };
    this.#wire(client, 'client', this.#links.upstream);
    this.#wire(upstream, 'upstream', this.#links.downstream);
    for (const toxic of toxics) this.applyToxic(toxic);
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  info(): ChaosConnectionInfo {
    return {
      id: this.id,
      client: { ...this.#clientAddress },
      openedAt: this.openedAt,
      bytes: { upstream: this.#links.upstream.delivered, downstream: this.#links.downstream.delivered },
      toxics: { upstream: this.#links.upstream.toxicNames, downstream: this.#links.downstream.toxicNames },
    };
  }

  /** Adds the toxic to its direction of this connection if its toxicity says so. */
  applyToxic(toxic: Toxic): void {
    if (this.#state !== 'open') return;
    if (toxic.toxicity < 1 && !(this.#context.env.random() < toxic.toxicity)) return;
    this.#context.stats.faults[toxic.type]++;
    this.#links[toxic.stream].addToxic(toxic);
  }

  removeToxic(name: string): void {
    this.#links.upstream.removeToxic(name);
    this.#links.downstream.removeToxic(name);
  }

  /** Both sides get a real RST. Returns false when the connection was already ending. */
  reset(cause: string): boolean {
    if (!this.#beginEnding()) return false;
    this.#context.stats.resets++;
    this.#context.emit('fault', { action: 'reset', connectionId: this.id, cause });
    resetSocket(this.#client);
    resetSocket(this.#upstream);
    return true;
  }

  /** Both sides get a FIN after what was already written. Returns false when the connection was already ending. */
  close(cause: string): boolean {
    if (!this.#beginEnding()) return false;
    this.#context.stats.closes++;
    this.#context.emit('fault', { action: 'close', connectionId: this.id, cause });
    this.#endGracefully(this.#client);
    this.#endGracefully(this.#upstream);
    return true;
  }

  /** The proxy is closing: both sockets go now, whatever state they are in. */
  destroy(): void {
    this.#beginEnding();
    this.#client.destroy();
    this.#upstream.destroy();
  }

  #beginEnding(): boolean {
    if (this.#state !== 'open') return false;
    this.#state = 'ending';
    this.#links.upstream.dispose();
    this.#links.downstream.dispose();
    return true;
  }

  #endGracefully(socket: Socket): void {
    if (socket.destroyed) return;
    if (socket.connecting) {
      socket.destroy();
      return;
    }
    socket.once('finish', () => socket.destroy());
    socket.end();
    const timer = setTimeout(() => socket.destroy(), GRACEFUL_CLOSE_LIMIT_MS);
    timer.unref();
    this.#closeTimers.push(timer);
  }

  #wire(socket: Socket, side: 'client' | 'upstream', from: Link): void {
    socket.on('data', (chunk: Buffer) => from.write(chunk));
    socket.on('end', () => from.end());
    socket.on('error', (error: NodeJS.ErrnoException) => this.#socketError(side, error));
    socket.on('close', () => this.#socketClosed());
  }

  #linkEvents(stream: ToxicStream): LinkEvents {
    const { stats } = this.#context;
    return {
      delivered: (bytes) => {
        stats.bytes[stream] += bytes;
      },
      dropped: (bytes, cause) => {
        stats.dropped[stream] += bytes;
        this.#context.emit('fault', { action: 'drop', connectionId: this.id, cause, stream, bytes });
      },
      close: (cause) => this.close(cause),
      reset: (cause) => this.reset(cause),
    };
  }

  #socketError(side: 'client' | 'upstream', error: NodeJS.ErrnoException): void {
    this.#context.stats.errors[side]++;
    this.#context.emit('socket-error', {
      connectionId: this.id,
      side,
      code: typeof error.code === 'string' ? error.code : 'UNKNOWN',
      message: error.message,
    });
    // The other side learns of it the way it would without a proxy in between: abruptly.
    this.reset(`${side} error`);
  }

  #socketClosed(): void {
    this.#openSockets--;
    if (this.#openSockets > 0 || this.#state === 'closed') return;
    this.#beginEnding();
    this.#state = 'closed';
    for (const timer of this.#closeTimers) clearTimeout(timer);
    this.#closeTimers = [];
    this.#context.stats.connections.open--;
    this.#context.closed(this);
    this.#context.emit('connection-closed', this.info());
    this.#resolveDone();
  }
}
