import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import {
  classify,
  classifyCloseCode,
  redactText,
  Supervisor,
  TypedEvents,
  type ConnectAttempt,
  type DropReason,
  type Fault,
  type Listener,
  type ReconnectContext,
  type SupervisorEvents,
  type SupervisorState,
  type Unconfirmed,
} from '@holdfast/core';
import {
  formatValue,
  Heartbeat,
  InboundListeners,
  noDrops,
  numberLike,
  runConnectHook,
  SendBuffer,
  untilAborted,
  warnDeprecated,
  CONNECTION_CHANNELS,
  type SupervisorEventSink,
} from '@holdfast/core/internal';
import { reconnectsAfterCloseCode } from './close-code-policy.js';
import { Connection } from './connection.js';
import type {
  MessageListener,
  ReconnectingWebSocketEvents,
  ReconnectingWebSocketStats,
  WebCloseEvent,
  WebErrorEvent,
  WebMessageEvent,
  WebOpenEvent,
} from './events.js';
import { checkUrl, resolveOptions, type ReconnectingWebSocketOptions, type ResolvedOptions, type SendData, type UrlProvider } from './options.js';
import { WebListeners, type WebEventType, type WebListener } from './web-listeners.js';

type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments';
type Events = ReconnectingWebSocketEvents;
type WsConnection = Connection<ReconnectingWebSocket>;

const CONNECTING = 0 as const;
const OPEN = 1 as const;
const CLOSING = 2 as const;
const CLOSED = 3 as const;

// The lifecycle on the shared channels; 'error' is not published (the 'disconnect' that follows carries its fault).
const CHANNELS = { ...CONNECTION_CHANNELS, error: false } as const;

const NOTHING: Unconfirmed = Object.freeze({ messages: 0, bytes: 0 });

/**
 * @param unconfirmed what was sent and not confirmed, reported as `{ messages, bytes }`; it was a number of
 *   messages, and code that still adds or compares it as one keeps working for one release, with a warning.
 */
function unconfirmedReport(unconfirmed: Unconfirmed): Unconfirmed {
  return numberLike(
    { messages: unconfirmed.messages, bytes: unconfirmed.bytes },
    unconfirmed.messages,
    'HOLDFAST_DEP011',
    "ReconnectingWebSocket: 'unconfirmed' in 'disconnect' and 'close' is now { messages, bytes }; read unconfirmed.messages",
  );
}

/** EventEmitter's names, kept one release for code written when ReconnectingWebSocket was one. */
function warnEmitterName(method: string): void {
  warnDeprecated(
    'HOLDFAST_DEP014',
    `ReconnectingWebSocket.${method}() is EventEmitter's: the socket has core's on/once/off now (on() returns the function that removes the listener)`,
  );
}

function closeError(code: number, reason: string): Error {
  return Object.assign(new Error(`WebSocket closed with code ${code}${reason === '' ? '' : ` (${redactText(reason)})`}`), { code: `WS_${code}` });
}

/** The close-code policy (see close-code-policy.ts): the default `shouldReconnect`. One function for every socket. */
function closeCodePolicy(_fault: Fault, context: ReconnectContext): boolean {
  return context.closeCode === undefined || reconnectsAfterCloseCode(context.closeCode);
}

/** An upper bound of the bytes `data` takes on the wire (a UTF-16 unit is at most 3 bytes of UTF-8). */
function maxByteLength(data: SendData): number {
  return typeof data === 'string' ? data.length * 3 : data.byteLength;
}

const CONNECTION = Symbol('holdfast.connection');
type Tagged = { [CONNECTION]?: WsConnection };

function connectionOf(emitter: object): WsConnection {
  return (emitter as Tagged)[CONNECTION] as WsConnection;
}

/**
 * A WebSocket client that stays connected: it reconnects with jittered
 * backoff through core's Supervisor, detects dead connections with core's
 * heartbeat, holds what is sent while disconnected in core's send buffer,
 * stops after close codes that mean "do not come back", and says what it
 * could not deliver. It has the browser WebSocket's surface
 * (`addEventListener`, `onmessage`…) as a thin layer over its events, which
 * follow the contract of every holdfast object: `on`/`once`/`off` (`on`
 * returns the function that removes the listener), a listener that throws
 * becomes a process warning and breaks nothing, each event published once
 * on `node:diagnostics_channel`, and no `'error'` event or rejection escapes.
 */
export class ReconnectingWebSocket {
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
  readonly #supervisor: Supervisor<WsConnection>;
  readonly #events = new TypedEvents<Events>(CHANNELS);
  readonly #messages = new InboundListeners<WebSocket.RawData, boolean>('message');
  // Both made on first use: most sockets never queue a message, and Node code rarely uses the browser-style listeners.
  #sends: SendBuffer<SendData> | undefined;
  #web: WebListeners | undefined;
  #current: WsConnection | undefined;
  #lastUrl = '';
  #readyState: number = CONNECTING;
  #binaryType: BinaryType = 'nodebuffer';
  // What the socket's close said, for the 'disconnect' the Supervisor's 'lost' triggers right after.
  #lostReport: { readonly code: number; readonly reason: string; readonly unconfirmed: Unconfirmed } | undefined;
  // The connection that close() closed, or (after a give-up) the last one lost: what the final 'close' reports.
  #lastClose: { code: number; reason: string; fault: Fault | undefined; unconfirmed: Unconfirmed } | undefined;
  #closeRequest: { code: number; reason: string } | undefined;
  #closing: Promise<void> | undefined;
  #connects = 0;
  #disconnects = 0;
  #sentBefore = 0;
  #received = 0;
  #possiblyLost = 0;
  #checkDrainCallback: (() => void) | undefined;

  constructor(url: UrlProvider, options: ReconnectingWebSocketOptions = {}) {
    checkUrl(url);
    this.#url = url;
    this.#options = resolveOptions(options);
    this.name = this.#options.name;
    if (typeof url !== 'function') this.#lastUrl = redactText(url instanceof URL ? url.href : url);
    this.#supervisor = new Supervisor<WsConnection>({
      name: this.name,
      connect: (attempt) => this.#connect(attempt),
      dispose: (connection) => this.#dispose(connection),
      schedule: this.#options.schedule,
      minUptimeMs: this.#options.minUptimeMs,
      maxAttempts: this.#options.maxAttempts,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      random: this.#options.random,
      shouldReconnect: this.#options.shouldReconnect ?? closeCodePolicy,
      // The bridge: state, reconnecting and give-up are this socket's events, published once.
      forwardTo: this.#events as SupervisorEventSink,
    });
    this.#supervisor.on('open', ({ attempt }) => this.#onOpen(attempt));
    this.#supervisor.on('lost', (event) => this.#onLost(event));
    this.#supervisor.on('give-up', ({ fault }) => {
      this.#lastClose ??= { code: 1006, reason: '', fault, unconfirmed: NOTHING };
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

  /** The reconnect state: `connecting`, `open`, `waiting` (backoff), `closed`… */
  get state(): SupervisorState {
    return this.#supervisor.state;
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
    return (this.#current?.socket.bufferedAmount ?? 0) + (this.#sends?.bytes ?? 0);
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
   * Adds a listener; returns a function that removes it. `message` listeners
   * get `(data, isBinary)` as in `ws`. A listener that throws becomes a
   * process warning: the next one still runs and the connection carries on.
   */
  on(name: 'message', listener: MessageListener): () => void;
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void;
  on(name: keyof Events | 'message', listener: MessageListener | Listener<never>): () => void {
    if (name === 'message') {
      const messages = this.#messages;
      const onMessage = listener as MessageListener;
      messages.add(onMessage);
      return () => messages.remove(onMessage);
    }
    return this.#events.on(name, listener as Listener<Events[keyof Events]>);
  }

  /** Like `on`, but the listener runs once. */
  once(name: 'message', listener: MessageListener): () => void;
  once<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void;
  once(name: keyof Events | 'message', listener: MessageListener | Listener<never>): () => void {
    if (name === 'message') {
      const off = this.on('message', (data, isBinary) => {
        off();
        (listener as MessageListener)(data, isBinary);
      });
      return off;
    }
    return this.#events.once(name, listener as Listener<Events[keyof Events]>);
  }

  off(name: 'message', listener: MessageListener): void;
  off<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void;
  off(name: keyof Events | 'message', listener: MessageListener | Listener<never>): void {
    if (name === 'message') this.#messages.remove(listener as MessageListener);
    else this.#events.off(name, listener as Listener<Events[keyof Events]>);
  }

  /** @deprecated `on` (ReconnectingWebSocket was a Node EventEmitter; it has core's on/once/off now). */
  addListener(name: keyof Events | 'message', listener: (...args: never[]) => void): this {
    warnEmitterName('addListener');
    (this.on as (name: string, listener: (...args: never[]) => void) => () => void)(name, listener);
    return this;
  }

  /** @deprecated `off`. */
  removeListener(name: keyof Events | 'message', listener: (...args: never[]) => void): this {
    warnEmitterName('removeListener');
    (this.off as (name: string, listener: (...args: never[]) => void) => void)(name, listener);
    return this;
  }

  /** @deprecated The function `on` returns removes its listener. */
  removeAllListeners(name?: keyof Events | 'message'): this {
    warnEmitterName('removeAllListeners');
    if (name === undefined || name === 'message') this.#messages.clear();
    if (name === undefined) this.#events.clear();
    else if (name !== 'message') this.#events.removeAll(name);
    return this;
  }

  /**
   * Sends on the open connection, or queues until the next one opens. Returns
   * false (wait for `'drain'`) once `bufferedAmount` reaches
   * `highWaterMarkBytes` or the queue its high-water mark, and when the
   * message was dropped (a `'drop'` event says why). Throws `QueueFullError`
   * only under the `'reject'` overflow policy.
   */
  send(data: SendData): boolean {
    const connection = this.#current;
    if (connection !== undefined && connection.socket.readyState === OPEN) {
      const socket = connection.socket;
      const highWaterMark = this.#options.highWaterMarkBytes;
      connection.count(data);
      // The common case: this message cannot take the buffer to the mark (16 bytes cover a frame header), so
      // there is nothing to check afterwards either.
      if (this.#sends?.owingDrain !== true && socket.bufferedAmount + maxByteLength(data) + 16 < highWaterMark) {
        socket.send(data);
        return true;
      }
      // ws has no 'drain': a write callback tells when the buffer shrank.
      socket.send(data, (this.#checkDrainCallback ??= () => this.#checkDrain()));
      if (socket.bufferedAmount < highWaterMark) return true;
      this.#sendBuffer().owesDrain();
      return false;
    }
    return this.#enqueue(data);
  }

  /**
   * Final: closes the connection with `code` (1000 or 3000-4999) and
   * `reason`, stops reconnecting, drops what is still queued (with `'drop'`
   * events), and resolves once no timer or socket is left. Calling it again
   * returns the same promise.
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
    const current = this.#current;
    return {
      state: this.#supervisor.state,
      connects: this.#connects,
      disconnects: this.#disconnects,
      sent: this.#sentBefore + (current?.sent ?? 0),
      received: this.#received,
      queued: this.#sends?.length ?? 0,
      unconfirmed: current === undefined ? 0 : current.sent - current.confirmed,
      possiblyLost: this.#possiblyLost,
      dropped: this.#sends?.dropped() ?? noDrops(),
    };
  }

  async #connect({ attempt, signal }: ConnectAttempt): Promise<WsConnection> {
    const url = this.#url;
    const target = typeof url === 'function' ? await untilAborted(url, signal) : url;
    checkUrl(target);
    const href = target instanceof URL ? target.href : target;
    const socket = new WebSocket(href, this.#options.protocols, this.#options.ws);
    const connection: WsConnection = new Connection(this, socket, redactText(href));
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
    const hook = this.#options.onConnect;
    if (hook !== undefined) await this.#runHook(hook, connection, attempt, signal);
    return connection;
  }

  /** The connect hook, failing the attempt as soon as the socket closes under it or the attempt is abandoned. */
  async #runHook(hook: NonNullable<ResolvedOptions['onConnect']>, connection: WsConnection, attempt: number, abandoned: AbortSignal): Promise<void> {
    const socket = connection.socket;
    const closed = new AbortController();
    const onClose = (code: number, reason: Buffer): void => closed.abort(connection.lastError ?? closeError(code, reason.toString()));
    socket.once('close', onClose);
    const send = (data: SendData): void => {
      if (socket.readyState !== OPEN) throw new Error(`${this.name}: the connection closed during onConnect`);
      connection.count(data);
      socket.send(data);
    };
    try {
      await runConnectHook(hook, { attempt, signal: AbortSignal.any([closed.signal, abandoned]), socket, send }, closed.signal, abandoned);
    } catch (error) {
      socket.terminate();
      throw error;
    } finally {
      socket.off('close', onClose);
    }
  }

  // The socket's listeners, shared by every socket (`this` is the socket).
  static #onSocketError(this: WebSocket, error: Error): void {
    const connection = connectionOf(this);
    connection.lastError = error;
    connection.owner.#events.emit('error', error);
  }

  static #onSocketMessage(this: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    const connection = connectionOf(this);
    connection.heartbeat?.heard();
    const owner = connection.owner;
    owner.#received++;
    owner.#messages.emit(data, isBinary);
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
    connectionOf(this).pong(payload);
  }

  static #onSocketCloseEvent(this: WebSocket, code: number, reason: Buffer): void {
    const connection = connectionOf(this);
    connection.owner.#onSocketClose(connection, code, reason.toString());
  }

  #onOpen(attempt: number): void {
    const connection = this.#supervisor.connection;
    if (connection === undefined) return;
    this.#current = connection;
    const state = connection.socket.readyState;
    if (state !== OPEN) {
      // The peer's close frame came in while onConnect finished (the socket is CLOSING): its 'close' reports the
      // loss like any other, now that the connection is current. One that is already CLOSED will not say it again.
      if (state === CLOSED) this.#onSocketClose(connection, 1006, '');
      return;
    }
    this.#lastUrl = connection.url;
    this.#connects++;
    const heartbeat = this.#options.heartbeat;
    if (heartbeat !== false) {
      connection.heartbeat = new Heartbeat(heartbeat.intervalMs, heartbeat.timeoutMs, connection);
      connection.heartbeat.start();
    }
    const flushed = this.#flush(connection);
    this.#readyState = OPEN;
    this.#events.emit('open', { event: 'open', name: this.name, attempt, url: connection.url, flushed });
    this.#checkDrain();
  }

  #flush(connection: WsConnection): number {
    const sends = this.#sends;
    if (sends === undefined) return 0;
    const socket = connection.socket;
    let flushed = 0;
    while (sends.length > 0 && socket.readyState === OPEN) {
      const data = sends.shift() as SendData;
      connection.count(data);
      socket.send(data);
      flushed++;
    }
    return flushed;
  }

  #onSocketClose(connection: WsConnection, code: number, reason: string): void {
    connection.heartbeat?.stop();
    if (connection !== this.#current) return;
    this.#current = undefined;
    this.#sentBefore += connection.sent;
    if (this.#closeRequest !== undefined) {
      // Our close frame went out after every message; the peer's answer means it read them all.
      this.#lastClose = { code, reason, fault: undefined, unconfirmed: code === 1006 ? connection.unconfirmed() : NOTHING };
      return;
    }
    this.#disconnects++;
    const fault = this.#faultOf(connection, code, reason);
    this.#lostReport = { code, reason, unconfirmed: connection.unconfirmed() };
    // Reported by the 'disconnect'; a final 'close' after a give-up does not count these again.
    this.#lastClose = { code, reason, fault, unconfirmed: NOTHING };
    // Our fault, not the Supervisor's reading of the error: only we know the close code or that the heartbeat timed out.
    this.#supervisor.lost(connection.lastError ?? closeError(code, reason), connection, fault, { closeCode: code });
  }

  /** The Supervisor's 'lost', which has decided whether to reconnect: this socket's 'disconnect'. */
  #onLost(event: SupervisorEvents['lost']): void {
    const report = this.#lostReport ?? { code: 1006, reason: '', unconfirmed: NOTHING };
    this.#lostReport = undefined;
    this.#readyState = event.willReconnect ? CONNECTING : CLOSING;
    this.#possiblyLost += report.unconfirmed.messages;
    this.#events.emit('disconnect', {
      event: 'disconnect',
      name: this.name,
      fault: event.fault,
      unconfirmed: unconfirmedReport(report.unconfirmed),
      uptimeMs: event.uptimeMs,
      willReconnect: event.willReconnect,
      code: report.code,
      reason: report.reason,
    });
  }

  #faultOf(connection: WsConnection, code: number, reason: string): Fault {
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

  #dispose(connection: WsConnection): Promise<void> | undefined {
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
    const sends = this.#sendBuffer();
    if (this.#closeRequest !== undefined || this.#readyState === CLOSED) return sends.drop(data, 'closed');
    if (!sends.push(data)) return false;
    if (this.bufferedAmount < this.#options.highWaterMarkBytes) return true;
    sends.owesDrain();
    return false;
  }

  #sendBuffer(): SendBuffer<SendData> {
    return (this.#sends ??= new SendBuffer<SendData>(this.name, this.#options.queue, (data, reason) => this.#emitDrop(data, reason)));
  }

  #emitDrop(data: SendData, reason: DropReason): void {
    this.#events.emit('drop', { event: 'drop', name: this.name, reason, data });
  }

  #checkDrain(): void {
    if (this.#sends?.drainDue(this.bufferedAmount >= this.#options.highWaterMarkBytes) === true) {
      this.#events.emit('drain', { event: 'drain', name: this.name });
    }
  }

  /** The browser-style listeners: a layer over this socket's own events, made on first use. */
  #webListeners(): WebListeners {
    const web = this.#web;
    if (web !== undefined) return web;
    const listeners = (this.#web = new WebListeners());
    this.#events.on('open', (event) => listeners.dispatch({ ...event, type: 'open', target: this }));
    this.#events.on('close', (event) => listeners.dispatch({ ...event, type: 'close', target: this }));
    this.#events.on('error', (error) => listeners.dispatch({ type: 'error', error, message: error.message, target: this }));
    this.#messages.add((data, isBinary) => {
      // ws hands text frames over as a Buffer whatever the binaryType; a browser gives a string.
      if (listeners.wants('message')) listeners.dispatch({ type: 'message', data: isBinary ? data : (data as Buffer).toString(), target: this });
    });
    return listeners;
  }

  #finish(reason: 'close' | 'give-up'): void {
    if (this.#readyState === CLOSED) return;
    this.#sends?.clear(reason === 'close' ? 'closed' : 'give-up');
    this.#readyState = CLOSED;
    const last = this.#lastClose;
    const request = this.#closeRequest;
    const code = last?.code ?? request?.code ?? 1006;
    const unconfirmed = last?.unconfirmed ?? NOTHING;
    this.#possiblyLost += unconfirmed.messages;
    this.#events.emit('close', {
      event: 'close',
      name: this.name,
      gaveUp: reason === 'give-up',
      ...(last?.fault === undefined ? {} : { fault: last.fault }),
      code,
      reason: last?.reason ?? request?.reason ?? '',
      wasClean: code !== 1006,
      unconfirmed: unconfirmedReport(unconfirmed),
    });
    // Final: nothing more is emitted but a drop for what is sent after it (to listeners added then).
    this.#events.clear();
    this.#messages.clear();
    this.#web?.clear();
  }
}

for (const [name, value] of Object.entries({ CONNECTING, OPEN, CLOSING, CLOSED })) {
  Object.defineProperty(ReconnectingWebSocket.prototype, name, { value, enumerable: true });
}
