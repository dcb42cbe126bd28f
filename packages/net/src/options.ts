import type net from 'node:net';
import type tls from 'node:tls';
import {
  defaultReconnectSchedule,
  type HeartbeatOptions as CoreHeartbeatOptions,
  type QueueOptions,
  type ReconnectOptions,
  type Schedule,
} from '@holdfast/core';
import {
  checkOptions,
  deprecatedSchedule,
  HEARTBEAT_DEFAULTS,
  heartbeatOptionRules,
  optionError,
  reconnectOptionRules,
  resolveQueueOptions,
  rule,
  type ConnectHookContext,
  type OptionRule,
  type ResolvedQueueOptions,
} from '@holdfast/core/internal';
import { FRAMINGS, type Framing, type Payload } from './framing.js';

/**
 * Core's `defaultReconnectSchedule` under its old name: deprecated, use
 * `defaultReconnectSchedule`. It warns (HOLDFAST_DEP002) the first time a
 * delay is asked of it.
 */
export const DEFAULT_NET_SCHEDULE: Schedule = deprecatedSchedule(
  defaultReconnectSchedule,
  'HOLDFAST_DEP002',
  "@holdfast/net: DEFAULT_NET_SCHEDULE is core's defaultReconnectSchedule; import that name from @holdfast/core",
);

/** What the `onConnect` hook gets: the new connection, before anything queued is sent on it. */
export interface ConnectContext extends ConnectHookContext {
  /** The socket itself (a `tls.TLSSocket` with `tls`), for instance to read the peer certificate. Do not write to it or read from it directly. */
  readonly socket: net.Socket;
  /** Sends one message straight on this connection (framed as configured), ahead of the queue; not confirmed, not resent. */
  readonly send: (message: Payload) => void;
  /** The next message (a chunk, with framing `'raw'`) the peer sends on this connection; rejects if the connection closes first. */
  readonly receive: () => Promise<Buffer>;
}

/** Core's `HeartbeatOptions` (`intervalMs`, `timeoutMs`, same defaults), plus the ping a TCP protocol has to define itself. */
export interface NetHeartbeatOptions extends CoreHeartbeatOptions {
  /** The ping message (framed as configured), or a function that makes one. The peer must answer with anything. */
  readonly ping: Payload | (() => Payload);
  /** Messages for which this returns true are pongs: they prove the peer alive and are not emitted as `'message'`/`'data'`. */
  readonly isPong?: (message: Buffer) => boolean;
}

/** @deprecated `NetHeartbeatOptions` (core's `HeartbeatOptions` plus the ping). */
export type HeartbeatOptions = NetHeartbeatOptions;

/**
 * An acknowledgement protocol, for delivery that survives reconnects: every
 * message carries a sequence number (your protocol puts it there), the peer
 * confirms the highest one it has (cumulatively), and messages not yet
 * confirmed are sent again, whole and in order, after a reconnect.
 */
export interface ConfirmOptions {
  /** The sequence number an outgoing message carries; must increase from one `write()`/`send()` to the next. */
  readonly sequenceOf: (message: Payload) => number;
  /** The highest sequence number an incoming message confirms, or undefined when it confirms nothing. */
  readonly ackOf: (message: Buffer) => number | undefined;
  /** Most messages awaiting confirmation; later ones wait in the queue until acknowledgements arrive. Default 1024. */
  readonly maxUnconfirmed?: number;
}

/** Core's `QueueOptions`: the one queue shape (`maxItems`, `maxBytes`, `overflow`, high-water marks) and defaults. */
export type { QueueOptions };

export interface ReconnectingSocketOptions extends ReconnectOptions {
  readonly port: number;
  /** Default `'localhost'`. */
  readonly host?: string;
  /** `true`, or `tls.connect` options (`ca`, `cert`, `key`, `servername`…). Certificates are always verified: pass `ca` for a private CA. */
  readonly tls?: boolean | Omit<tls.ConnectionOptions, 'host' | 'port' | 'socket' | 'path'>;
  /** Default `'raw'`. */
  readonly framing?: Framing;
  /** Largest message sent or received in a framed mode. Default 16 MiB. */
  readonly maxMessageBytes?: number;
  /** What waits while disconnected (core's queue shape and defaults); `false` drops (with a `'drop'` event) whatever is written while disconnected. */
  readonly queue?: QueueOptions | false;
  /** Runs on every new connection before the queue flushes (handshake, auth, resubscribe). A throw or rejection fails the attempt. */
  readonly onConnect?: (context: ConnectContext) => void | Promise<void>;
  /** Application-level ping to detect half-open connections. Default off (a TCP protocol has no ping of its own). */
  readonly heartbeat?: NetHeartbeatOptions | false;
  /** TCP keep-alive: first probe after this much idle time; 0 turns keep-alive off. Default 30 000 ms. */
  readonly keepAliveMs?: number;
  /** Drop (and reconnect) a connection on which nothing was sent or received for this long; 0 turns it off. Default 0. */
  readonly idleTimeoutMs?: number;
  /** Disable Nagle's algorithm. Default true. */
  readonly noDelay?: boolean;
  /** Acknowledgement protocol for framed modes; see ConfirmOptions. Default off. */
  readonly confirm?: ConfirmOptions;
  /** Shown in events. Default `'net'`. */
  readonly name?: string;
}

/** The options after the defaults: read, never written. */
export interface ResolvedOptions {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly tls: tls.ConnectionOptions | undefined;
  readonly framing: Framing;
  readonly maxMessageBytes: number;
  readonly queue: ResolvedQueueOptions | false;
  readonly onConnect: ((context: ConnectContext) => void | Promise<void>) | undefined;
  readonly heartbeat: (Required<CoreHeartbeatOptions> & Pick<NetHeartbeatOptions, 'ping' | 'isPong'>) | undefined;
  readonly keepAliveMs: number;
  readonly idleTimeoutMs: number;
  readonly noDelay: boolean;
  readonly confirm: ConfirmOptions | undefined;
  readonly maxUnconfirmed: number;
  readonly schedule: Schedule;
  readonly minUptimeMs: number;
  readonly maxAttempts: number;
  readonly connectTimeoutMs: number;
  readonly shouldReconnect: ReconnectOptions['shouldReconnect'];
  readonly random: () => number;
}

const WHERE = 'ReconnectingSocket';

const tlsRule: OptionRule = {
  test: (v) => typeof v === 'boolean' || (typeof v === 'object' && v !== null),
  accepted: 'a boolean or tls.connect options',
};

const RULES = {
  ...reconnectOptionRules,
  port: rule.integer(1, 65_535),
  host: rule.string(),
  tls: tlsRule,
  framing: rule.oneOf(FRAMINGS),
  maxMessageBytes: rule.integer(1, 0xffff_ffff),
  queue: rule.objectOrFalse('queue options ({ maxItems, maxBytes, overflow, highWaterMarkItems, highWaterMarkBytes })'),
  onConnect: rule.function('({ attempt, signal, socket, send, receive }) => void or a Promise'),
  heartbeat: rule.objectOrFalse('{ intervalMs, timeoutMs, ping, isPong? }'),
  keepAliveMs: rule.timerMs(0),
  idleTimeoutMs: rule.timerMs(0),
  noDelay: rule.boolean(),
  confirm: rule.object('{ sequenceOf, ackOf, maxUnconfirmed? }'),
  name: rule.string(),
};

const pingRule: OptionRule = {
  test: (v) => typeof v === 'string' || v instanceof Uint8Array || typeof v === 'function',
  accepted: 'a string, a Uint8Array or a function returning one',
};

const HEARTBEAT_RULES = { ...heartbeatOptionRules, ping: pingRule, isPong: rule.function('(message) => boolean') };

const CONFIRM_RULES = {
  sequenceOf: rule.function('(message) => number'),
  ackOf: rule.function('(message) => number | undefined'),
  maxUnconfirmed: rule.integer(1),
};

/** Checks the options (unknown keys refused with a did-you-mean hint) and fills in the defaults, all in one block below. */
export function resolveOptions(options: ReconnectingSocketOptions): ResolvedOptions {
  checkOptions(WHERE, options, RULES);
  const {
    port,
    host = 'localhost',
    tls: tlsOption = false,
    framing = 'raw',
    maxMessageBytes = 16 * 1024 * 1024,
    queue = {},
    onConnect,
    heartbeat = false,
    keepAliveMs = 30_000,
    idleTimeoutMs = 0,
    noDelay = true,
    confirm,
    schedule = defaultReconnectSchedule,
    minUptimeMs = 5000,
    maxAttempts = Infinity,
    connectTimeoutMs = 10_000,
    shouldReconnect,
    random = Math.random,
    name = 'net',
  } = options;
  if ((port as unknown) === undefined) throw optionError(WHERE, 'port', port, RULES.port.accepted);
  if (typeof tlsOption === 'object' && tlsOption.rejectUnauthorized === false) {
    throw optionError(WHERE, 'tls.rejectUnauthorized', false, 'true or absent: certificates are always verified (pass tls.ca to trust a private CA)');
  }
  return {
    name,
    host,
    port,
    tls: tlsOption === false ? undefined : tlsOption === true ? {} : tlsOption,
    framing,
    maxMessageBytes,
    queue: queue === false ? false : resolveQueueOptions(WHERE, queue, { path: 'queue' }),
    onConnect,
    heartbeat: heartbeat === false ? undefined : resolveHeartbeat(heartbeat),
    keepAliveMs,
    idleTimeoutMs,
    noDelay,
    confirm: confirm === undefined ? undefined : checkConfirm(confirm, framing),
    maxUnconfirmed: confirm?.maxUnconfirmed ?? 1024,
    schedule,
    minUptimeMs,
    maxAttempts,
    connectTimeoutMs,
    shouldReconnect,
    random,
  };
}

function resolveHeartbeat(heartbeat: NetHeartbeatOptions): NonNullable<ResolvedOptions['heartbeat']> {
  checkOptions(WHERE, heartbeat, HEARTBEAT_RULES, { path: 'heartbeat' });
  const { intervalMs = HEARTBEAT_DEFAULTS.intervalMs, timeoutMs = HEARTBEAT_DEFAULTS.timeoutMs, ping, isPong } = heartbeat;
  if ((ping as unknown) === undefined) throw optionError(WHERE, 'heartbeat.ping', ping, pingRule.accepted);
  return { intervalMs, timeoutMs, ping, ...(isPong === undefined ? {} : { isPong }) };
}

function checkConfirm(confirm: ConfirmOptions, framing: Framing): ConfirmOptions {
  checkOptions(WHERE, confirm, CONFIRM_RULES, { path: 'confirm' });
  if (framing === 'raw') {
    throw optionError(WHERE, 'framing', framing, "'lines' or 'length-prefixed' when confirm is set (a raw stream has no message boundaries)");
  }
  if (typeof confirm.sequenceOf !== 'function') throw optionError(WHERE, 'confirm.sequenceOf', confirm.sequenceOf, CONFIRM_RULES.sequenceOf.accepted);
  if (typeof confirm.ackOf !== 'function') throw optionError(WHERE, 'confirm.ackOf', confirm.ackOf, CONFIRM_RULES.ackOf.accepted);
  return confirm;
}
