import { debuglog } from 'node:util';
import { TypedEvents, type Fault } from '@holdfast/core';
import { rule, type OptionRule } from '@holdfast/core/internal';

interface RequestEvent<E extends string> {
  readonly event: E;
  readonly method: string;
  /** The path, without the query string. */
  readonly path: string;
}

/** Why a write to a response was skipped. */
export type LateWriteReason =
  /** The client had closed the connection. */
  | 'client-gone'
  /** The headers were already sent (a second `res.send()`, a header set after the body started). */
  | 'headers-sent'
  /** The response had already ended. */
  | 'ended';

/** What an idempotency-keyed request came to. */
export type IdempotencyOutcome =
  /** First request with this key: the handler runs. */
  | 'claimed'
  /** The handler's response was stored for replays. */
  | 'stored'
  /** The handler did not finish a response (or answered 5xx): the key is released, a retry runs again. */
  | 'released'
  /** A repeat with the same payload: the stored response was replayed, the handler did not run. */
  | 'replayed'
  /** A repeat while the first is still running: 409. */
  | 'conflict'
  /** The key was used with a different payload: 422. */
  | 'mismatch'
  /** The key is not 1 to 255 visible ASCII characters: 400. */
  | 'invalid-key'
  /** The store could not be reached: 503, the handler did not run (fails closed). */
  | 'store-unavailable';

/**
 * What holdfast's Express middleware reports. Each middleware takes an
 * `events` option (one `createExpressEvents()` shared by several, or its own)
 * and exposes it as `middleware.events`; every event is also published,
 * redacted, on the diagnostics channel `holdfast:express`.
 */
export interface ExpressEventMap {
  /** The client closed the connection before the response was complete. */
  'client-abort': RequestEvent<'client-abort'> & {
    readonly fault: Fault;
    /** `'close'`: seen by `clientAbort()`/`abortSignalFor()`; `'error'`: an error reached `clientAbortErrors()` after the client left. */
    readonly source: 'close' | 'error';
  };
  /** A write, header or second response was skipped instead of throwing or emitting 'error'. */
  'late-write': RequestEvent<'late-write'> & {
    readonly call: 'write' | 'end' | 'writeHead' | 'setHeader' | 'removeHeader' | 'appendHeader';
    readonly reason: LateWriteReason;
  };
  /** An `Idempotency-Key` request, and what became of it. */
  idempotency: RequestEvent<'idempotency'> & {
    readonly key: string;
    readonly outcome: IdempotencyOutcome;
    /** The store's failure, for `store-unavailable`. */
    readonly fault?: Fault;
  };
  /** A request answered 503 by `shedLoad()`. */
  shed: RequestEvent<'shed'> & { readonly reason: 'event-loop-delay' | 'heap'; readonly retryAfterS: number };
  /** `shedLoad()` found the process overloaded, or recovered. */
  state: {
    readonly event: 'state';
    readonly from: 'ok' | 'overloaded';
    readonly to: 'ok' | 'overloaded';
    /** The event loop's delay (mean lateness of a 10 ms timer over the last sample window), integer ms. */
    readonly eventLoopDelayMs: number;
    readonly heapUsedBytes: number;
  };
}

export type ExpressEvents = TypedEvents<ExpressEventMap>;

const CHANNELS = {
  'client-abort': 'express',
  'late-write': 'express',
  idempotency: 'express',
  shed: 'express',
  state: 'express',
} as const satisfies { readonly [K in keyof ExpressEventMap]: string };

/** An events object to share between middleware (`{ events }`), so one listener sees all of them. */
export function createExpressEvents(): ExpressEvents {
  return new TypedEvents<ExpressEventMap>(CHANNELS);
}

/** `NODE_DEBUG=holdfast` prints what the middleware skipped or refused. */
export const debug = debuglog('holdfast');

/** The `events` option every middleware takes. */
export const eventsRule: OptionRule = rule.instanceOf(TypedEvents, 'an events object from createExpressEvents()');
