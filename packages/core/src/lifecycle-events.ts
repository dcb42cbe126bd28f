import type { Fault } from './fault.js';

/**
 * The events every long-lived holdfast object shares (a reconnecting socket,
 * a WebSocket, a database handle…): one payload shape per idea, so a
 * listener or a diagnostics-channel subscriber written for one object reads
 * them all. An object adds its own fields (`code` and `reason` on a
 * WebSocket's `disconnect`, `message` on a socket's `drop`), never renames
 * these. Numbers are rounded to what they mean (whole milliseconds).
 *
 * Published, once per event, on `holdfast:reconnect` (the lifecycle),
 * `holdfast:drop` and `holdfast:queue`: see `CONNECTION_CHANNELS`.
 */
export interface EventBase<E extends string> {
  readonly event: E;
  /** The object's `name` option, to tell objects apart. */
  readonly name: string;
}

/** Messages and bytes written to a connection that may not have reached the peer. */
export interface Unconfirmed {
  readonly messages: number;
  readonly bytes: number;
}

/** The reconnect state moved (`idle`, `connecting`, `open`, `lost`, `waiting`, `closed`). */
export interface StateEvent<S extends string = string> extends EventBase<'state'> {
  readonly from: S;
  readonly to: S;
}

/** A connection is up and ready: the connect hook ran and what waited was sent. */
export interface OpenEvent extends EventBase<'open'> {
  /** Attempts it took since the last stable connection (1 = first try). */
  readonly attempt: number;
}

/** An open connection was lost. */
export interface DisconnectEvent extends EventBase<'disconnect'> {
  readonly fault: Fault;
  /** Written to the lost connection without proof that the peer got it: it may be lost with it. */
  readonly unconfirmed: Unconfirmed;
  /** How long the connection was open, in whole milliseconds. */
  readonly uptimeMs: number;
  /** False when this loss ends the object (maxAttempts, shouldReconnect): a `give-up` and a `close` follow. */
  readonly willReconnect: boolean;
}

/** A reconnect is scheduled. */
export interface ReconnectingEvent extends EventBase<'reconnecting'> {
  /** The number of the coming attempt since the last stable connection. */
  readonly attempt: number;
  /** Whole milliseconds until it. */
  readonly delayMs: number;
  /** Why it is needed: the loss, or the failed attempt before it. */
  readonly fault: Fault;
}

/** Why an object stopped reconnecting by itself. */
export type ReconnectGiveUpReason = 'max-attempts' | 'should-reconnect';

/** No more attempts: the object closes (a `close` event follows). */
export interface ReconnectGiveUpEvent extends EventBase<'give-up'> {
  readonly attempts: number;
  readonly reason: ReconnectGiveUpReason;
  readonly fault: Fault;
}

/**
 * Why something given to a holdfast object will not be delivered (any more).
 * One vocabulary for every object; each uses the reasons that apply to it.
 */
export type DropReason =
  /** The queue was full (overflow policy `drop-oldest` or `drop-newest`). */
  | 'overflow'
  /** Larger than the queue's `maxBytes` on its own. */
  | 'too-large'
  /** Sent while disconnected with the queue off (`queue: false`). */
  | 'not-connected'
  /** Still waiting when the object was closed (`close()`, `shutdown()`), or given to it after. */
  | 'closed'
  /** Still waiting when the object gave up reconnecting. */
  | 'give-up'
  /** Thrown away by the owner's `clear()`. */
  | 'cleared'
  /** The peer refused it for good (a 400, a protocol mismatch): sending it again cannot help. */
  | 'rejected'
  /** Undelivered for longer than the object keeps things. */
  | 'expired';

/** Something will not be delivered; the object adds what it was (`message`, `data`, `items`…). */
export interface DropEvent extends EventBase<'drop'> {
  readonly reason: DropReason;
}

/** After a send returned false: there is room again. */
export type DrainEvent = EventBase<'drain'>;

/** Final: after `close()`, or after a give-up; no socket or timer is left. Fires once. */
export interface CloseEvent extends EventBase<'close'> {
  /** True when the object stopped by itself (a give-up), false after `close()`. */
  readonly gaveUp: boolean;
  /** The fault that ended it, after a give-up. */
  readonly fault?: Fault;
}

/** What `shouldReconnect(fault, context)` is told besides the fault. */
export interface ReconnectContext {
  /** Attempts since the last stable connection: 0 right after an open connection was lost, then 1, 2… after failed attempts. */
  readonly attempt: number;
  /** The close code, when the peer closed the connection with one (WebSocket). */
  readonly closeCode?: number;
}

/** The lifecycle every reconnecting object emits. */
export interface ConnectionEvents {
  state: StateEvent;
  open: OpenEvent;
  disconnect: DisconnectEvent;
  reconnecting: ReconnectingEvent;
  'give-up': ReconnectGiveUpEvent;
  drop: DropEvent;
  drain: DrainEvent;
  close: CloseEvent;
}

/** The diagnostics channel (without `holdfast:`) of each lifecycle event: one per idea, whatever the object. */
export const CONNECTION_CHANNELS = {
  state: 'reconnect',
  open: 'reconnect',
  disconnect: 'reconnect',
  reconnecting: 'reconnect',
  'give-up': 'reconnect',
  close: 'reconnect',
  drop: 'drop',
  drain: 'queue',
} as const satisfies { readonly [K in keyof ConnectionEvents]: string };
