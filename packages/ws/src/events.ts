import type WebSocket from 'ws';
import type {
  CloseEvent as SharedCloseEvent,
  DisconnectEvent as SharedDisconnectEvent,
  DrainEvent,
  DropEvent as SharedDropEvent,
  DropReason,
  OpenEvent as SharedOpenEvent,
  ReconnectGiveUpEvent,
  ReconnectingEvent as SharedReconnectingEvent,
  StateEvent,
  SupervisorState,
  Unconfirmed,
} from '@holdfast/core';
import type { SendData } from './options.js';
import type { ReconnectingWebSocket } from './reconnecting-websocket.js';

/**
 * The events of a ReconnectingWebSocket: core's shared lifecycle payloads
 * (the same as every reconnecting holdfast object's), with the WebSocket's
 * own fields added. Every one but `message` and `error` is also published,
 * once, on `node:diagnostics_channel`: the lifecycle on `holdfast:reconnect`,
 * `drop` on `holdfast:drop`, `drain` on `holdfast:queue`.
 */
export interface ReconnectingWebSocketEvents {
  /** The reconnect state moved: `idle`, `connecting`, `open`, `lost`, `waiting`, `closed`. */
  state: StateEvent<SupervisorState>;
  /** A connection is open, `onConnect` has run and the queue was flushed. */
  open: SharedOpenEvent & {
    /** The URL connected to, without credentials. */
    readonly url: string;
    /** Queued messages sent on it. */
    readonly flushed: number;
  };
  /** An open connection was lost. `unconfirmed` messages were sent on it after the last pong that confirmed delivery: they may not have arrived (they are not resent). */
  disconnect: SharedDisconnectEvent & {
    /** The close code (1006 when the connection died without a close frame). */
    readonly code: number;
    readonly reason: string;
  };
  reconnecting: SharedReconnectingEvent;
  /** `maxAttempts` reached, or the close-code policy (or `shouldReconnect`) said stop; a `close` event follows. */
  'give-up': ReconnectGiveUpEvent;
  /** A message will never be sent. */
  drop: SharedDropEvent & { readonly data: SendData };
  /** After `send()` returned false: the queue is empty and `bufferedAmount` is below `highWaterMarkBytes` again. */
  drain: DrainEvent;
  /** The end: `close()` was called, or it gave up. Fires once; `readyState` is `CLOSED`. */
  close: SharedCloseEvent & {
    readonly code: number;
    readonly reason: string;
    readonly wasClean: boolean;
    /** Messages on the connection `close()` closed that may not have arrived (after a give-up, none: the `disconnect` counted them). */
    readonly unconfirmed: Unconfirmed;
  };
  /** An error of one connection: informational (the `disconnect` that follows carries its fault). Not published. */
  error: Error;
}

/** A received message, as `ws` gives it: listeners get `(data, isBinary)`. Not published. */
export type MessageListener = (data: WebSocket.RawData, isBinary: boolean) => void;

export type WebOpenEvent = ReconnectingWebSocketEvents['open'] & { readonly type: 'open'; readonly target: ReconnectingWebSocket };
export interface WebMessageEvent {
  readonly type: 'message';
  /** Text frames as strings, binary frames as `binaryType` says. */
  readonly data: string | WebSocket.RawData;
  readonly target: ReconnectingWebSocket;
}
export type WebCloseEvent = ReconnectingWebSocketEvents['close'] & { readonly type: 'close'; readonly target: ReconnectingWebSocket };
export interface WebErrorEvent {
  readonly type: 'error';
  readonly error: Error;
  readonly message: string;
  readonly target: ReconnectingWebSocket;
}

export interface ReconnectingWebSocketStats {
  /** The reconnect state, as `state`. */
  readonly state: SupervisorState;
  /** Connections opened. */
  readonly connects: number;
  /** Open connections lost (not counting `close()`). */
  readonly disconnects: number;
  /** Messages written to a socket (`onConnect`'s included). */
  readonly sent: number;
  /** Messages received. */
  readonly received: number;
  /** Messages waiting for a connection. */
  readonly queued: number;
  /** Messages sent on the open connection and not yet confirmed by a pong. */
  readonly unconfirmed: number;
  /** Messages that may not have arrived: `unconfirmed.messages` summed over every disconnect and the final close. */
  readonly possiblyLost: number;
  /** Messages dropped, by reason and in all; each had a `drop` event. */
  readonly dropped: Readonly<Record<DropReason, number>> & { readonly total: number };
}

/** @deprecated Core's `DropReason`: one vocabulary for every holdfast object. */
export type WsDropReason = DropReason;
/** @deprecated `ReconnectingWebSocketEvents['open']`. */
export type OpenEvent = ReconnectingWebSocketEvents['open'];
/** @deprecated `ReconnectingWebSocketEvents['disconnect']`; `unconfirmed` is now `{ messages, bytes }`. */
export type DisconnectEvent = ReconnectingWebSocketEvents['disconnect'];
/** @deprecated Core's `ReconnectingEvent`. */
export type ReconnectingEvent = SharedReconnectingEvent;
/** @deprecated Core's `ReconnectGiveUpEvent` (now with `reason`). */
export type GiveUpEvent = ReconnectGiveUpEvent;
/** @deprecated `ReconnectingWebSocketEvents['drop']`. */
export type DropEvent = ReconnectingWebSocketEvents['drop'];
/** @deprecated `ReconnectingWebSocketEvents['close']`; `unconfirmed` is now `{ messages, bytes }`. */
export type CloseEvent = ReconnectingWebSocketEvents['close'];
