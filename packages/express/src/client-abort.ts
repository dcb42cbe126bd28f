import { IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HoldfastError, type Fault } from '@holdfast/core';
import { checkOptions } from '@holdfast/core/internal';
import { createExpressEvents, debug, eventsRule, type ExpressEvents } from './events.js';
import { pathOf, type Middleware } from './http-types.js';

export const CLIENT_ABORT_CODE = 'HOLDFAST_CLIENT_ABORT';

const CLIENT_ABORT_HINT =
  'the client closed the connection before the response was complete (it gave up, timed out or navigated away); stop the work done for it, nothing can be sent';

/** The fault of a client that left before its response was complete. */
export function clientAbortFault(message: string): Fault {
  return { kind: 'aborted', code: CLIENT_ABORT_CODE, phase: 'response', transient: false, hint: CLIENT_ABORT_HINT, message };
}

/**
 * The reason of the signal `abortSignalFor()` aborts: work passed that
 * signal (an `@holdfast/http` request, a mongoose query, a stream pipeline)
 * rejects with this error, which `clientAbortErrors()` recognises.
 */
export class ClientAbortError extends HoldfastError {
  constructor(method: string, path: string) {
    const message = `the client closed the connection before the response to ${method} ${path} was complete`;
    super(message, clientAbortFault(message));
  }
}

/** A request after `clientAbort()`: `req.signal` aborts when the client leaves before its response is complete. */
export type RequestWithSignal = IncomingMessage & { readonly signal: AbortSignal };

const kController = Symbol('holdfast.abortController');
const kResponse = Symbol('holdfast.response');
/** On a socket: the response being written on it, and the events its close is reported to. */
const kCurrent = Symbol('holdfast.currentResponse');
const kEvents = Symbol('holdfast.clientAbortEvents');

type WithController = ServerResponse & { [kController]?: AbortController };
type WatchedSocket = Socket & { [kCurrent]?: ServerResponse; [kEvents]?: ExpressEvents };

/**
 * An `AbortSignal` that aborts (with a `ClientAbortError`) when the client
 * closes the connection before the response is complete: the response's
 * `'close'` came before `res.end()` was called. That is read from
 * `'close'` and `writableEnded`, not the deprecated `'aborted'`. A signal
 * asked for after the client left is already aborted. One signal per
 * response, made on first use.
 */
export function abortSignalFor(req: IncomingMessage, res: ServerResponse): AbortSignal {
  const r = res as WithController;
  let controller = r[kController];
  if (controller === undefined) {
    controller = new AbortController();
    r[kController] = controller;
    if (clientGone(req, res)) controller.abort(new ClientAbortError(req.method ?? 'GET', pathOf(req)));
    else res.once('close', onResponseClose);
  }
  return controller.signal;
}

export interface ClientAbortOptions {
  /** Where `'client-abort'` events go. Default: a new `createExpressEvents()`, exposed as `middleware.events`. */
  readonly events?: ExpressEvents;
}

export type ClientAbortMiddleware = Middleware & { readonly events: ExpressEvents };

/**
 * Middleware: every request gets `req.signal` (made on first use, see
 * `abortSignalFor`) and a client that leaves before its response is
 * complete is reported as a `'client-abort'` event (and on
 * `NODE_DEBUG=holdfast`). It watches each connection once, not each
 * request: a request costs two property writes.
 */
export function clientAbort(options: ClientAbortOptions = {}): ClientAbortMiddleware {
  checkOptions('clientAbort', options, { events: eventsRule });
  const events = options.events ?? createExpressEvents();
  let signalOn: object | undefined;
  const middleware: Middleware = (req, res, next) => {
    const socket = req.socket as WatchedSocket;
    socket[kCurrent] = res;
    if (socket[kEvents] === undefined) {
      socket[kEvents] = events;
      socket.once('close', onSocketClose);
    }
    const proto = Object.getPrototypeOf(req) as object;
    if (proto === IncomingMessage.prototype) defineSignal(req, res);
    else if (proto !== signalOn) {
      signalOn = proto;
      defineSignal(proto, undefined);
    }
    next();
  };
  return Object.assign(middleware, { events });
}

/** True when the client has left and the response was not ended: nothing more can reach it. */
export function clientGone(req: IncomingMessage, res: ServerResponse): boolean {
  return !res.writableEnded && (res.destroyed || req.socket.destroyed);
}

function onResponseClose(this: WithController): void {
  if (this.writableEnded) return;
  const req = this.req as IncomingMessage | undefined;
  this[kController]?.abort(new ClientAbortError(req?.method ?? 'GET', req === undefined ? '' : pathOf(req)));
}

function onSocketClose(this: WatchedSocket): void {
  const res = this[kCurrent];
  const events = this[kEvents];
  if (res === undefined || events === undefined || res.writableEnded) return;
  const req = res.req as IncomingMessage | undefined;
  const method = req?.method ?? 'GET';
  const path = req === undefined ? '' : pathOf(req);
  debug('client-abort %s %s', method, path);
  events.emit('client-abort', {
    event: 'client-abort',
    method,
    path,
    fault: clientAbortFault(`the client closed the connection before the response to ${method} ${path} was complete`),
    source: 'close',
  });
}

/**
 * `req.signal` as a getter, so a request whose handler never reads it costs
 * no AbortController. Defined once on the app's request prototype (Express
 * gives each app its own), never on node:http's shared IncomingMessage (a
 * plain node:http request gets its own).
 */
function defineSignal(target: object, res: ServerResponse | undefined): void {
  // Node 24 has its own `req.signal` on IncomingMessage.prototype (a DOMException when the request is destroyed): this one shadows it.
  if (res === undefined && Object.hasOwn(target, 'signal')) return;
  if (res !== undefined) (target as { [kResponse]?: ServerResponse })[kResponse] = res;
  Object.defineProperty(target, 'signal', {
    configurable: true,
    enumerable: false,
    get(this: IncomingMessage & { [kResponse]?: ServerResponse; res?: ServerResponse }) {
      const response = this[kResponse] ?? this.res;
      return response === undefined ? undefined : abortSignalFor(this, response);
    },
  });
}
