import type { ClientOptions } from 'ws';
import type WebSocket from 'ws';
import {
  defaultReconnectSchedule,
  formatValue,
  resolveQueueOptions,
  type ConnectHookContext,
  type Fault,
  type HeartbeatOptions,
  type OverflowPolicy,
  type ReconnectContext,
  type ResolvedQueueOptions,
  type Schedule,
} from '@holdfast/core';

/** Where to connect: a URL, or a function asked before every attempt (rotating tokens, failover). */
export type UrlProvider = string | URL | (() => string | URL | Promise<string | URL>);

export interface SendQueueOptions {
  /** Most messages held while disconnected. Default 1 000. */
  readonly maxMessages?: number;
  /** Most bytes held while disconnected. Default 1 MiB. */
  readonly maxBytes?: number;
  /** What a full queue does with one more message. Default `'drop-oldest'`. */
  readonly overflow?: OverflowPolicy;
}

/** What the connect hook gets: the new socket, before any queued message is flushed; `signal` aborts if it closes or the attempt is abandoned. */
export interface ConnectContext extends ConnectHookContext {
  /** Sends on the new connection ahead of the queue (subscribe, authenticate). */
  readonly send: (data: SendData) => void;
  readonly socket: WebSocket;
}

/** @deprecated `ConnectContext`. */
export type OpenContext = ConnectContext;

export type { ReconnectContext };

export type SendData = string | Buffer | ArrayBuffer | ArrayBufferView;

export interface ReconnectingWebSocketOptions {
  /** Subprotocols, as for `new WebSocket(url, protocols)`. */
  readonly protocols?: string | string[];
  /** Options for `ws`'s client (headers, `ca`, `maxPayload`, `perMessageDeflate`…), used for every attempt. */
  readonly ws?: ClientOptions;
  /** Ping every `intervalMs`, terminate when no pong comes within `timeoutMs`. Default `{ intervalMs: 10_000, timeoutMs: 5_000 }`; `false` disables. */
  readonly heartbeat?: Partial<HeartbeatOptions> | false;
  /** Messages sent while disconnected wait here. `false`: they are dropped (with a `'drop'` event), for protocols where a late replay is wrong. */
  readonly queue?: SendQueueOptions | false;
  /** `send()` returns false once `bufferedAmount` reaches this, and `'drain'` follows when it falls below. Default 1 MiB. */
  readonly highWaterMarkBytes?: number;
  /** Runs on every new connection before the queue flushes and before `'open'`; a rejection fails the attempt. */
  readonly onOpen?: (context: ConnectContext) => void | Promise<void>;
  /** Delay before each reconnect. Default `DEFAULT_WS_SCHEDULE`: full jitter over 2 s for five attempts, then growing x1.5 up to 30 s. */
  readonly schedule?: Schedule;
  /** A connection that stays up this long resets the backoff. Default 5 000 ms. */
  readonly minUptimeMs?: number;
  /** Give up after this many attempts without a stable connection. Default Infinity. */
  readonly maxAttempts?: number;
  /** An attempt (TCP, TLS, upgrade and `onOpen`) that takes longer fails. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** How long `close()` waits for the peer's close frame before terminating. Default 3 000 ms. */
  readonly closeTimeoutMs?: number;
  /** Overrides the default policy (close codes, see the README); return false to stop for good. */
  readonly shouldReconnect?: (fault: Fault, context: ReconnectContext) => boolean;
  /** Shown in events. Default `'websocket'`. */
  readonly name?: string;
  /** Uniform in [0, 1), for the jitter. Default `Math.random`. */
  readonly random?: () => number;
}

/**
 * Core's `defaultReconnectSchedule`, which this package's herd benchmark and
 * test measure: full jitter over 2 s for the first five attempts, then x1.5
 * up to 30 s. A fleet that lost its server at once comes back spread out, and
 * a client refused a few times during a short restart does not then sit out a
 * long backoff.
 */
export const DEFAULT_WS_SCHEDULE: Schedule = defaultReconnectSchedule;

export interface ResolvedOptions {
  readonly protocols: string | string[] | undefined;
  readonly ws: ClientOptions;
  readonly heartbeat: Required<HeartbeatOptions> | false;
  readonly queue: ResolvedQueueOptions | false;
  readonly highWaterMarkBytes: number;
  readonly onConnect: ((context: ConnectContext) => void | Promise<void>) | undefined;
  readonly schedule: Schedule;
  readonly minUptimeMs: number;
  readonly maxAttempts: number;
  readonly connectTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly shouldReconnect: ((fault: Fault, context: ReconnectContext) => boolean) | undefined;
  readonly name: string;
  readonly random: () => number;
}

function check(option: string, value: unknown, ok: boolean, accepted: string): void {
  if (!ok) throw new RangeError(`ReconnectingWebSocket: option '${option}' must be ${accepted}, got ${formatValue(value)}`);
}

const isPositive = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value > 0;
const isObject = (value: unknown): value is object => typeof value === 'object' && value !== null;

export function checkUrl(url: unknown): void {
  if (typeof url === 'function') return;
  const text = url instanceof URL ? url.href : url;
  let ok = false;
  if (typeof text === 'string') {
    try {
      ok = ['ws:', 'wss:', 'http:', 'https:', 'ws+unix:'].includes(new URL(text).protocol);
    } catch {
      ok = false;
    }
  }
  // formatValue would print the URL, and a URL may carry credentials.
  if (!ok) {
    throw new TypeError(
      `ReconnectingWebSocket: url must be a ws:, wss:, http: or https: URL (string or URL) or a function returning one, got ${typeof url === 'string' ? 'an invalid URL string' : formatValue(url)}`,
    );
  }
}

// Shared by every socket that keeps the defaults: resolved options are read, never written.
const NO_WS_OPTIONS: ClientOptions = Object.freeze({});
const DEFAULT_HEARTBEAT: Required<HeartbeatOptions> = Object.freeze({ intervalMs: 10_000, timeoutMs: 5000 });
const DEFAULT_QUEUE: Required<SendQueueOptions> = Object.freeze({ maxMessages: 1000, maxBytes: 1024 * 1024, overflow: 'drop-oldest' });

let defaults: ResolvedOptions | undefined;

export function resolveOptions(options: ReconnectingWebSocketOptions): ResolvedOptions {
  check('options', options, isObject(options), 'an object');
  // Every socket made without options shares one resolved set.
  if (Reflect.ownKeys(options).length === 0 && Object.getPrototypeOf(options) === Object.prototype) {
    return (defaults ??= Object.freeze(resolve({})));
  }
  return resolve(options);
}

function resolve(options: ReconnectingWebSocketOptions): ResolvedOptions {
  const {
    protocols,
    ws = NO_WS_OPTIONS,
    heartbeat = {},
    queue = {},
    highWaterMarkBytes = 1024 * 1024,
    onOpen,
    schedule = DEFAULT_WS_SCHEDULE,
    minUptimeMs = 5000,
    maxAttempts = Infinity,
    connectTimeoutMs = 10_000,
    closeTimeoutMs = 3000,
    shouldReconnect,
    name = 'websocket',
    random = Math.random,
  } = options;
  check(
    'protocols',
    protocols,
    protocols === undefined || typeof protocols === 'string' || (Array.isArray(protocols) && protocols.every((p) => typeof p === 'string')),
    'a string or an array of strings',
  );
  check('ws', ws, isObject(ws), 'an object of ws client options');
  check('heartbeat', heartbeat, heartbeat === false || isObject(heartbeat), 'false or { intervalMs, timeoutMs }');
  let resolvedHeartbeat: Required<HeartbeatOptions> | false = false;
  if (heartbeat !== false) {
    const { intervalMs = DEFAULT_HEARTBEAT.intervalMs, timeoutMs = DEFAULT_HEARTBEAT.timeoutMs } = heartbeat;
    check('heartbeat.intervalMs', intervalMs, isPositive(intervalMs) && intervalMs <= 2_147_483_647, 'a number > 0 (milliseconds)');
    check('heartbeat.timeoutMs', timeoutMs, isPositive(timeoutMs) && timeoutMs <= 2_147_483_647, 'a number > 0 (milliseconds)');
    resolvedHeartbeat =
      intervalMs === DEFAULT_HEARTBEAT.intervalMs && timeoutMs === DEFAULT_HEARTBEAT.timeoutMs ? DEFAULT_HEARTBEAT : { intervalMs, timeoutMs };
  }
  check('queue', queue, queue === false || isObject(queue), 'false or { maxMessages, maxBytes, overflow }');
  let resolvedQueue: ResolvedQueueOptions | false = false;
  if (queue !== false) {
    const { maxMessages = DEFAULT_QUEUE.maxMessages, maxBytes = DEFAULT_QUEUE.maxBytes, overflow = DEFAULT_QUEUE.overflow } = queue;
    check(
      'queue.maxMessages',
      maxMessages,
      (Number.isInteger(maxMessages) && maxMessages >= 1) || maxMessages === Infinity,
      'an integer >= 1 or Infinity',
    );
    check('queue.maxBytes', maxBytes, isPositive(maxBytes) || maxBytes === Infinity, 'a number > 0 or Infinity');
    check('queue.overflow', overflow, ['reject', 'drop-oldest', 'drop-newest'].includes(overflow), "'reject', 'drop-oldest' or 'drop-newest'");
    // The queue's high-water mark is the socket's: send() returns false once bufferedAmount (queue included) reaches it.
    resolvedQueue = resolveQueueOptions('ReconnectingWebSocket', {
      maxItems: maxMessages,
      maxBytes,
      overflow,
      highWaterMarkItems: maxMessages,
      highWaterMarkBytes: Math.min(highWaterMarkBytes, maxBytes),
    });
  }
  check('highWaterMarkBytes', highWaterMarkBytes, isPositive(highWaterMarkBytes) || highWaterMarkBytes === Infinity, 'a number > 0 or Infinity');
  check('onOpen', onOpen, onOpen === undefined || typeof onOpen === 'function', 'a function');
  check(
    'schedule',
    schedule,
    isObject(schedule) && typeof (schedule as Partial<Schedule>).next === 'function',
    'a Schedule (exponential(), constant()…)',
  );
  check('minUptimeMs', minUptimeMs, typeof minUptimeMs === 'number' && Number.isFinite(minUptimeMs) && minUptimeMs >= 0, 'a finite number >= 0');
  check('maxAttempts', maxAttempts, (Number.isInteger(maxAttempts) && maxAttempts >= 1) || maxAttempts === Infinity, 'an integer >= 1 or Infinity');
  check(
    'connectTimeoutMs',
    connectTimeoutMs,
    (isPositive(connectTimeoutMs) && connectTimeoutMs <= 2_147_483_647) || connectTimeoutMs === Infinity,
    'a number > 0 or Infinity',
  );
  check('closeTimeoutMs', closeTimeoutMs, isPositive(closeTimeoutMs) && closeTimeoutMs <= 2_147_483_647, 'a number > 0');
  check('shouldReconnect', shouldReconnect, shouldReconnect === undefined || typeof shouldReconnect === 'function', 'a function');
  check('name', name, typeof name === 'string' && name.length > 0, 'a non-empty string');
  check('random', random, typeof random === 'function', 'a function returning a number in [0, 1)');
  return {
    protocols,
    ws,
    heartbeat: resolvedHeartbeat,
    queue: resolvedQueue,
    highWaterMarkBytes,
    onConnect: onOpen,
    schedule,
    minUptimeMs,
    maxAttempts,
    connectTimeoutMs,
    closeTimeoutMs,
    shouldReconnect,
    name,
    random,
  };
}
