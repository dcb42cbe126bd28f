import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import {
  classify,
  classifyCloseCode,
  formatValue,
  OutboundQueue,
  publish,
  redactText,
  Supervisor,
  type ConnectAttempt,
  type DropReason,
  type Fault,
} from '@holdfast/core';
import { reconnectsAfterCloseCode } from './close-code-policy.js';
import { Heartbeat } from './heartbeat.js';
import { checkUrl, resolveOptions, type ReconnectingWebSocketOptions, type ResolvedOptions, type SendData, type UrlProvider } from './options.js';
import { WebListeners, type WebEventType, type WebListener } from './web-listeners.js';

/** Why a message given to `send()` will never be sent: the queue's reasons, or no queue (`queue: false`) while disconnected. */
export type WsDropReason = DropReason | 'not-connected';

export interface OpenEvent {
  readonly event: 'open';
  readonly name: string;
  /** Attempts it took since the last stable connection (1 = first try). */
  readonly attempt: number;
  /** The URL connected to, without credentials. */
  readonly url: string;
}

/** A connection was lost. `unconfirmed` messages were written to it after the last proof of delivery: they may not have arrived. */
export interface DisconnectEvent {
  readonly event: 'disconnect';
  readonly name: string;
  /** The close code (1006 when the connection died without a close frame). */
  readonly code: number;
  readonly reason: string;
  readonly fault: Fault;
  /** Messages sent on this connection after the last pong that confirmed them; they were not resent. */
  readonly unconfirmed: number;
  readonly uptimeMs: number;
  readonly willReconnect: boolean;
}

export interface ReconnectingEvent {
  readonly event: 'reconnecting';
  readonly name: string;
  /** Number of the coming attempt since the last stable connection. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly fault: Fault;
}

export interface GiveUpEvent {
  readonly event: 'give-up';
  readonly name: string;
  readonly attempts: number;
  readonly fault: Fault;
}

export interface DropEvent {
  readonly event: 'drop';
  readonly name: string;
  readonly data: SendData;
  readonly reason: WsDropReason;
}

/** The end: `close()` was called, or reconnecting stopped (close-code policy, `maxAttempts`). Fires once. */
export interface CloseEvent {
  readonly event: 'close';
  readonly name: string;
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  /** Set when the socket stopped because of a fault rather than `close()`. */
  readonly fault?: Fault;
  /** Messages on the connection `close()` closed that may not have arrived (after a give-up, 0: the `'disconnect'` event counted them). */
  readonly unconfirmed: number;
}

export type WebOpenEvent = OpenEvent & { readonly type: 'open'; readonly target: ReconnectingWebSocket };
export interface WebMessageEvent {
  readonly type: 'message';
  /** Text frames as strings, binary frames as `binaryType` says. */
  readonly data: string | WebSocket.RawData;
  readonly target: ReconnectingWebSocket;
}
export type WebCloseEvent = CloseEvent & { readonly type: 'close'; readonly target: ReconnectingWebSocket };
export interface WebErrorEvent {
  readonly type: 'error';
  readonly error: Error;
  readonly message: string;
  readonly target: ReconnectingWebSocket;
}

export interface ReconnectingWebSocketEvents {
  open: [OpenEvent];
  message: [data: WebSocket.RawData, isBinary: boolean];
  disconnect: [DisconnectEvent];
  reconnecting: [ReconnectingEvent];
  'give-up': [GiveUpEvent];
  drop: [DropEvent];
  drain: [];
  close: [CloseEvent];
  error: [Error];
}

export interface ReconnectingWebSocketStats {
  /** Connections opened. */
  readonly connects: number;
  /** Open connections lost (not counting `close()`). */
  readonly disconnects: number;
  /** Messages written to a socket. */
  readonly sent: number;
  /** Sum of `unconfirmed` over every disconnect and the final close. */
  readonly unconfirmed: number;
  /** Messages waiting for a connection. */
  readonly queued: number;
  /** Messages lost, by reason; each had a `'drop'` event. */
  readonly dropped: Readonly<Record<WsDropReason, number>> & { readonly total: number };
}

/**
 * One socket and what is known about it. It is also its heartbeat's hooks, and
 * the socket's listeners are shared functions that find it through the socket:
 * an idle connection then costs no closure per listener.
 */
class Connection {
  sent = 0;
  confirmed = 0;
  openedAt = 0;
  heartbeat: Heartbeat | undefined = undefined;
  lastError: Error | undefined = undefined;
  heartbeatTimedOut = false;

  constructor(
    readonly owner: ReconnectingWebSocket,
    readonly socket: WebSocket,
    readonly url: string,
  ) {}

  onDead(): void {
    this.heartbeatTimedOut = true;
    this.socket.terminate();
  }

  onConfirmed(sent: number): void {
    if (sent > this.confirmed) this.confirmed = sent;
  }

  sentCount(): number {
    return this.sent;
  }
}

const CONNECTION = Symbol('holdfast.connection');
type Tagged = { [CONNECTION]?: Connection };

function connectionOf(emitter: object): Connection {
  return (emitter as Tagged)[CONNECTION] as Connection;
}

type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments';

const NO_DROPS: Readonly<Record<WsDropReason, number>> = {
  overflow: 0,
  'too-large': 0,
  closed: 0,
  'give-up': 0,
  cleared: 0,
  'not-connected': 0,
  rejected: 0,
  expired: 0,
};

const CONNECTING = 0 as const;
const OPEN = 1 as const;
const CLOSING = 2 as const;
const CLOSED = 3 as const;

function closeError(code: number, reason: string): Error {
  return Object.assign(new Error(`WebSocket closed with code ${code}${reason === '' ? '' : ` (${redactText(reason)})`}`), { code: `WS_${code}` });
}

/** An upper bound of the bytes `data` takes on the wire (a UTF-16 unit is at most 3 bytes of UTF-8). */
function maxByteLength(data: SendData): number {
  return typeof data === 'string' ? data.length * 3 : data.byteLength;
}

/** Settles with `work`, or rejects as soon as `signal` aborts, so a hung URL provider or hook cannot hold `close()`. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/**
 * A WebSocket client that stays connected: it reconnects with jittered
 * backoff through core's Supervisor, detects dead connections with a
 * heartbeat, holds what is sent while disconnected in a bounded queue, stops
 * after close codes that mean "do not come back", and says what it could not
 * deliver. It has the browser WebSocket's surface plus Node events.
 */
export class ReconnectingWebSocket extends EventEmitter<ReconnectingWebSocketEvents> {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  // On the prototype (below the class), as in ws and the browser: not four fields in every socket.
  declare readonly CONNECTING: typeof CONNECTING;
  declare readonly OPEN: typeof OPEN;
  declare readonly CLOSING: typeof CLOSING;
  declare readonly CLOSED: typeof CLOSED;

  readonly name: string;

  readonly #url: UrlProvider;
  readonly #options: ResolvedOptions;
  readonly #supervisor: Supervisor<Connection>;
  // Both made on first use: most sockets never queue a message, and Node code rarely uses the browser-style listeners.
  #queue: OutboundQueue<SendData> | undefined;
  #web: WebListeners | undefined;
  #current: Connection | undefined;
  #lastUrl = '';
  #readyState: number = CONNECTING;
  #binaryType: BinaryType = 'nodebuffer';
  #needDrain = false;
  // Decided when the connection was lost (the 'disconnect' event says it), so that the Supervisor, asking about
  // that same fault, gets the same answer and a custom shouldReconnect is not called twice for one loss.
  #verdict: { readonly fault: Fault; readonly reconnect: boolean } | undefined;
  // The connection that close() closed, or (after a give-up) the last one lost: what the final 'close' reports.
  #lastClose: { code: number; reason: string; fault: Fault | undefined; unconfirmed: number } | undefined;
  #closeRequest: { code: number; reason: string } | undefined;
  #closing: Promise<void> | undefined;
  #connects = 0;
  #disconnects = 0;
  #sentTotal = 0;
  #unconfirmedTotal = 0;
  #dropped: Record<WsDropReason, number> | undefined;
  #checkDrainCallback: (() => void) | undefined;

  constructor(url: UrlProvider, options: ReconnectingWebSocketOptions = {}) {
    super();
    checkUrl(url);
    this.#url = url;
    this.#options = resolveOptions(options);
    this.name = this.#options.name;
    if (typeof url !== 'function') this.#lastUrl = redactText(url instanceof URL ? url.href : url);
    this.#supervisor = new Supervisor<Connection>({
      name: this.name,
      connect: (attempt) => this.#connect(attempt),
      dispose: (connection) => this.#dispose(connection),
      schedule: this.#options.schedule,
      minUptimeMs: this.#options.minUptimeMs,
      maxAttempts: this.#options.maxAttempts,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      random: this.#options.random,
      shouldReconnect: (fault, { attempt }) => this.#shouldReconnect(fault, attempt),
    });
    this.#supervisor.on('open', ({ attempt }) => this.#onOpen(attempt));
    this.#supervisor.on('reconnecting', ({ attempt, delayMs, fault }) => {
      this.#readyState = CONNECTING;
      this.#emit('reconnecting', { event: 'reconnecting', name: this.name, attempt, delayMs, fault });
    });
    this.#supervisor.on('give-up', ({ attempts, fault }) => {
      this.#emit('give-up', { event: 'give-up', name: this.name, attempts, fault });
      this.#lastClose ??= { code: 1006, reason: '', fault, unconfirmed: 0 };
      this.#lastClose.fault ??= fault;
    });
    this.#supervisor.on('closed', ({ reason }) => {
      if (reason === 'give-up') this.#finish('give-up');
    });
    this.#supervisor.start();
  }

  get readyState(): number {
    return this.#readyState;
  }

  /** The URL of the current (or last) connection, without credentials. */
  get url(): string {
    return this.#lastUrl;
  }

  get protocol(): string {
    return this.#current?.socket.protocol ?? '';
  }

  get extensions(): string {
    return this.#current?.socket.extensions ?? '';
  }

  /** Bytes written but not yet on the wire, plus bytes waiting in the queue. */
  get bufferedAmount(): number {
    return (this.#current?.socket.bufferedAmount ?? 0) + (this.#queue?.bytes ?? 0);
  }

  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(type: BinaryType) {
    if (!['nodebuffer', 'arraybuffer', 'fragments'].includes(type)) {
      throw new TypeError(`ReconnectingWebSocket: binaryType must be 'nodebuffer', 'arraybuffer' or 'fragments', got ${formatValue(type)}`);
    }
    this.#binaryType = type;
    if (this.#current !== undefined) this.#current.socket.binaryType = type;
  }

  get onopen(): ((event: WebOpenEvent) => void) | null {
    return (this.#web?.handler('open') ?? null) as ((event: WebOpenEvent) => void) | null;
  }

  set onopen(handler: ((event: WebOpenEvent) => void) | null) {
    this.#webListeners().setHandler('open', handler);
  }

  get onmessage(): ((event: WebMessageEvent) => void) | null {
    return (this.#web?.handler('message') ?? null) as ((event: WebMessageEvent) => void) | null;
  }

  set onmessage(handler: ((event: WebMessageEvent) => void) | null) {
    this.#webListeners().setHandler('message', handler);
  }

  get onclose(): ((event: WebCloseEvent) => void) | null {
    return (this.#web?.handler('close') ?? null) as ((event: WebCloseEvent) => void) | null;
  }

  set onclose(handler: ((event: WebCloseEvent) => void) | null) {
    this.#webListeners().setHandler('close', handler);
  }

  get onerror(): ((event: WebErrorEvent) => void) | null {
    return (this.#web?.handler('error') ?? null) as ((event: WebErrorEvent) => void) | null;
  }

  set onerror(handler: ((event: WebErrorEvent) => void) | null) {
    this.#webListeners().setHandler('error', handler);
  }

  addEventListener(type: WebEventType, listener: WebListener): void {
    this.#webListeners().add(type, listener);
  }

  removeEventListener(type: WebEventType, listener: WebListener): void {
    this.#web?.remove(type, listener);
  }

  /**
   * Sends on the open connection, or queues until the next one opens. Returns
   * false once `bufferedAmount` reaches `highWaterMarkBytes` (wait for
   * `'drain'`) or when the message was dropped (a `'drop'` event says why).
   * Throws `QueueFullError` only under the `'reject'` overflow policy.
   */
  send(data: SendData): boolean {
    const connection = this.#current;
    if (connection !== undefined && connection.socket.readyState === OPEN) {
      const socket = connection.socket;
      const highWaterMark = this.#options.highWaterMarkBytes;
      connection.sent++;
      // The common case: this message cannot take the buffer to the mark (16 bytes cover a frame header), so
      // there is nothing to check afterwards either.
      if (!this.#needDrain && socket.bufferedAmount + maxByteLength(data) + 16 < highWaterMark) {
        socket.send(data);
        return true;
      }
      // ws has no 'drain': a write callback tells when the buffer shrank.
      socket.send(data, (this.#checkDrainCallback ??= () => this.#checkDrain()));
      if (socket.bufferedAmount < highWaterMark) return true;
      this.#needDrain = true;
      return false;
    }
    return this.#enqueue(data);
  }

  /**
   * Final: closes the connection with `code` (1000 or 3000-4999) and
   * `reason`, stops reconnecting, drops what is still queued (with `'drop'`
   * events), and resolves once no timer or socket is left.
   */
  close(code?: number, reason?: string): Promise<void> {
    if (code !== undefined && code !== 1000 && !(Number.isInteger(code) && code >= 3000 && code <= 4999)) {
      throw new RangeError(`ReconnectingWebSocket.close: code must be 1000 or an integer in 3000-4999, got ${String(code)}`);
    }
    if (reason !== undefined && (typeof reason !== 'string' || Buffer.byteLength(reason) > 123)) {
      throw new RangeError('ReconnectingWebSocket.close: reason must be a string of at most 123 bytes (UTF-8)');
    }
    if (this.#closing !== undefined) return this.#closing;
    this.#closeRequest = { code: code ?? 1000, reason: reason ?? '' };
    // What an earlier disconnect reported is not this close's to report again.
    this.#lastClose = undefined;
    if (this.#readyState !== CLOSED) this.#readyState = CLOSING;
    this.#current?.heartbeat?.stop();
    const closing = this.#supervisor.close().then(() => this.#finish('close'));
    this.#closing = closing;
    return closing;
  }

  stats(): ReconnectingWebSocketStats {
    const dropped = { ...(this.#dropped ?? NO_DROPS) };
    return {
      connects: this.#connects,
      disconnects: this.#disconnects,
      sent: this.#sentTotal + (this.#current?.sent ?? 0),
      unconfirmed: this.#unconfirmedTotal,
      queued: this.#queue?.length ?? 0,
      dropped: { ...dropped, total: Object.values(dropped).reduce((sum, n) => sum + n, 0) },
    };
  }

  async #connect({ attempt, signal }: ConnectAttempt): Promise<Connection> {
    const target = typeof this.#url === 'function' ? await untilAborted(Promise.resolve(this.#url()), signal) : this.#url;
    checkUrl(target);
    const href = target instanceof URL ? target.href : target;
    const socket = new WebSocket(href, this.#options.protocols, this.#options.ws);
    const connection = new Connection(this, socket, redactText(href));
    (socket as Tagged)[CONNECTION] = connection;
    socket.binaryType = this.#binaryType;
    // Listeners for the socket's whole life: an 'error' with no listener would crash the process.
    socket.on('error', ReconnectingWebSocket.#onSocketError);
    socket.on('close', ReconnectingWebSocket.#onSocketCloseEvent);
    socket.on('upgrade', ReconnectingWebSocket.#onSocketUpgrade);
    await new Promise<void>((resolve, reject) => {
      const settle = (error?: Error): void => {
        signal.removeEventListener('abort', onAbort);
        socket.off('upgrade', ReconnectingWebSocket.#onSocketUpgrade);
        socket.off('open', onOpen);
        socket.off('close', onClose);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onAbort = (): void => socket.terminate();
      const onOpen = (): void => {
        // binaryType may have changed since the socket was created.
        socket.binaryType = this.#binaryType;
        settle();
        // Added once open, before any frame is read: ws emits 'open' in the same tick as it takes the socket over.
        // The handshake's listeners are gone by then, which keeps the socket's listener table small.
        socket.on('message', ReconnectingWebSocket.#onSocketMessage);
        socket.on('ping', ReconnectingWebSocket.#onSocketPing);
        socket.on('pong', ReconnectingWebSocket.#onSocketPong);
      };
      const onClose = (code: number, reason: Buffer): void => settle(connection.lastError ?? closeError(code, reason.toString()));
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('open', onOpen);
      socket.on('close', onClose);
    });
    const hook = this.#options.onOpen;
    if (hook !== undefined) {
      const send = (data: SendData): void => {
        if (socket.readyState !== OPEN) throw new Error(`${this.name}: the connection closed during onOpen`);
        connection.sent++;
        socket.send(data);
      };
      try {
        await untilAborted(
          new Promise<void>((resolve, reject) => {
            const onClose = (code: number, reason: Buffer): void => reject(connection.lastError ?? closeError(code, reason.toString()));
            socket.once('close', onClose);
            Promise.resolve(hook({ send, socket, attempt })).then(
              () => {
                socket.off('close', onClose);
                resolve();
              },
              (error: unknown) => {
                socket.off('close', onClose);
                reject(error instanceof Error ? error : new Error(String(error)));
              },
            );
          }),
          signal,
        );
      } catch (error) {
        socket.terminate();
        throw error;
      }
    }
    return connection;
  }

  // The socket's listeners, shared by every socket (`this` is the socket).
  static #onSocketError(this: WebSocket, error: Error): void {
    const connection = connectionOf(this);
    connection.lastError = error;
    connection.owner.#emitError(error);
  }

  static #onSocketMessage(this: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    const connection = connectionOf(this);
    connection.heartbeat?.heard();
    connection.owner.#deliver(data, isBinary);
  }

  // ws swallows errors of the TCP socket once open (a reset is only a 1006); the socket itself still tells why.
  static #onSocketUpgrade(this: WebSocket, response: IncomingMessage): void {
    const connection = connectionOf(this);
    response.socket.on('error', (error) => {
      connection.lastError ??= error;
    });
  }

  static #onSocketPing(this: WebSocket): void {
    connectionOf(this).heartbeat?.heard();
  }

  static #onSocketPong(this: WebSocket, payload: Buffer): void {
    connectionOf(this).heartbeat?.pong(payload);
  }

  static #onSocketCloseEvent(this: WebSocket, code: number, reason: Buffer): void {
    const connection = connectionOf(this);
    connection.owner.#onSocketClose(connection, code, reason.toString());
  }

  #onOpen(attempt: number): void {
    const connection = this.#supervisor.connection;
    if (connection === undefined || connection.socket.readyState !== OPEN) return;
    this.#current = connection;
    this.#lastUrl = connection.url;
    this.#connects++;
    connection.openedAt = performance.now();
    const heartbeat = this.#options.heartbeat;
    if (heartbeat !== false) {
      connection.heartbeat = new Heartbeat(connection.socket, heartbeat, connection);
    }
    this.#flush(connection);
    this.#readyState = OPEN;
    this.#emit('open', { event: 'open', name: this.name, attempt, url: connection.url });
    this.#checkDrain();
  }

  #flush(connection: Connection): void {
    const queue = this.#queue;
    if (queue === undefined) return;
    const socket = connection.socket;
    while (queue.length > 0 && socket.readyState === OPEN) {
      connection.sent++;
      socket.send(queue.shift() as SendData);
    }
  }

  #onSocketClose(connection: Connection, code: number, reason: string): void {
    connection.heartbeat?.stop();
    if (connection !== this.#current) return;
    this.#current = undefined;
    this.#sentTotal += connection.sent;
    if (this.#closeRequest !== undefined) {
      // Our close frame went out after every message; the peer's answer means it read them all.
      const unconfirmed = code === 1006 ? connection.sent - connection.confirmed : 0;
      this.#lastClose = { code, reason, fault: undefined, unconfirmed };
      return;
    }
    this.#disconnects++;
    const fault = this.#faultOf(connection, code, reason);
    const unconfirmed = connection.sent - connection.confirmed;
    const willReconnect = this.#decide(fault, { attempt: 0, closeCode: code });
    this.#verdict = { fault, reconnect: willReconnect };
    this.#readyState = willReconnect ? CONNECTING : CLOSING;
    // Reported here; a final 'close' after a give-up does not count these again.
    this.#lastClose = { code, reason, fault, unconfirmed: 0 };
    this.#unconfirmedTotal += unconfirmed;
    const uptimeMs = performance.now() - connection.openedAt;
    this.#emit('disconnect', { event: 'disconnect', name: this.name, code, reason, fault, unconfirmed, uptimeMs, willReconnect });
    // Our fault, not the Supervisor's reading of the error: only we know the close code or that the heartbeat timed out.
    this.#supervisor.lost(connection.lastError ?? closeError(code, reason), connection, fault);
  }

  #faultOf(connection: Connection, code: number, reason: string): Fault {
    if (connection.heartbeatTimedOut) {
      const heartbeat = this.#options.heartbeat as { intervalMs: number; timeoutMs: number };
      const error = Object.assign(new Error(`no pong within ${heartbeat.timeoutMs} ms of a ping`), { code: 'ETIMEDOUT' });
      return {
        ...classify(error, { phase: 'request' }),
        hint: 'the connection stopped carrying data (half-open: a peer or a NAT/proxy on the way vanished without closing); reconnecting',
      };
    }
    if (code === 1006 && connection.lastError !== undefined) return classify(connection.lastError, { phase: 'request' });
    return classifyCloseCode(code, reason);
  }

  #decide(fault: Fault, context: { attempt: number; closeCode?: number }): boolean {
    const custom = this.#options.shouldReconnect;
    if (custom === undefined) return context.closeCode === undefined || reconnectsAfterCloseCode(context.closeCode);
    try {
      return custom(fault, context);
    } catch (error) {
      process.emitWarning(`${this.name}: shouldReconnect threw, reconnecting anyway: ${String(error)}`, { type: 'HoldfastWarning' });
      return true;
    }
  }

  #shouldReconnect(fault: Fault, attempt: number): boolean {
    const verdict = this.#verdict;
    this.#verdict = undefined;
    return verdict?.fault === fault ? verdict.reconnect : this.#decide(fault, { attempt });
  }

  #dispose(connection: Connection): Promise<void> | undefined {
    const socket = connection.socket;
    if (socket.readyState === CLOSED) return undefined;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.terminate(), this.#options.closeTimeoutMs).unref();
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (socket.readyState === CONNECTING) socket.terminate();
      else if (socket.readyState === OPEN) socket.close(this.#closeRequest?.code ?? 1000, this.#closeRequest?.reason ?? '');
    });
  }

  #enqueue(data: SendData): boolean {
    if (this.#closeRequest !== undefined || this.#readyState === CLOSED) return this.#drop(data, 'closed', true);
    const options = this.#options.queue;
    if (options === false) return this.#drop(data, 'not-connected', true);
    const queue = (this.#queue ??= this.#createQueue(options));
    if (!queue.push(data)) return false;
    if (this.bufferedAmount < this.#options.highWaterMarkBytes) return true;
    this.#needDrain = true;
    return false;
  }

  #createQueue(options: Exclude<ResolvedOptions['queue'], false>): OutboundQueue<SendData> {
    const queue = new OutboundQueue<SendData>({
      name: `${this.name} send queue`,
      maxItems: options.maxMessages,
      maxBytes: options.maxBytes,
      overflow: options.overflow,
      highWaterMarkBytes: Math.min(this.#options.highWaterMarkBytes, options.maxBytes),
    });
    queue.on('drop', ({ item, reason }) => this.#drop(item, reason, false));
    return queue;
  }

  #webListeners(): WebListeners {
    return (this.#web ??= new WebListeners());
  }

  #drop(data: SendData, reason: WsDropReason, publishIt: boolean): false {
    const dropped = (this.#dropped ??= { ...NO_DROPS });
    dropped[reason]++;
    const event: DropEvent = { event: 'drop', name: this.name, data, reason };
    // The queue publishes its own drops on holdfast:drop; the ones decided here are published alike.
    if (publishIt) publish('drop', event);
    this.#emitLocal('drop', event);
    return false;
  }

  #checkDrain(): void {
    if (this.#needDrain && this.bufferedAmount < this.#options.highWaterMarkBytes) {
      this.#needDrain = false;
      this.#emitLocal('drain');
    }
  }

  #deliver(data: WebSocket.RawData, isBinary: boolean): void {
    this.emit('message', data, isBinary);
    const web = this.#web;
    if (web?.wants('message') === true) {
      // ws hands text frames over as a Buffer whatever the binaryType.
      web.dispatch({ type: 'message', data: isBinary ? data : (data as Buffer).toString(), target: this } as never);
    }
  }

  #emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    const web = this.#web;
    if (web?.wants('error') === true) web.dispatch({ type: 'error', error, message: error.message, target: this } as never);
  }

  #finish(reason: 'close' | 'give-up'): void {
    if (this.#readyState === CLOSED) return;
    this.#queue?.clear(reason === 'close' ? 'closed' : 'give-up');
    this.#readyState = CLOSED;
    const last = this.#lastClose;
    const request = this.#closeRequest;
    const code = last?.code ?? request?.code ?? 1006;
    const unconfirmed = last?.unconfirmed ?? 0;
    this.#unconfirmedTotal += unconfirmed;
    const event: CloseEvent = {
      event: 'close',
      name: this.name,
      code,
      reason: last?.reason ?? request?.reason ?? '',
      wasClean: code !== 1006,
      ...(last?.fault === undefined ? {} : { fault: last.fault }),
      unconfirmed,
    };
    this.#emit('close', event);
  }

  /** Node listeners, the diagnostics channel (`holdfast:reconnect`) and browser-style listeners. */
  #emit<K extends 'open' | 'disconnect' | 'reconnecting' | 'give-up' | 'close'>(name: K, payload: ReconnectingWebSocketEvents[K][0]): void {
    publish('reconnect', payload);
    this.#emitLocal(name, ...([payload] as ReconnectingWebSocketEvents[K]));
    const web = this.#web;
    if ((name === 'open' || name === 'close') && web?.wants(name) === true) {
      web.dispatch({ ...payload, type: name, target: this });
    }
  }

  /** A listener that throws must not break the connection that emitted the event. */
  #emitLocal<K extends keyof ReconnectingWebSocketEvents>(name: K, ...args: ReconnectingWebSocketEvents[K]): void {
    try {
      (this.emit as (name: K, ...args: ReconnectingWebSocketEvents[K]) => boolean)(name, ...args);
    } catch (error) {
      const detail = error instanceof Error ? error : new Error(String(error));
      process.emitWarning(`a '${name}' listener of ReconnectingWebSocket '${this.name}' threw: ${detail.message}`, {
        type: 'HoldfastListenerWarning',
        detail: detail.stack ?? '',
      });
    }
  }
}

for (const [name, value] of Object.entries({ CONNECTING, OPEN, CLOSING, CLOSED })) {
  Object.defineProperty(ReconnectingWebSocket.prototype, name, { value, enumerable: true });
}
