import type { CloseEvent, DisconnectEvent, Fault, GiveUpReason, OpenEvent } from '@holdfast/core';

/**
 * - `connecting`: making the first connection (attempts repeat under `connectDeadlineMs`).
 * - `connected`: a usable server (a standalone, or a replica set's primary) is reachable.
 * - `reconnecting`: it was reachable and is not now; the driver and holdfast's probe are getting it back, operations wait for it.
 * - `disconnected`: not connected and not trying: the mongoose connection was closed outside this handle.
 * - `closed`: `close()` was called, or the first connection was given up. Final.
 */
export type MongooseConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'closed';

interface EventBase<E extends string> {
  readonly event: E;
  /** The handle's `name` option. */
  readonly name: string;
}

/**
 * Events of a ResilientMongoose. The shared lifecycle of every reconnecting
 * holdfast object (`state`, `open`, `disconnect`, `reconnecting`, `give-up`,
 * `close`: the same payloads as a ReconnectingSocket's) is published once on
 * `holdfast:reconnect`; `connected`, `disconnected` and `reconnected`, the
 * names mongoose users know, are the same moments for listeners (not
 * published again).
 */
export interface ResilientMongooseEvents {
  state: EventBase<'state'> & { readonly from: MongooseConnectionState; readonly to: MongooseConnectionState };
  /** A usable server is reachable: the first connection, or again after a loss (`attempt`: attempts or probes it took). */
  open: OpenEvent;
  /** The server stopped being reachable (the shared payload of `disconnected`). */
  disconnect: DisconnectEvent;
  /** Final: after `close()`, or after the first connection was given up. */
  close: CloseEvent;
  /** The first connection is up (`ready` resolves). */
  connected: EventBase<'connected'> & {
    /** Attempts it took, the successful one included. */
    readonly attempts: number;
    /** From the handle's creation. */
    readonly durationMs: number;
  };
  /** The server stopped being reachable. */
  disconnected: EventBase<'disconnected'> & {
    readonly fault: Fault;
    /**
     * Operations running through `withRetry()` / `withTransaction()` when the
     * loss was seen: each is retried, succeeds, or fails with
     * `OutcomeUnknownError` if it was a write that may have been applied.
     * `bytes` is not measured for MongoDB (always 0).
     */
    readonly unconfirmed: { readonly messages: number; readonly bytes: number };
    /** How long the server had been reachable. */
    readonly uptimeMs: number;
    /** False only when the connection was closed outside this handle. */
    readonly willReconnect: boolean;
  };
  /** An attempt failed and the next is scheduled: a first-connection attempt (while `connecting`) or a reachability probe. */
  reconnecting: EventBase<'reconnecting'> & { readonly attempt: number; readonly delayMs: number; readonly fault: Fault };
  /** The server is reachable again. */
  reconnected: EventBase<'reconnected'> & {
    /** How long it was unreachable. */
    readonly downtimeMs: number;
  };
  /** The first connection was given up: the handle closes and `ready` rejects. */
  'give-up': EventBase<'give-up'> & { readonly attempts: number; readonly reason: GiveUpReason; readonly fault: Fault };
}
