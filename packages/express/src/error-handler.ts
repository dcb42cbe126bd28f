import type { IncomingMessage, ServerResponse } from 'node:http';
import { classify, type Fault, type FaultKind } from '@holdfast/core';
import { checkOptions } from '@holdfast/core/internal';
import { CLIENT_ABORT_CODE } from './client-abort.js';
import { createExpressEvents, debug, eventsRule, type ExpressEvents } from './events.js';
import { pathOf, type ErrorMiddleware } from './http-types.js';

/** What a client that hung up looks like from the server: its connection reset, a broken pipe, a stream closed early. */
const CLIENT_ABORT_KINDS: ReadonlySet<FaultKind> = new Set(['connection-reset', 'broken-pipe', 'closed', 'aborted']);

export interface ClientAbortErrorsOptions {
  /** Where `'client-abort'` events go. Default: a new `createExpressEvents()`, exposed as `middleware.events`. */
  readonly events?: ExpressEvents;
}

export type ClientAbortErrorsMiddleware = ErrorMiddleware & { readonly events: ExpressEvents };

/**
 * Error middleware (mount it before your own error handler): an error that
 * says the client went away (`ECONNRESET`, `EPIPE`, a premature close, body
 * parsing cut short, a `ClientAbortError` from `abortSignalFor`) while the
 * client is in fact gone is a client abort: reported (`'client-abort'`,
 * `NODE_DEBUG=holdfast`), no 500 page, no stack in the log. Anything else,
 * including an `ECONNRESET` from an upstream while the client still waits,
 * is a real fault and goes on to `next(error)`.
 */
export function clientAbortErrors(options: ClientAbortErrorsOptions = {}): ClientAbortErrorsMiddleware {
  checkOptions('clientAbortErrors', options, { events: eventsRule });
  const events = options.events ?? createExpressEvents();
  const middleware: ErrorMiddleware = (error, req, res, next) => {
    const fault = clientAbortFaultOf(error, req, res);
    if (fault === undefined) {
      next(error);
      return;
    }
    const method = req.method ?? 'GET';
    const path = pathOf(req);
    debug('client-abort %s %s: %s', method, path, fault.code);
    events.emit('client-abort', { event: 'client-abort', method, path, fault, source: 'error' });
  };
  return Object.assign(middleware, { events });
}

/** The fault, when `error` is a client abort: a client-side kind of fault and a client that is gone. */
export function clientAbortFaultOf(error: unknown, req: IncomingMessage, res: ServerResponse): Fault | undefined {
  const fault = classify(error);
  if (fault.code === CLIENT_ABORT_CODE) return fault;
  const gone = res.destroyed || req.socket.destroyed || req.destroyed;
  if (!gone || res.writableFinished) return undefined;
  // body-parser's 'request aborted' (code ECONNABORTED) when the client left mid-body.
  if ((error as { type?: unknown } | null)?.type === 'request.aborted') return fault;
  return CLIENT_ABORT_KINDS.has(fault.kind) ? fault : undefined;
}
