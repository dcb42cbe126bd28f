import net from 'node:net';
import tls from 'node:tls';
import { Heartbeat, type HeartbeatHooks } from '@holdfast/core/internal';
import { createDecoder, type FrameDecoder, type Framing } from './framing.js';

/** How to reach the endpoint and what to do with the bytes: the part of the options one socket needs. */
export interface ConnectionConfig {
  readonly host: string;
  readonly port: number;
  /** undefined: plain TCP. */
  readonly tls: tls.ConnectionOptions | undefined;
  readonly framing: Framing;
  readonly maxMessageBytes: number;
  readonly noDelay: boolean;
  readonly keepAliveMs: number;
  readonly idleTimeoutMs: number;
}

/** What a connection reports to its owner. Every callback receives the connection, so late reports about an old one can be told apart. */
export interface ConnectionHandlers {
  /** A received chunk (`raw`) or frame (framed modes). */
  readonly inbound: (connection: Connection, payload: Buffer) => void;
  readonly drain: (connection: Connection) => void;
  readonly close: (connection: Connection) => void;
}

/** Settles a receive() waiter of the onConnect hook. */
interface Waiter {
  readonly resolve: (payload: Buffer) => void;
  readonly reject: (error: Error) => void;
}

const GRACEFUL_CLOSE_MS = 1000;

/**
 * One socket to the endpoint, from connect to close: it decodes frames,
 * runs core's heartbeat (it is its hooks) and the idle timeout, and counts
 * what was written since the peer last proved alive. It never emits 'error':
 * the first error is kept in `error` and the owner hears about it through
 * `close`.
 */
export class Connection implements HeartbeatHooks {
  readonly socket: net.Socket;
  /** The first error the socket reported; undefined after a clean close. */
  error: Error | undefined;
  closed = false;
  /** Messages (writes, in raw mode) handed to this socket since the last byte received from the peer. */
  unconfirmedMessages = 0;
  unconfirmedBytes = 0;
  /** Messages (writes, in raw mode) handed to this socket in all. */
  writtenMessages = 0;
  writtenBytes = 0;

  readonly #handlers: ConnectionHandlers;
  readonly #decoder: FrameDecoder | undefined;
  // Made only when asked for (onConnect): an idle connection should cost little more than its socket.
  #closedSignal: AbortController | undefined;
  #heartbeat: Heartbeat | undefined;
  #makePing: (() => string | Buffer) | undefined;
  #waiters: Waiter[] | undefined;

  private constructor(socket: net.Socket, config: ConnectionConfig, handlers: ConnectionHandlers) {
    this.socket = socket;
    this.#handlers = handlers;
    const deliver = (payload: Buffer): void => handlers.inbound(this, payload);
    this.#decoder = config.framing === 'raw' ? undefined : createDecoder(config.framing, deliver, config.maxMessageBytes);
    const decoder = this.#decoder;
    socket.on('data', (chunk: Buffer) => {
      this.unconfirmedMessages = 0;
      this.unconfirmedBytes = 0;
      this.#heartbeat?.heard();
      if (decoder === undefined) {
        deliver(chunk);
        return;
      }
      try {
        decoder.push(chunk);
      } catch (error) {
        this.destroy(error as Error);
      }
    });
    socket.on('error', (error) => {
      this.error ??= error;
    });
    socket.on('drain', () => handlers.drain(this));
    socket.on('close', () => this.#onClose());
    if (config.idleTimeoutMs > 0) {
      socket.setTimeout(config.idleTimeoutMs, () => {
        this.destroy(Object.assign(new Error(`idle timeout: nothing sent or received for ${config.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
      });
    }
  }

  /**
   * Connects and resolves once the socket (and the TLS handshake) is up.
   * Rejects with the socket's error when it cannot, or with the signal's
   * reason when the attempt is abandoned; the socket is destroyed either way.
   */
  static open(config: ConnectionConfig, handlers: ConnectionHandlers, signal: AbortSignal): Promise<Connection> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const socket =
        config.tls === undefined
          ? net.connect({ host: config.host, port: config.port })
          : tls.connect({ ...config.tls, host: config.host, port: config.port });
      socket.setNoDelay(config.noDelay);
      if (config.keepAliveMs > 0) socket.setKeepAlive(true, config.keepAliveMs);
      const connection = new Connection(socket, config, handlers);
      const onAbort = (): void => connection.destroy(signal.reason as Error);
      const settle = (error?: Error): void => {
        socket.off(config.tls === undefined ? 'connect' : 'secureConnect', onReady);
        socket.off('close', onEarlyClose);
        signal.removeEventListener('abort', onAbort);
        if (error === undefined) resolve(connection);
        else reject(error);
      };
      const onReady = (): void => settle();
      const onEarlyClose = (): void =>
        settle(connection.error ?? Object.assign(new Error('the connection closed while connecting'), { code: 'ECONNRESET' }));
      socket.once(config.tls === undefined ? 'connect' : 'secureConnect', onReady);
      socket.once('close', onEarlyClose);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Aborted when the socket closes: for the onConnect hook. */
  get signal(): AbortSignal {
    if (this.#closedSignal === undefined) {
      this.#closedSignal = new AbortController();
      if (this.closed) this.#closedSignal.abort(this.#closedError());
    }
    return this.#closedSignal.signal;
  }

  /** Writable right now: not ended, not destroyed. */
  get writable(): boolean {
    return this.socket.writable;
  }

  /** Bytes of a partly received frame, lost if the connection dies now. */
  get pendingInboundBytes(): number {
    return this.#decoder?.pendingBytes ?? 0;
  }

  /** Writes one whole frame; returns false when the socket's buffer is above its high-water mark. */
  write(frame: string | Buffer, size: number): boolean {
    this.unconfirmedMessages++;
    this.unconfirmedBytes += size;
    this.writtenMessages++;
    this.writtenBytes += size;
    return this.socket.write(frame);
  }

  /** Writes a frame that is not application data (a handshake message, a ping): not counted as unconfirmed. */
  writeControl(frame: string | Buffer): void {
    this.socket.write(frame);
  }

  /** Hands a received frame to a pending receive(); false when nobody waits. */
  offer(payload: Buffer): boolean {
    const waiters = this.#waiters;
    if (waiters === undefined || waiters.length === 0) return false;
    (waiters.shift() as Waiter).resolve(payload);
    return true;
  }

  /** The next frame (chunk, in raw mode) received, instead of it going to the owner's listeners; for the onConnect hook. */
  receive(): Promise<Buffer> {
    if (this.closed) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => (this.#waiters ??= []).push({ resolve, reject }));
  }

  startHeartbeat(intervalMs: number, timeoutMs: number, makePing: () => string | Buffer): void {
    if (this.closed) return;
    this.#makePing = makePing;
    this.#heartbeat = new Heartbeat(intervalMs, timeoutMs, this);
    this.#heartbeat.start();
  }

  /** A pong (heartbeat.isPong): the wait for it is over. */
  answered(): void {
    this.#heartbeat?.answered();
  }

  // HeartbeatHooks: called by the heartbeat as methods of this connection.
  ping(): void {
    try {
      this.writeControl((this.#makePing as () => string | Buffer)());
    } catch (error) {
      // A ping that cannot be made is an application bug; the connection itself is fine.
      const detail = error instanceof Error ? error : new Error(String(error));
      process.emitWarning(`heartbeat: making the ping failed: ${detail.message}`, { type: 'HoldfastWarning', detail: detail.stack ?? '' });
    }
  }

  dead(error: Error): void {
    this.destroy(error);
  }

  destroy(error?: Error): void {
    if (error !== undefined) this.error ??= error;
    this.socket.destroy();
  }

  /** Ends the socket after its buffered writes, destroying it if the peer takes longer than a second to close. */
  end(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), GRACEFUL_CLOSE_MS);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.#heartbeat?.stop();
      this.socket.end();
    });
  }

  #closedError(): Error {
    return this.error ?? Object.assign(new Error('the connection closed'), { code: 'ECONNRESET' });
  }

  #onClose(): void {
    this.closed = true;
    this.#heartbeat?.stop();
    this.socket.setTimeout(0);
    const waiters = this.#waiters ?? [];
    this.#waiters = undefined;
    for (const waiter of waiters) waiter.reject(this.#closedError());
    this.#closedSignal?.abort(this.#closedError());
    this.#handlers.close(this);
  }
}
