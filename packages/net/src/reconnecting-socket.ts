import {
  InboundListeners,
  OutboundQueue,
  Supervisor,
  TypedEvents,
  formatValue,
  type ConnectAttempt,
  type Listener,
  type SupervisorState,
} from '@holdfast/core';
import { Connection, type ConnectionConfig, type ConnectionHandlers } from './connection.js';
import type { AllReconnectingSocketEvents, NetDropReason, ReconnectingSocketEvents, UnconfirmedReport } from './events.js';
import { encodeFrame, frameOverhead, type Framing, type Payload } from './framing.js';
import { DEFAULT_NET_SCHEDULE, resolveOptions, type ConfirmOptions, type ConnectContext, type ReconnectingSocketOptions } from './options.js';
import type { Outgoing } from './outgoing.js';
import { ResendWindow } from './resend-window.js';

export interface ReconnectingSocketStats {
  readonly state: SupervisorState;
  /** Connections opened (onConnect included). */
  readonly connects: number;
  /** Open connections lost. */
  readonly disconnects: number;
  /** Messages (writes, in raw mode) handed to a socket, resends included. */
  readonly written: number;
  /** Unconfirmed messages sent again after a reconnect (with `confirm`). */
  readonly resent: number;
  /** Messages acknowledged by the peer (with `confirm`). */
  readonly confirmed: number;
  /** Messages (chunks, in raw mode) received, pongs included. */
  readonly received: number;
  /** Messages waiting in the queue. */
  readonly queued: number;
  /** Messages written and not yet acknowledged (with `confirm`). */
  readonly unconfirmed: number;
  /** `'drop'` events emitted. */
  readonly dropped: number;
}

type LifecycleListener = Listener<ReconnectingSocketEvents[keyof ReconnectingSocketEvents]>;

interface LostReport {
  readonly unconfirmed: UnconfirmedReport;
  readonly written: UnconfirmedReport;
  readonly partialInboundBytes: number;
}

// Shared by every socket: each lifecycle event goes to the diagnostics channel `holdfast:net`.
const CHANNELS = {
  connect: 'net',
  disconnect: 'net',
  reconnecting: 'net',
  'give-up': 'net',
  drop: 'net',
  drain: 'net',
  close: 'net',
} as const satisfies { readonly [K in keyof ReconnectingSocketEvents]: string };

const sizeOfOutgoing = (entry: Outgoing): number => entry.size;

function warn(message: string, error: unknown): void {
  const detail = error instanceof Error ? error : new Error(String(error));
  process.emitWarning(`${message}: ${detail.message}`, { type: 'HoldfastWarning', detail: detail.stack ?? '' });
}

/**
 * A TCP (or TLS) client connection to one endpoint that survives the
 * endpoint: it reconnects through core's Supervisor, keeps what is written
 * meanwhile in an OutboundQueue, and never throws or emits 'error' because
 * the network failed. See the README for the delivery guarantee.
 */
export class ReconnectingSocket {
  readonly name: string;
  readonly framing: Framing;

  readonly #config: ConnectionConfig;
  readonly #maxMessageBytes: number;
  /** Bytes the framing adds to each message. */
  readonly #frameOverhead: number;
  readonly #onConnect: ((context: ConnectContext) => void | Promise<void>) | undefined;
  readonly #confirm: ConfirmOptions | undefined;
  readonly #heartbeat: { intervalMs: number; timeoutMs: number; ping: () => string | Buffer } | undefined;
  readonly #isPong: ((message: Buffer) => boolean) | undefined;
  /** undefined with `queue: false`. */
  readonly #makeQueue: (() => OutboundQueue<Outgoing>) | undefined;
  #queue: OutboundQueue<Outgoing> | undefined;
  readonly #window: ResendWindow | undefined;
  readonly #supervisor: Supervisor<Connection>;
  readonly #handlers: ConnectionHandlers;
  readonly #events = new TypedEvents<ReconnectingSocketEvents>(CHANNELS);
  readonly #data = new InboundListeners<Buffer>('data');
  readonly #messages = new InboundListeners<Buffer>('message');
  /** `#data` with framing `'raw'`, `#messages` otherwise. */
  readonly #inbound: InboundListeners<Buffer>;

  /** The open connection, once onConnect has run; undefined while down. */
  #connection: Connection | undefined;
  #lostReport: LostReport | undefined;
  #lastSeq = -Infinity;
  #wantDrain = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #connects = 0;
  #disconnects = 0;
  #written = 0;
  #resent = 0;
  #confirmed = 0;
  #received = 0;
  #dropped = 0;

  constructor(options: ReconnectingSocketOptions) {
    const resolved = resolveOptions(options);
    this.name = options.name ?? 'net';
    this.framing = resolved.framing;
    this.#maxMessageBytes = resolved.maxMessageBytes;
    this.#frameOverhead = frameOverhead(resolved.framing);
    this.#config = {
      host: resolved.host,
      port: resolved.port,
      tls: resolved.tls,
      framing: resolved.framing,
      maxMessageBytes: resolved.maxMessageBytes,
      noDelay: resolved.noDelay,
      keepAliveMs: resolved.keepAliveMs,
      idleTimeoutMs: resolved.idleTimeoutMs,
    };
    this.#onConnect = options.onConnect;
    this.#confirm = resolved.confirm;
    const heartbeat = resolved.heartbeat;
    if (heartbeat !== undefined) {
      const { ping } = heartbeat;
      this.#heartbeat = {
        intervalMs: heartbeat.intervalMs,
        timeoutMs: heartbeat.timeoutMs,
        ping: () => encodeFrame(this.framing, typeof ping === 'function' ? ping() : ping, this.#maxMessageBytes),
      };
      this.#isPong = heartbeat.isPong;
    }
    if (options.queue !== false) {
      const queue = options.queue ?? {};
      const queueOptions = {
        maxItems: queue.maxItems,
        maxBytes: queue.maxBytes,
        overflow: queue.overflow,
        highWaterMarkBytes: queue.highWaterMarkBytes,
        highWaterMarkItems: queue.highWaterMarkItems,
        sizeOf: sizeOfOutgoing,
        name: this.name,
      };
      // Made when first needed: a connection that never writes while down never holds one. This one only checks the options now.
      new OutboundQueue<Outgoing>(queueOptions);
      this.#makeQueue = () => {
        const made = new OutboundQueue<Outgoing>(queueOptions);
        made.on('drop', (event) => this.#drop(event.item.message, event.reason as NetDropReason, 'not-sent'));
        return made;
      };
    }
    if (resolved.confirm !== undefined) this.#window = new ResendWindow(resolved.maxUnconfirmed);
    this.#inbound = this.framing === 'raw' ? this.#data : this.#messages;
    const plain = this.#confirm === undefined && this.#isPong === undefined;
    this.#handlers = {
      // Without confirm or heartbeat a received message needs no inspection: the shorter path.
      inbound: plain
        ? (connection, payload) => this.#onInboundPlain(connection, payload)
        : (connection, payload) => this.#onInbound(connection, payload),
      drain: (connection) => this.#onSocketDrain(connection),
      close: (connection) => this.#onSocketClose(connection),
    };
    this.#supervisor = new Supervisor<Connection>({
      connect: (attempt) => this.#open(attempt),
      dispose: (connection) => (this.#closed ? connection.end() : connection.destroy()),
      schedule: options.schedule ?? DEFAULT_NET_SCHEDULE,
      minUptimeMs: options.minUptimeMs,
      maxAttempts: options.maxAttempts,
      connectTimeoutMs: options.connectTimeoutMs,
      shouldReconnect: options.shouldReconnect,
      name: this.name,
      random: options.random,
    });
    this.#supervisor.on('open', (event) => this.#onOpen(event.attempt));
    this.#supervisor.on('lost', (event) => {
      this.#disconnects++;
      const none = { messages: 0, bytes: 0 };
      const report = this.#lostReport ?? { unconfirmed: none, written: none, partialInboundBytes: 0 };
      this.#lostReport = undefined;
      this.#events.emit('disconnect', {
        event: 'disconnect',
        name: this.name,
        fault: event.fault,
        uptimeMs: event.uptimeMs,
        unconfirmed: report.unconfirmed,
        written: report.written,
        resend: this.#window !== undefined,
        partialInboundBytes: report.partialInboundBytes,
      });
    });
    this.#supervisor.on('reconnecting', (event) => {
      this.#events.emit('reconnecting', {
        event: 'reconnecting',
        name: this.name,
        attempt: event.attempt,
        delayMs: event.delayMs,
        fault: event.fault,
      });
    });
    this.#supervisor.on('give-up', (event) => {
      this.#closed = true;
      this.#dropAll('give-up');
      this.#events.emit('give-up', { event: 'give-up', name: this.name, attempts: event.attempts, fault: event.fault, reason: event.reason });
    });
    this.#supervisor.on('closed', (event) => {
      if (event.reason === 'give-up') this.#closing ??= this.#finish('give-up');
    });
    this.#supervisor.start();
  }

  /** The reconnect state: `connecting`, `open`, `waiting` (backoff), `closed`… */
  get state(): SupervisorState {
    return this.#supervisor.state;
  }

  /** True while a connection is open and onConnect has run on it. */
  get connected(): boolean {
    return this.#connection !== undefined;
  }

  /**
   * Writes one message (a chunk, with framing `'raw'`), whole, to the open
   * connection, or queues it while disconnected. Returns false when the
   * caller should wait for `'drain'` (like a stream), and when the message
   * was dropped (with a `'drop'` event). Throws only for a bad argument and,
   * under the `'reject'` overflow policy, `QueueFullError` (the caller keeps the message).
   */
  write(message: Payload): boolean {
    if (typeof message !== 'string' && !(message instanceof Uint8Array)) {
      throw new TypeError(`ReconnectingSocket.write: the message must be a string or a Uint8Array, got ${formatValue(message)}`);
    }
    const frame = encodeFrame(this.framing, message, this.#maxMessageBytes);
    // Counted on the message, not the frame: a string frame is the message joined to its delimiter, and
    // measuring that join would make V8 flatten it here, a copy the socket's own write does not need.
    const size = (typeof message === 'string' ? Buffer.byteLength(message) : message.byteLength) + this.#frameOverhead;
    const seq = this.#confirm === undefined ? 0 : this.#nextSequence(message);
    const connection = this.#connection;
    const queue = this.#queue;
    if (connection !== undefined && (queue === undefined || queue.length === 0) && connection.writable) {
      const window = this.#window;
      if (window === undefined) {
        this.#written++;
        if (connection.write(frame, size)) return true;
        this.#wantDrain = true;
        return false;
      }
      if (!window.full) {
        const entry: Outgoing = { message, frame, size, seq };
        window.add(entry);
        this.#written++;
        if (connection.write(frame, entry.size)) return true;
        this.#wantDrain = true;
        return false;
      }
    }
    return this.#enqueue({ message, frame, size, seq });
  }

  /** The same as `write()`; reads better with framing. */
  send(message: Payload): boolean {
    return this.write(message);
  }

  /**
   * Final. Drops what is still queued (and, with `confirm`, what is still
   * unacknowledged), each with a `'drop'` event; ends the open connection after
   * its buffered bytes (destroying it if the peer takes over a second); stops
   * reconnecting. Resolves when no socket or timer is left. Never rejects.
   */
  close(): Promise<void> {
    this.#closing ??= this.#finish('close');
    return this.#closing;
  }

  /**
   * Skips the current backoff wait and tries to connect at once, for when the
   * application knows the endpoint is back (a network-up signal, a service
   * registry, an operator). Does nothing unless the socket is waiting to
   * reconnect (`state === 'waiting'`): it never drops an open connection nor
   * starts a second attempt. A failed attempt schedules the next wait as usual.
   */
  reconnectNow(): void {
    this.#supervisor.reconnectNow();
  }

  stats(): ReconnectingSocketStats {
    return {
      state: this.#supervisor.state,
      connects: this.#connects,
      disconnects: this.#disconnects,
      written: this.#written,
      resent: this.#resent,
      confirmed: this.#confirmed,
      received: this.#received,
      queued: this.#queue?.length ?? 0,
      unconfirmed: this.#window?.length ?? 0,
      dropped: this.#dropped,
    };
  }

  /** Adds a listener; returns a function that removes it. Listener errors become process warnings. */
  on<K extends keyof AllReconnectingSocketEvents>(name: K, listener: Listener<AllReconnectingSocketEvents[K]>): () => void {
    const inbound = this.#inboundListeners(name);
    if (inbound !== undefined) {
      const callback = listener as (payload: Buffer) => void;
      inbound.add(callback);
      return () => inbound.remove(callback);
    }
    return this.#events.on(name as keyof ReconnectingSocketEvents, listener as unknown as LifecycleListener);
  }

  once<K extends keyof AllReconnectingSocketEvents>(name: K, listener: Listener<AllReconnectingSocketEvents[K]>): () => void {
    const off = this.on(name, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  off<K extends keyof AllReconnectingSocketEvents>(name: K, listener: Listener<AllReconnectingSocketEvents[K]>): void {
    const inbound = this.#inboundListeners(name);
    if (inbound !== undefined) inbound.remove(listener as (payload: Buffer) => void);
    else this.#events.off(name as keyof ReconnectingSocketEvents, listener as unknown as LifecycleListener);
  }

  #inboundListeners(name: keyof AllReconnectingSocketEvents): InboundListeners<Buffer> | undefined {
    if (name === 'message') return this.#messages;
    if (name === 'data') return this.#data;
    return undefined;
  }

  #nextSequence(message: Payload): number {
    const seq = (this.#confirm as ConfirmOptions).sequenceOf(message);
    if (typeof seq !== 'number' || !(seq > this.#lastSeq)) {
      throw new RangeError(
        `ReconnectingSocket: confirm.sequenceOf must return a number greater than the previous message's (${this.#lastSeq}), got ${formatValue(seq)}`,
      );
    }
    this.#lastSeq = seq;
    return seq;
  }

  #enqueue(entry: Outgoing): boolean {
    if (this.#closed) {
      this.#drop(entry.message, 'closed', 'not-sent');
      return false;
    }
    let queue = this.#queue;
    if (queue === undefined) {
      if (this.#makeQueue === undefined) {
        this.#drop(entry.message, 'not-connected', 'not-sent');
        return false;
      }
      queue = this.#queue = this.#makeQueue();
    }
    const kept = queue.push(entry);
    const connection = this.#connection;
    if (connection !== undefined && !connection.socket.writableNeedDrain) this.#flush(connection);
    if (kept && !queue.needsDrain) return true;
    this.#wantDrain = true;
    return false;
  }

  async #open({ attempt, signal }: ConnectAttempt): Promise<Connection> {
    const connection = await Connection.open(this.#config, this.#handlers, signal);
    const onConnect = this.#onConnect;
    if (onConnect === undefined) return connection;
    const abandon = (): void => connection.destroy(signal.reason as Error);
    signal.addEventListener('abort', abandon, { once: true });
    const context: ConnectContext = {
      attempt,
      signal: connection.signal,
      socket: connection.socket,
      send: (message) => connection.writeControl(encodeFrame(this.framing, message, this.#maxMessageBytes)),
      receive: () => connection.receive(),
    };
    try {
      await new Promise<void>((resolve, reject) => {
        // The hook may not watch the signal; a connection that dies under it fails the attempt at once.
        const onClosed = (): void => reject(connection.signal.reason as Error);
        if (connection.signal.aborted) {
          onClosed();
          return;
        }
        connection.signal.addEventListener('abort', onClosed, { once: true });
        Promise.resolve()
          .then(() => onConnect(context))
          .then(
            () => {
              connection.signal.removeEventListener('abort', onClosed);
              resolve();
            },
            (error: unknown) => {
              connection.signal.removeEventListener('abort', onClosed);
              reject(error instanceof Error ? error : new Error(String(error)));
            },
          );
      });
    } catch (error) {
      connection.destroy();
      throw error;
    } finally {
      signal.removeEventListener('abort', abandon);
    }
    return connection;
  }

  #onOpen(attempt: number): void {
    const connection = this.#supervisor.connection as Connection;
    this.#connection = connection;
    if (connection.closed) {
      // It died between onConnect and now: report it as any other loss.
      this.#onSocketClose(connection);
      return;
    }
    this.#connects++;
    let resent = 0;
    const window = this.#window;
    if (window !== undefined) {
      for (const entry of window.pending()) {
        connection.write(entry.frame, entry.size);
        resent++;
      }
      this.#resent += resent;
      this.#written += resent;
    }
    const flushed = this.#flush(connection);
    const heartbeat = this.#heartbeat;
    if (heartbeat !== undefined) connection.startHeartbeat(heartbeat.intervalMs, heartbeat.timeoutMs, heartbeat.ping);
    this.#events.emit('connect', { event: 'connect', name: this.name, attempt, resent, flushed });
  }

  /** Writes queued messages while the socket takes them; returns how many. */
  #flush(connection: Connection): number {
    const queue = this.#queue;
    if (queue === undefined) {
      // Nothing ever waited (or queue: false): only the socket's own buffer can have asked for a 'drain'.
      this.#checkDrain();
      return 0;
    }
    const window = this.#window;
    let count = 0;
    while (queue.length > 0 && connection.writable && window?.full !== true) {
      const entry = queue.shift() as Outgoing;
      window?.add(entry);
      count++;
      this.#written++;
      if (!connection.write(entry.frame, entry.size)) break;
    }
    this.#checkDrain();
    return count;
  }

  #checkDrain(): void {
    if (!this.#wantDrain || (this.#queue?.length ?? 0) > 0) return;
    if (this.#connection?.socket.writableNeedDrain === true) return;
    this.#wantDrain = false;
    this.#events.emit('drain', { event: 'drain', name: this.name });
  }

  #onInbound(connection: Connection, payload: Buffer): void {
    this.#received++;
    const confirm = this.#confirm;
    if (confirm !== undefined) {
      let seq: number | undefined;
      try {
        seq = confirm.ackOf(payload);
      } catch (error) {
        warn(`ReconnectingSocket '${this.name}': confirm.ackOf threw; the message was taken as no acknowledgement`, error);
      }
      if (typeof seq === 'number') this.#onAck(seq);
    }
    const isPong = this.#isPong;
    if (isPong !== undefined) {
      let pong = false;
      try {
        pong = isPong(payload);
      } catch (error) {
        warn(`ReconnectingSocket '${this.name}': heartbeat.isPong threw; the message was delivered`, error);
      }
      if (pong) return;
    }
    if (connection.offer(payload)) return;
    this.#inbound.emit(payload, undefined);
  }

  #onInboundPlain(connection: Connection, payload: Buffer): void {
    this.#received++;
    if (connection.offer(payload)) return;
    this.#inbound.emit(payload, undefined);
  }

  #onAck(seq: number): void {
    const window = this.#window as ResendWindow;
    const confirmed = window.confirm(seq);
    this.#confirmed += confirmed;
    // Acknowledgements made room in the window: what waits in the queue for it may go now.
    const connection = this.#connection;
    if (confirmed > 0 && connection !== undefined && !connection.socket.writableNeedDrain) this.#flush(connection);
  }

  #onSocketDrain(connection: Connection): void {
    if (connection !== this.#connection) return;
    this.#flush(connection);
  }

  #onSocketClose(connection: Connection): void {
    if (connection !== this.#connection) return;
    this.#connection = undefined;
    const window = this.#window;
    this.#lostReport = {
      unconfirmed:
        window === undefined
          ? { messages: connection.unconfirmedMessages, bytes: connection.unconfirmedBytes }
          : { messages: window.length, bytes: window.bytes },
      written: { messages: connection.writtenMessages, bytes: connection.writtenBytes },
      partialInboundBytes: connection.pendingInboundBytes,
    };
    this.#supervisor.lost(connection.error, connection);
    // The socket's buffer died with it; a writer waiting for 'drain' may write again (into the queue).
    this.#checkDrain();
  }

  #drop(message: Payload, reason: NetDropReason, outcome: 'not-sent' | 'unknown'): void {
    this.#dropped++;
    this.#events.emit('drop', { event: 'drop', name: this.name, message, reason, outcome });
  }

  #dropAll(reason: 'closed' | 'give-up'): void {
    this.#queue?.clear(reason);
    const rest = this.#window?.clear() ?? [];
    for (const entry of rest) this.#drop(entry.message, reason, 'unknown');
  }

  async #finish(reason: 'close' | 'give-up'): Promise<void> {
    this.#closed = true;
    // A final close is not a disconnect: the socket's own close must not report one.
    this.#connection = undefined;
    this.#dropAll(reason === 'close' ? 'closed' : 'give-up');
    try {
      await this.#supervisor.close();
    } catch (error) {
      warn(`ReconnectingSocket '${this.name}': closing failed`, error);
    }
    this.#events.emit('close', { event: 'close', name: this.name, reason });
    this.#events.clear();
    this.#data.clear();
    this.#messages.clear();
  }
}
