import diagnosticsChannel from 'node:diagnostics_channel';
import {
  Supervisor,
  TypedEvents,
  redact,
  type ConnectAttempt,
  type DropReason,
  type Fault,
  type Listener,
  type SupervisorEvents,
  type SupervisorState,
  type Unconfirmed,
} from '@holdfast/core';
import {
  CONNECTION_CHANNELS,
  InboundListeners,
  SendBuffer,
  formatValue,
  numberLike,
  runConnectHook,
  warnDeprecated,
  withDeprecatedField,
  type DropCounts,
  type SupervisorEventSink,
} from '@holdfast/core/internal';
import { Connection, type ConnectionConfig, type ConnectionHandlers } from './connection.js';
import type { AllReconnectingSocketEvents, ReconnectingSocketEvents } from './events.js';
import { encodeFrame, frameOverhead, type Framing, type Payload } from './framing.js';
import { resolveOptions, type ConfirmOptions, type ConnectContext, type ReconnectingSocketOptions } from './options.js';
import type { Outgoing } from './outgoing.js';
import { ResendWindow } from './resend-window.js';

export interface ReconnectingSocketStats {
  readonly state: SupervisorState;
  /** Connections opened (onConnect included). */
  readonly connects: number;
  /** Open connections lost. */
  readonly disconnects: number;
  /** Messages (writes, in raw mode) handed to a socket, resends included. (It was `written`.) */
  readonly sent: number;
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
  /** Messages that may not have arrived: `unconfirmed.messages` summed over every disconnect. */
  readonly possiblyLost: number;
  /** Messages dropped, by reason and in all; each had a `'drop'` event. (It was a number: the total.) */
  readonly dropped: DropCounts;
}

type LifecycleListener = Listener<ReconnectingSocketEvents[keyof ReconnectingSocketEvents]>;

interface LostReport {
  readonly unconfirmed: Unconfirmed;
  readonly sent: Unconfirmed;
  readonly partialInboundBytes: number;
}

const NONE: Unconfirmed = Object.freeze({ messages: 0, bytes: 0 });

// Until 0.2 the lifecycle went to `holdfast:net`; it goes there too, for one release, while someone listens.
const legacyChannel = diagnosticsChannel.channel('holdfast:net');

/** The socket's events: the shared channels, and the old one for subscribers that still use it. */
class NetEvents extends TypedEvents<ReconnectingSocketEvents> {
  constructor() {
    super(CONNECTION_CHANNELS);
  }

  override emit<K extends keyof ReconnectingSocketEvents>(name: K, payload: ReconnectingSocketEvents[K]): void {
    super.emit(name, payload);
    if (!legacyChannel.hasSubscribers) return;
    warnDeprecated(
      'HOLDFAST_DEP008',
      "@holdfast/net: the diagnostics channel 'holdfast:net' is now 'holdfast:reconnect' (the lifecycle), 'holdfast:drop' and 'holdfast:queue', as for every holdfast object",
    );
    legacyChannel.publish(redact(payload));
  }
}

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
  readonly #queueOptions: ReturnType<typeof resolveOptions>['queue'];
  // Made when first needed: a connection that never writes while down never holds one.
  #sends: SendBuffer<Outgoing> | undefined;
  readonly #window: ResendWindow | undefined;
  readonly #supervisor: Supervisor<Connection>;
  readonly #handlers: ConnectionHandlers;
  readonly #events = new NetEvents();
  readonly #data = new InboundListeners<Buffer>('data');
  readonly #messages = new InboundListeners<Buffer>('message');
  /** `#data` with framing `'raw'`, `#messages` otherwise. */
  readonly #inbound: InboundListeners<Buffer>;

  /** The open connection, once onConnect has run; undefined while down. */
  #connection: Connection | undefined;
  #lostReport: LostReport | undefined;
  #gaveUpWith: Fault | undefined;
  #lastSeq = -Infinity;
  #closed = false;
  #closing: Promise<void> | undefined;
  #connects = 0;
  #disconnects = 0;
  #sent = 0;
  #resent = 0;
  #confirmed = 0;
  #received = 0;
  #possiblyLost = 0;

  constructor(options: ReconnectingSocketOptions) {
    const resolved = resolveOptions(options);
    this.name = resolved.name;
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
    this.#onConnect = resolved.onConnect;
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
    this.#queueOptions = resolved.queue;
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
      schedule: resolved.schedule,
      minUptimeMs: resolved.minUptimeMs,
      maxAttempts: resolved.maxAttempts,
      connectTimeoutMs: resolved.connectTimeoutMs,
      shouldReconnect: resolved.shouldReconnect,
      name: this.name,
      random: resolved.random,
      // The bridge: state, reconnecting and give-up are this socket's events, published once.
      forwardTo: this.#events as SupervisorEventSink,
    });
    this.#supervisor.on('open', (event) => this.#onOpen(event.attempt));
    this.#supervisor.on('lost', (event) => this.#onLost(event));
    // Before the give-up reaches this socket's listeners: what waited is dropped first.
    this.#supervisor.on('give-up', (event) => {
      this.#closed = true;
      this.#gaveUpWith = event.fault;
      this.#dropAll('give-up');
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
    const sends = this.#sends;
    if (connection !== undefined && (sends === undefined || sends.length === 0) && connection.writable) {
      const window = this.#window;
      if (window === undefined) {
        this.#sent++;
        if (connection.write(frame, size)) return true;
        this.#sendBuffer().owesDrain();
        return false;
      }
      if (!window.full) {
        const entry: Outgoing = { message, frame, size, seq };
        window.add(entry);
        this.#sent++;
        if (connection.write(frame, entry.size)) return true;
        this.#sendBuffer().owesDrain();
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

  /** Counters, with the names every holdfast connection uses (`sent`, `received`, `queued`, `dropped`…). */
  stats(): ReconnectingSocketStats {
    const dropped = this.#sendBuffer().dropped();
    const stats = {
      state: this.#supervisor.state,
      connects: this.#connects,
      disconnects: this.#disconnects,
      sent: this.#sent,
      resent: this.#resent,
      confirmed: this.#confirmed,
      received: this.#received,
      queued: this.#sends?.length ?? 0,
      unconfirmed: this.#window?.length ?? 0,
      possiblyLost: this.#possiblyLost,
      dropped: numberLike(
        dropped,
        dropped.total,
        'HOLDFAST_DEP007',
        'ReconnectingSocket: stats().dropped is now drops by reason; read stats().dropped.total',
      ),
    };
    return withDeprecatedField(
      stats,
      'written',
      this.#sent,
      'HOLDFAST_DEP005',
      "ReconnectingSocket: 'written' is now 'sent', as in every holdfast object's stats and events",
    );
  }

  /**
   * Adds a listener; returns a function that removes it. A listener that
   * throws becomes a process warning: the other listeners still run and the
   * connection carries on.
   */
  on<K extends keyof AllReconnectingSocketEvents>(name: K, listener: Listener<AllReconnectingSocketEvents[K]>): () => void;
  /** @deprecated `'open'` (the same event). */
  on(name: 'connect', listener: Listener<ReconnectingSocketEvents['open']>): () => void;
  on(name: keyof AllReconnectingSocketEvents | 'connect', listener: Listener<never>): () => void {
    if (name === 'connect') return this.#events.on('open', this.#openAlias(listener));
    const inbound = this.#inboundListeners(name);
    if (inbound !== undefined) {
      const callback = listener as (payload: Buffer) => void;
      inbound.add(callback);
      return () => inbound.remove(callback);
    }
    return this.#events.on(name as keyof ReconnectingSocketEvents, listener as unknown as LifecycleListener);
  }

  /** Like `on`, but the listener runs once. */
  once<K extends keyof AllReconnectingSocketEvents>(name: K, listener: Listener<AllReconnectingSocketEvents[K]>): () => void;
  /** @deprecated `'open'` (the same event). */
  once(name: 'connect', listener: Listener<ReconnectingSocketEvents['open']>): () => void;
  once(name: keyof AllReconnectingSocketEvents | 'connect', listener: Listener<never>): () => void {
    const once = (payload: never): void => {
      off();
      (listener as Listener<unknown>)(payload);
    };
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- passes the old name on, to warn once
    const off = (this.on as (name: string, listener: Listener<never>) => () => void)(name, once);
    return off;
  }

  off<K extends keyof AllReconnectingSocketEvents>(name: K, listener: Listener<AllReconnectingSocketEvents[K]>): void;
  /** @deprecated `'open'` (the same event). */
  off(name: 'connect', listener: Listener<ReconnectingSocketEvents['open']>): void;
  off(name: keyof AllReconnectingSocketEvents | 'connect', listener: Listener<never>): void {
    const inbound = name === 'connect' ? undefined : this.#inboundListeners(name);
    if (inbound !== undefined) inbound.remove(listener as (payload: Buffer) => void);
    else this.#events.off(name === 'connect' ? 'open' : (name as keyof ReconnectingSocketEvents), listener as unknown as LifecycleListener);
  }

  #openAlias(listener: Listener<never>): LifecycleListener {
    warnDeprecated('HOLDFAST_DEP004', "ReconnectingSocket: the 'connect' event is now 'open', as for every holdfast connection");
    return listener as unknown as LifecycleListener;
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
    const sends = this.#sendBuffer();
    if (this.#closed) return sends.drop(entry, 'closed');
    const accepted = sends.push(entry);
    const connection = this.#connection;
    if (connection !== undefined && !connection.socket.writableNeedDrain) this.#flush(connection);
    return accepted;
  }

  #sendBuffer(): SendBuffer<Outgoing> {
    return (this.#sends ??= new SendBuffer<Outgoing>(
      this.name,
      this.#queueOptions,
      (entry, reason) => this.#emitDrop(entry.message, reason, 'not-sent'),
      sizeOfOutgoing,
    ));
  }

  async #open({ attempt, signal }: ConnectAttempt): Promise<Connection> {
    const connection = await Connection.open(this.#config, this.#handlers, signal);
    const onConnect = this.#onConnect;
    if (onConnect === undefined) return connection;
    const closed = connection.signal;
    const context: ConnectContext = {
      attempt,
      signal: AbortSignal.any([closed, signal]),
      socket: connection.socket,
      send: (message) => connection.writeControl(encodeFrame(this.framing, message, this.#maxMessageBytes)),
      receive: () => connection.receive(),
    };
    try {
      await runConnectHook(onConnect, context, closed, signal);
    } catch (error) {
      connection.destroy(signal.aborted ? (signal.reason as Error) : undefined);
      throw error;
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
      this.#sent += resent;
    }
    const flushed = this.#flush(connection);
    const heartbeat = this.#heartbeat;
    if (heartbeat !== undefined) connection.startHeartbeat(heartbeat.intervalMs, heartbeat.timeoutMs, heartbeat.ping);
    this.#events.emit('open', { event: 'open', name: this.name, attempt, resent, flushed });
  }

  /** Writes queued messages while the socket takes them; returns how many. */
  #flush(connection: Connection): number {
    const queue = this.#sends;
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
      this.#sent++;
      if (!connection.write(entry.frame, entry.size)) break;
    }
    this.#checkDrain();
    return count;
  }

  #checkDrain(): void {
    if (this.#sends?.drainDue(this.#connection?.socket.writableNeedDrain === true) === true) {
      this.#events.emit('drain', { event: 'drain', name: this.name });
    }
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
      if (pong) {
        connection.answered();
        return;
      }
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
      sent: { messages: connection.writtenMessages, bytes: connection.writtenBytes },
      partialInboundBytes: connection.pendingInboundBytes,
    };
    this.#supervisor.lost(connection.error, connection);
    // The socket's buffer died with it; a writer waiting for 'drain' may write again (into the queue).
    this.#checkDrain();
  }

  #emitDrop(message: Payload, reason: DropReason, outcome: 'not-sent' | 'unknown'): void {
    this.#events.emit('drop', { event: 'drop', name: this.name, reason, message, outcome });
  }

  #dropAll(reason: 'closed' | 'give-up'): void {
    this.#sends?.clear(reason);
    const rest = this.#window?.clear() ?? [];
    if (rest.length === 0) return;
    // Written and never acknowledged: they were not in the queue, so they are counted here.
    const sends = this.#sendBuffer();
    for (const entry of rest) {
      sends.count(reason);
      this.#emitDrop(entry.message, reason, 'unknown');
    }
  }

  /** The Supervisor's 'lost', which has decided whether to reconnect: this socket's 'disconnect'. */
  #onLost(event: SupervisorEvents['lost']): void {
    this.#disconnects++;
    const report = this.#lostReport ?? { unconfirmed: NONE, sent: NONE, partialInboundBytes: 0 };
    this.#lostReport = undefined;
    this.#possiblyLost += report.unconfirmed.messages;
    const payload = {
      event: 'disconnect' as const,
      name: this.name,
      fault: event.fault,
      unconfirmed: report.unconfirmed,
      uptimeMs: event.uptimeMs,
      willReconnect: event.willReconnect,
      sent: report.sent,
      resend: this.#window !== undefined,
      partialInboundBytes: report.partialInboundBytes,
    };
    this.#events.emit(
      'disconnect',
      withDeprecatedField(
        payload,
        'written',
        report.sent,
        'HOLDFAST_DEP005',
        "ReconnectingSocket: 'written' is now 'sent', as in every holdfast object's stats and events",
      ),
    );
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
    const fault = this.#gaveUpWith;
    const payload = { event: 'close' as const, name: this.name, gaveUp: reason === 'give-up', ...(fault === undefined ? {} : { fault }) };
    this.#events.emit(
      'close',
      withDeprecatedField(
        payload,
        'reason',
        reason,
        'HOLDFAST_DEP006',
        "ReconnectingSocket: the 'close' event's 'reason' is now 'gaveUp' (true after a give-up)",
      ),
    );
    this.#events.clear();
    this.#data.clear();
    this.#messages.clear();
  }
}
