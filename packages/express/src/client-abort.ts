import { IncomingMessage, type ServerResponse } from 'node:http';
import { HoldfastError, checkOptions, type Fault } from '@holdfast/core';
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

interface AbortWatch {
  readonly req: IncomingMessage;
  controller: AbortController | undefined;
  events: ExpressEvents | undefined;
}

const kWatch = Symbol('holdfast.abortWatch');
const kResponse = Symbol('holdfast.response');

type Watched = ServerResponse & { [kWatch]?: AbortWatch };

/**
 * An `AbortSignal` that aborts (with a `ClientAbortError`) when the client
 * closes the connection before the response is complete: the response's
 * `'close'` came before `res.end()` was called. That is read from
 * `'close'` and `writableEnded`, not the deprecated `'aborted'`. A signal
 * asked for after the client left is already aborted. One signal per
 * response, made on first use.
 */
export function abortSignalFor(req: IncomingMessage, res: ServerResponse): AbortSignal {
  const watch = watchResponse(req, res, undefined);
  if (watch.controller === undefined) {
    watch.controller = new AbortController();
    if (clientGone(req, res)) watch.controller.abort(new ClientAbortError(req.method ?? 'GET', pathOf(req)));
  }
  return watch.controller.signal;
}

export interface ClientAbortOptions {
  /** Where `'client-abort'` events go. Default: a new `createExpressEvents()`, exposed as `middleware.events`. */
  readonly events?: ExpressEvents;
}

export type ClientAbortMiddleware = Middleware & { readonly events: ExpressEvents };

/**
 * Middleware: every request gets `req.signal` (made on first use, see
 * `abortSignalFor`) and a client that leaves early is reported as a
 * `'client-abort'` event (and on `NODE_DEBUG=holdfast`).
 */
export function clientAbort(options: ClientAbortOptions = {}): ClientAbortMiddleware {
  checkOptions('clientAbort', options, { events: eventsRule });
  const events = options.events ?? createExpressEvents();
  const middleware: Middleware = (req, res, next) => {
    watchResponse(req, res, events);
    (req as IncomingMessage & { [kResponse]?: ServerResponse })[kResponse] = res;
    defineSignal(req);
    next();
  };
  return Object.assign(middleware, { events });
}

/** True when the client has left and the response was not ended: nothing more can reach it. */
export function clientGone(req: IncomingMessage, res: ServerResponse): boolean {
  return !res.writableEnded && (res.destroyed || req.socket.destroyed);
}

function watchResponse(req: IncomingMessage, res: Watched, events: ExpressEvents | undefined): AbortWatch {
  let watch = res[kWatch];
  if (watch === undefined) {
    watch = { req, controller: undefined, events };
    res[kWatch] = watch;
    res.once('close', onResponseClose);
  } else if (events !== undefined) watch.events ??= events;
  return watch;
}

function onResponseClose(this: Watched): void {
  const watch = this[kWatch];
  if (watch === undefined || this.writableEnded) return;
  const { req, controller, events } = watch;
  const method = req.method ?? 'GET';
  const path = pathOf(req);
  const error = new ClientAbortError(method, path);
  debug('client-abort %s %s', method, path);
  events?.emit('client-abort', { event: 'client-abort', method, path, fault: error.fault, source: 'close' });
  controller?.abort(error);
}

/**
 * `req.signal` as a getter, so a request whose handler never reads it costs
 * no AbortController. Defined once on the app's request prototype (Express
 * gives each app its own), never on node:http's shared IncomingMessage.
 */
function defineSignal(req: IncomingMessage): void {
  const proto = Object.getPrototypeOf(req) as object;
  const target = proto === IncomingMessage.prototype ? req : proto;
  if ('signal' in target) return;
  Object.defineProperty(target, 'signal', {
    configurable: true,
    enumerable: false,
    get(this: IncomingMessage & { [kResponse]?: ServerResponse }) {
      const res = this[kResponse];
      return res === undefined ? undefined : abortSignalFor(this, res);
    },
  });
}
