import type {
  CloseEvent as SharedCloseEvent,
  DisconnectEvent as SharedDisconnectEvent,
  DrainEvent,
  DropEvent as SharedDropEvent,
  DropReason,
  OpenEvent as SharedOpenEvent,
  ReconnectGiveUpEvent,
  ReconnectingEvent,
  StateEvent,
  SupervisorState,
  Unconfirmed,
} from '@holdfast/core';
import type { Payload } from './framing.js';

/** @deprecated Core's `DropReason`: one vocabulary for every holdfast object. */
export type NetDropReason = DropReason;

/** @deprecated Core's `Unconfirmed`. */
export type UnconfirmedReport = Unconfirmed;

/**
 * The lifecycle events of a ReconnectingSocket: core's shared payloads (the
 * same as every reconnecting holdfast object's) with the socket's own fields.
 * Each is published, once, on `node:diagnostics_channel`: the lifecycle on
 * `holdfast:reconnect`, `drop` on `holdfast:drop`, `drain` on `holdfast:queue`.
 */
export interface ReconnectingSocketEvents {
  /** The reconnect state moved: `idle`, `connecting`, `open`, `lost`, `waiting`, `closed`. */
  state: StateEvent<SupervisorState>;
  /** A connection is up, `onConnect` has run, and unconfirmed then queued messages were written to it. (It was `'connect'`.) */
  open: SharedOpenEvent & {
    /** Unconfirmed messages sent again (with `confirm`). */
    readonly resent: number;
    /** Queued messages written. */
    readonly flushed: number;
  };
  /**
   * An open connection was lost. `unconfirmed`: with `confirm`, the messages
   * not yet acknowledged, exactly (they are sent again after the reconnect).
   * Without: the messages written since the peer last sent anything. TCP
   * cannot tell which of the bytes written to a connection that failed
   * arrived, so this is exact only for a request/response protocol with one
   * request outstanding (the answer is the proof); with pipelined or one-way
   * traffic a message written before the peer's last answer may be lost too,
   * up to `sent`. None is sent again.
   */
  disconnect: SharedDisconnectEvent & {
    /** Everything written to the lost connection: the most that can have been lost with it. (It was `written`.) */
    readonly sent: Unconfirmed;
    /** True when the unconfirmed messages will be sent again (`confirm` is configured). */
    readonly resend: boolean;
    /** Bytes of a partly received frame that were lost with the connection. */
    readonly partialInboundBytes: number;
  };
  reconnecting: ReconnectingEvent;
  /** No more attempts (maxAttempts reached, or shouldReconnect said no); the socket closes. */
  'give-up': ReconnectGiveUpEvent;
  /**
   * A message will not be sent. `outcome: 'not-sent'`: it never reached a
   * socket. `outcome: 'unknown'`: it was written to a connection that then
   * died and was never acknowledged (with `confirm`), so the peer may or may not have it.
   */
  drop: SharedDropEvent & { readonly message: Payload; readonly outcome: 'not-sent' | 'unknown' };
  /** After `write()`/`send()` returned false: the queue and the socket buffer are empty again. */
  drain: DrainEvent;
  /** Final: after `close()` (or a give-up), once no socket or timer is left. */
  close: SharedCloseEvent;
}

/** Per-chunk and per-frame events; not published on a diagnostics channel (they carry application data). */
export interface InboundEvents {
  /** A received chunk, with framing `'raw'`. */
  data: Buffer;
  /** A received message (without its framing), in the framed modes. A view into the received bytes: copy it to keep it long. */
  message: Buffer;
}

export type AllReconnectingSocketEvents = ReconnectingSocketEvents & InboundEvents;
