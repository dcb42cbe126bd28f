import type { Fault } from '@holdfast/core';
import type { Payload } from './framing.js';

interface EventBase<E extends string> {
  readonly event: E;
  /** The socket's `name` option. */
  readonly name: string;
}

/** Why a message will not be sent (any more). */
export type NetDropReason =
  /** The queue was full (policy `drop-oldest` / `drop-newest`). */
  | 'overflow'
  /** Larger than the queue's `maxBytes` on its own. */
  | 'too-large'
  /** Written while disconnected, with `queue: false`. */
  | 'not-connected'
  /** Still waiting when `close()` was called, or written after it. */
  | 'closed'
  /** Still waiting when the socket gave up reconnecting. */
  | 'give-up';

export interface UnconfirmedReport {
  /** Messages (writes, with framing `'raw'`). */
  readonly messages: number;
  /** Their bytes on the wire. */
  readonly bytes: number;
}

/** Lifecycle events; each is also published on the diagnostics channel `holdfast:net`. */
export interface ReconnectingSocketEvents {
  /** A connection is up, `onConnect` has run, and unconfirmed then queued messages were written to it. */
  connect: EventBase<'connect'> & {
    readonly attempt: number;
    /** Unconfirmed messages sent again (with `confirm`). */
    readonly resent: number;
    /** Queued messages written. */
    readonly flushed: number;
  };
  /** An open connection was lost. */
  disconnect: EventBase<'disconnect'> & {
    readonly fault: Fault;
    readonly uptimeMs: number;
    /**
     * With `confirm`: the messages not yet acknowledged, exactly; they are sent
     * again after the reconnect. Without: the messages written since the peer
     * last sent anything. TCP cannot tell which of the bytes written to a
     * connection that failed arrived, so this is exact only for a
     * request/response protocol with one request outstanding (the answer is the
     * proof); with pipelined or one-way traffic a message written before the
     * peer's last answer may be lost too, up to `written`. None is sent again.
     */
    readonly unconfirmed: UnconfirmedReport;
    /** Everything written to the lost connection: the most that can have been lost with it. */
    readonly written: UnconfirmedReport;
    /** True when the unconfirmed messages will be sent again (`confirm` is configured). */
    readonly resend: boolean;
    /** Bytes of a partly received frame that were lost with the connection. */
    readonly partialInboundBytes: number;
  };
  /** A reconnect is scheduled. */
  reconnecting: EventBase<'reconnecting'> & { readonly attempt: number; readonly delayMs: number; readonly fault: Fault };
  /** No more attempts (maxAttempts reached, or shouldReconnect said no); the socket is closed. */
  'give-up': EventBase<'give-up'> & { readonly attempts: number; readonly fault: Fault; readonly reason: 'max-attempts' | 'should-reconnect' };
  /**
   * A message will not be sent. `outcome: 'not-sent'`: it never reached a
   * socket. `outcome: 'unknown'`: it was written to a connection that then
   * died and was never acknowledged (with `confirm`), so the peer may or may not have it.
   */
  drop: EventBase<'drop'> & { readonly message: Payload; readonly reason: NetDropReason; readonly outcome: 'not-sent' | 'unknown' };
  /** After `write()`/`send()` returned false: the queue and the socket buffer are empty again. */
  drain: EventBase<'drain'>;
  /** Final: after `close()` (or a give-up), once no socket or timer is left. */
  close: EventBase<'close'> & { readonly reason: 'close' | 'give-up' };
}

/** Per-chunk and per-frame events; not published on a diagnostics channel (they carry application data). */
export interface InboundEvents {
  /** A received chunk, with framing `'raw'`. */
  data: Buffer;
  /** A received message (without its framing), in the framed modes. A view into the received bytes: copy it to keep it long. */
  message: Buffer;
}

export type AllReconnectingSocketEvents = ReconnectingSocketEvents & InboundEvents;
