import type { ClientOptions } from 'ws';
import type WebSocket from 'ws';
import {
  defaultReconnectSchedule,
  type Fault,
  type HeartbeatOptions,
  type QueueOptions,
  type ReconnectContext,
  type ReconnectOptions,
  type Schedule,
} from '@holdfast/core';
import {
  checkOptions,
  deprecatedSchedule,
  formatValue,
  HEARTBEAT_DEFAULTS,
  heartbeatOptionRules,
  queueOptionRules,
  reconnectOptionRules,
  resolveQueueOptions,
  rule,
  warnDeprecated,
  type ConnectHookContext,
  type OptionRule,
  type ResolvedQueueOptions,
} from '@holdfast/core/internal';

/** Where to connect: a URL, or a function asked before every attempt (rotating tokens, failover). */
export type UrlProvider = string | URL | (() => string | URL | Promise<string | URL>);

export type SendData = string | Buffer | ArrayBuffer | ArrayBufferView;

/** Core's `QueueOptions`, the one queue shape; `maxMessages` is its old name for `maxItems`. */
export interface SendQueueOptions extends QueueOptions {
  /** @deprecated `maxItems`. */
  readonly maxMessages?: number;
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

type ConnectHook = (context: ConnectContext) => void | Promise<void>;

export interface ReconnectingWebSocketOptions extends ReconnectOptions {
  /** Subprotocols, as for `new WebSocket(url, protocols)`. */
  readonly protocols?: string | string[];
  /** Options for `ws`'s client (headers, `ca`, `maxPayload`, `perMessageDeflate`…), used for every attempt. */
  readonly ws?: ClientOptions;
  /** Core's heartbeat, with ping/pong frames. Default `{ intervalMs: 10_000, timeoutMs: 5_000 }`; `false` disables. */
  readonly heartbeat?: HeartbeatOptions | false;
  /** Messages sent while disconnected wait here (core's `QueueOptions`). `false`: they are dropped (with a `'drop'` event), for protocols where a late replay is wrong. */
  readonly queue?: SendQueueOptions | false;
  /** `send()` returns false once `bufferedAmount` (the open socket's buffer and the queue) reaches this, and `'drain'` follows when it falls below. Default 1 MiB. */
  readonly highWaterMarkBytes?: number;
  /** Runs on every new connection before the queue flushes and before `'open'` (authenticate, resubscribe); a throw or rejection fails the attempt. */
  readonly onConnect?: ConnectHook;
  /** @deprecated `onConnect` (the same hook; its context now has `signal`). */
  readonly onOpen?: ConnectHook;
  /** How long `close()` waits for the peer's close frame before terminating. Default 3 000 ms. */
  readonly closeTimeoutMs?: number;
  /** Replaces the close-code policy (see the README); `(fault, { attempt, closeCode })`, return false to stop for good. */
  readonly shouldReconnect?: (fault: Fault, context: ReconnectContext) => boolean;
  /** Shown in events. Default `'websocket'`. */
  readonly name?: string;
}

/**
 * Core's `defaultReconnectSchedule` under its old name: deprecated, use
 * `defaultReconnectSchedule`. It warns (HOLDFAST_DEP003) the first time a
 * delay is asked of it.
 */
export const DEFAULT_WS_SCHEDULE: Schedule = deprecatedSchedule(
  defaultReconnectSchedule,
  'HOLDFAST_DEP003',
  "@holdfast/ws: DEFAULT_WS_SCHEDULE is core's defaultReconnectSchedule; import that name from @holdfast/core",
);

/** The options after the defaults: read, never written. */
export interface ResolvedOptions {
  readonly protocols: string | string[] | undefined;
  readonly ws: ClientOptions;
  readonly heartbeat: Required<HeartbeatOptions> | false;
  readonly queue: ResolvedQueueOptions | false;
  readonly highWaterMarkBytes: number;
  readonly onConnect: ConnectHook | undefined;
  readonly schedule: Schedule;
  readonly minUptimeMs: number;
  readonly maxAttempts: number;
  readonly connectTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly shouldReconnect: ((fault: Fault, context: ReconnectContext) => boolean) | undefined;
  readonly name: string;
  readonly random: () => number;
}

const WHERE = 'ReconnectingWebSocket';

const protocolsRule: OptionRule = {
  test: (v) => typeof v === 'string' || (Array.isArray(v) && v.every((p) => typeof p === 'string')),
  accepted: 'a string or an array of strings',
};

const RULES = {
  ...reconnectOptionRules,
  protocols: protocolsRule,
  ws: rule.object('an object of ws client options'),
  heartbeat: rule.objectOrFalse('{ intervalMs, timeoutMs }'),
  queue: rule.objectOrFalse('{ maxItems, maxBytes, overflow, highWaterMarkItems, highWaterMarkBytes }'),
  highWaterMarkBytes: { test: (v) => typeof v === 'number' && v > 0, accepted: 'a number > 0 or Infinity' } satisfies OptionRule,
  onConnect: rule.function('({ attempt, signal, socket, send }) => void or a Promise'),
  onOpen: rule.function('(the old name of onConnect)'),
  closeTimeoutMs: rule.timerMs(),
  name: rule.string(),
};

const QUEUE_RULES = { ...queueOptionRules, maxMessages: queueOptionRules.maxItems as OptionRule };

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
const DEFAULT_HEARTBEAT: Required<HeartbeatOptions> = HEARTBEAT_DEFAULTS;

let defaults: ResolvedOptions | undefined;

/** Checks the options (unknown keys refused with a did-you-mean hint) and fills in the defaults, all in one block below. */
export function resolveOptions(options: ReconnectingWebSocketOptions): ResolvedOptions {
  // Every socket made without options shares one resolved set.
  if (typeof options === 'object' && (options as unknown) !== null && Reflect.ownKeys(options).length === 0) {
    if (Object.getPrototypeOf(options) === Object.prototype) return (defaults ??= Object.freeze(resolve({})));
  }
  return resolve(options);
}

function resolve(options: ReconnectingWebSocketOptions): ResolvedOptions {
  checkOptions(WHERE, options, RULES);
  const {
    protocols,
    ws = NO_WS_OPTIONS,
    heartbeat = DEFAULT_HEARTBEAT,
    queue = {},
    highWaterMarkBytes = 1024 * 1024,
    onConnect,
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- read to keep the old name working (with a warning)
    onOpen,
    schedule = defaultReconnectSchedule,
    minUptimeMs = 5000,
    maxAttempts = Infinity,
    connectTimeoutMs = 10_000,
    closeTimeoutMs = 3000,
    shouldReconnect,
    name = 'websocket',
    random = Math.random,
  } = options;
  return {
    protocols,
    ws,
    heartbeat: resolveHeartbeat(heartbeat),
    queue: queue === false ? false : resolveQueue(queue),
    highWaterMarkBytes,
    onConnect: resolveHook(onConnect, onOpen),
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

function resolveHeartbeat(heartbeat: HeartbeatOptions | false): Required<HeartbeatOptions> | false {
  if (heartbeat === false || heartbeat === DEFAULT_HEARTBEAT) return heartbeat as Required<HeartbeatOptions> | false;
  checkOptions(WHERE, heartbeat, heartbeatOptionRules, { path: 'heartbeat' });
  const { intervalMs = DEFAULT_HEARTBEAT.intervalMs, timeoutMs = DEFAULT_HEARTBEAT.timeoutMs } = heartbeat;
  return intervalMs === DEFAULT_HEARTBEAT.intervalMs && timeoutMs === DEFAULT_HEARTBEAT.timeoutMs ? DEFAULT_HEARTBEAT : { intervalMs, timeoutMs };
}

function resolveQueue(queue: SendQueueOptions): ResolvedQueueOptions {
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- read to keep the old name working (with a warning)
  const { maxMessages, ...shared } = queue;
  if (maxMessages !== undefined) {
    warnDeprecated('HOLDFAST_DEP010', "ReconnectingWebSocket: option 'queue.maxMessages' is now 'queue.maxItems' (core's one queue shape)");
    if (shared.maxItems !== undefined) throw new TypeError(`${WHERE}: give 'queue.maxItems' or its old name 'queue.maxMessages', not both`);
    checkOptions(WHERE, queue, QUEUE_RULES, { path: 'queue' });
    return resolveQueueOptions(WHERE, { ...shared, maxItems: maxMessages }, { path: 'queue' });
  }
  return resolveQueueOptions(WHERE, queue, { path: 'queue' });
}

function resolveHook(onConnect: ConnectHook | undefined, onOpen: ConnectHook | undefined): ConnectHook | undefined {
  if (onOpen === undefined) return onConnect;
  warnDeprecated('HOLDFAST_DEP009', "ReconnectingWebSocket: option 'onOpen' is now 'onConnect' (the same hook; its context has a signal)");
  if (onConnect !== undefined) throw new TypeError(`${WHERE}: give 'onConnect' or its old name 'onOpen', not both`);
  return onOpen;
}
