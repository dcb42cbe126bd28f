import type net from 'node:net';
import type tls from 'node:tls';
import { defaultReconnectSchedule, formatValue, type Fault, type OverflowPolicy, type ReconnectContext, type Schedule } from '@holdfast/core';
import { FRAMINGS, type Framing, type Payload } from './framing.js';

/** What the `onConnect` hook gets: the new connection, before anything queued is sent on it. */

/**
 * Core's `defaultReconnectSchedule`, which this package's herd benchmark and
 * test measure: full jitter over 2 s for the first five attempts, then x1.5
 * up to 30 s. A fleet that lost its server at once comes back spread out, and
 * a client refused a few times during a short restart does not then sit out a
 * long backoff.
 */
export const DEFAULT_NET_SCHEDULE: Schedule = defaultReconnectSchedule;

export interface ConnectContext {
  /** 1 for the first attempt since start or since the last stable connection, then 2, 3… */
  readonly attempt: number;
  /** Aborted when this connection closes or the attempt is abandoned (connect timeout, `close()`). */
  readonly signal: AbortSignal;
  /** The socket itself (a `tls.TLSSocket` with `tls`), for instance to read the peer certificate. Do not write to it or read from it directly. */
  readonly socket: net.Socket;
  /** Sends one message straight on this connection (framed as configured), ahead of the queue; not confirmed, not resent. */
  readonly send: (message: Payload) => void;
  /** The next message (a chunk, with framing `'raw'`) the peer sends on this connection; rejects if the connection closes first. */
  readonly receive: () => Promise<Buffer>;
}

export interface HeartbeatOptions {
  /** Send a ping after this long without receiving anything. */
  readonly intervalMs: number;
  /** Declare the connection dead when nothing at all arrives this long after a ping. */
  readonly timeoutMs: number;
  /** The ping message (framed as configured), or a function that makes one. The peer must answer with anything. */
  readonly ping: Payload | (() => Payload);
  /** Messages for which this returns true are pongs: they prove the peer alive and are not emitted as `'message'`/`'data'`. */
  readonly isPong?: (message: Buffer) => boolean;
}

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

export interface QueueOptions {
  /** Default 10 000. */
  readonly maxItems?: number;
  /** Default 8 MiB. */
  readonly maxBytes?: number;
  /** Default `'drop-oldest'`. */
  readonly overflow?: OverflowPolicy;
  /** `write()` returns false once the queue holds this many bytes. Default min(16 KiB, maxBytes). */
  readonly highWaterMarkBytes?: number;
  /** `write()` returns false once the queue holds this many messages. Default min(1024, maxItems). */
  readonly highWaterMarkItems?: number;
}

export interface ReconnectingSocketOptions {
  readonly port: number;
  /** Default `'localhost'`. */
  readonly host?: string;
  /** `true`, or `tls.connect` options (`ca`, `cert`, `key`, `servername`…). Certificates are always verified: pass `ca` for a private CA. */
  readonly tls?: boolean | Omit<tls.ConnectionOptions, 'host' | 'port' | 'socket' | 'path'>;
  /** Default `'raw'`. */
  readonly framing?: Framing;
  /** Largest message sent or received in a framed mode. Default 16 MiB. */
  readonly maxMessageBytes?: number;
  /** What waits while disconnected; `false` drops (with a `'drop'` event) whatever is written while disconnected. */
  readonly queue?: QueueOptions | false;
  /** Runs on every new connection before the queue flushes (handshake, auth, resubscribe). A throw or rejection fails the attempt. */
  readonly onConnect?: (context: ConnectContext) => void | Promise<void>;
  /** Application-level ping to detect half-open connections. Default off. */
  readonly heartbeat?: HeartbeatOptions | false;
  /** TCP keep-alive: first probe after this much idle time; 0 turns keep-alive off. Default 30 000 ms. */
  readonly keepAliveMs?: number;
  /** Drop (and reconnect) a connection on which nothing was sent or received for this long; 0 turns it off. Default 0. */
  readonly idleTimeoutMs?: number;
  /** Disable Nagle's algorithm. Default true. */
  readonly noDelay?: boolean;
  /** Acknowledgement protocol for framed modes; see ConfirmOptions. Default off. */
  readonly confirm?: ConfirmOptions;
  /** Reconnect delays. Default `DEFAULT_NET_SCHEDULE` (full jitter over 2 s for five attempts, then x1.5 up to 30 s). */
  readonly schedule?: Schedule;
  /** A connection up this long resets the backoff. Default 5 000 ms. */
  readonly minUptimeMs?: number;
  /** Give up after this many attempts without a stable connection. Default Infinity. */
  readonly maxAttempts?: number;
  /** Abandon a connect attempt (TCP, TLS and onConnect) after this long. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** Asked after every failure (`context.attempt`: 0 right after a connection was lost, then 1, 2…); false gives up. Default: always reconnect. */
  readonly shouldReconnect?: (fault: Fault, context: ReconnectContext) => boolean;
  /** Shown in events. Default `'net'`. */
  readonly name?: string;
  /** Uniform in [0, 1), for jitter. Default `Math.random`. */
  readonly random?: () => number;
}

export interface ResolvedOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: tls.ConnectionOptions | undefined;
  readonly framing: Framing;
  readonly maxMessageBytes: number;
  readonly heartbeat: HeartbeatOptions | undefined;
  readonly keepAliveMs: number;
  readonly idleTimeoutMs: number;
  readonly noDelay: boolean;
  readonly confirm: ConfirmOptions | undefined;
  readonly maxUnconfirmed: number;
}

function check(option: string, value: unknown, ok: boolean, accepted: string): void {
  if (!ok) throw new RangeError(`ReconnectingSocket: option '${option}' must be ${accepted}, got ${formatValue(value)}`);
}

// setTimeout fires at once (with a warning) above 2^31-1 ms.
const MAX_TIMER_MS = 2_147_483_647;
const isDuration = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_TIMER_MS;
const isPositiveDuration = (value: unknown): value is number => isDuration(value) && value > 0;
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** Validates the options this package owns; the Supervisor and OutboundQueue validate theirs. */
export function resolveOptions(options: ReconnectingSocketOptions): ResolvedOptions {
  check('options', options, isObject(options), 'an object');
  const {
    port,
    host = 'localhost',
    tls: tlsOption = false,
    framing = 'raw',
    maxMessageBytes = 16 * 1024 * 1024,
    heartbeat = false,
    keepAliveMs = 30_000,
    idleTimeoutMs = 0,
    noDelay = true,
    confirm,
    onConnect,
    queue,
  } = options;
  check('port', port, Number.isInteger(port) && port >= 1 && port <= 65_535, 'an integer from 1 to 65535');
  check('host', host, typeof host === 'string' && host.length > 0, 'a non-empty string');
  check('tls', tlsOption, typeof tlsOption === 'boolean' || isObject(tlsOption), 'a boolean or tls.connect options');
  if (isObject(tlsOption)) {
    check(
      'tls.rejectUnauthorized',
      tlsOption.rejectUnauthorized,
      tlsOption.rejectUnauthorized !== false,
      'true or absent: certificates are always verified (pass tls.ca to trust a private CA)',
    );
  }
  check('framing', framing, FRAMINGS.includes(framing), "'raw', 'lines' or 'length-prefixed'");
  check(
    'maxMessageBytes',
    maxMessageBytes,
    Number.isInteger(maxMessageBytes) && maxMessageBytes >= 1 && maxMessageBytes <= 0xffff_ffff,
    'an integer from 1 to 4294967295',
  );
  check('keepAliveMs', keepAliveMs, isDuration(keepAliveMs), `a number of milliseconds from 0 to ${MAX_TIMER_MS}`);
  check('idleTimeoutMs', idleTimeoutMs, isDuration(idleTimeoutMs), `a number of milliseconds from 0 to ${MAX_TIMER_MS}`);
  check('noDelay', noDelay, typeof noDelay === 'boolean', 'a boolean');
  check('onConnect', onConnect, onConnect === undefined || typeof onConnect === 'function', 'a function');
  check('queue', queue, queue === undefined || queue === false || isObject(queue), 'queue options or false');
  check('heartbeat', heartbeat, heartbeat === false || isObject(heartbeat), '{ intervalMs, timeoutMs, ping } or false');
  if (heartbeat !== false) {
    check('heartbeat.intervalMs', heartbeat.intervalMs, isPositiveDuration(heartbeat.intervalMs), 'a number of milliseconds > 0');
    check('heartbeat.timeoutMs', heartbeat.timeoutMs, isPositiveDuration(heartbeat.timeoutMs), 'a number of milliseconds > 0');
    check(
      'heartbeat.ping',
      heartbeat.ping,
      typeof heartbeat.ping === 'string' || heartbeat.ping instanceof Uint8Array || typeof heartbeat.ping === 'function',
      'a string, a Uint8Array or a function returning one',
    );
    check('heartbeat.isPong', heartbeat.isPong, heartbeat.isPong === undefined || typeof heartbeat.isPong === 'function', 'a function');
  }
  let maxUnconfirmed = 0;
  if (confirm !== undefined) {
    check('confirm', confirm, isObject(confirm), '{ sequenceOf, ackOf, maxUnconfirmed? }');
    check('framing', framing, framing !== 'raw', "'lines' or 'length-prefixed' when confirm is set (a raw stream has no message boundaries)");
    check('confirm.sequenceOf', confirm.sequenceOf, typeof confirm.sequenceOf === 'function', 'a function');
    check('confirm.ackOf', confirm.ackOf, typeof confirm.ackOf === 'function', 'a function');
    maxUnconfirmed = confirm.maxUnconfirmed ?? 1024;
    check('confirm.maxUnconfirmed', maxUnconfirmed, Number.isInteger(maxUnconfirmed) && maxUnconfirmed >= 1, 'an integer >= 1');
  }
  return {
    host,
    port,
    tls: tlsOption === false ? undefined : tlsOption === true ? {} : tlsOption,
    framing,
    maxMessageBytes,
    heartbeat: heartbeat === false ? undefined : heartbeat,
    keepAliveMs,
    idleTimeoutMs,
    noDelay,
    confirm,
    maxUnconfirmed,
  };
}
