import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkOptions } from '@holdfast/core';
import { createExpressEvents, debug, eventsRule, type ExpressEventMap, type ExpressEvents, type LateWriteReason } from './events.js';
import { methodOf, pathOf, type Method, type Middleware } from './http-types.js';

type Call = ExpressEventMap['late-write']['call'];

interface Originals {
  readonly req: IncomingMessage;
  readonly events: ExpressEvents;
  readonly write: Method;
  readonly end: Method;
  readonly writeHead: Method;
  readonly setHeader: Method;
  readonly removeHeader: Method;
  readonly appendHeader: Method;
  reported: boolean;
}

const kSafe = Symbol('holdfast.safeResponse');
type Guarded = ServerResponse & { [kSafe]: Originals };

export interface SafeResponsesOptions {
  /** Where `'late-write'` events go. Default: a new `createExpressEvents()`, exposed as `middleware.events`. */
  readonly events?: ExpressEvents;
}

export type SafeResponsesMiddleware = Middleware & { readonly events: ExpressEvents };

/**
 * Middleware: a response written after the client left, a second
 * `res.send()`, a header set after the headers went out or a write after
 * `end()` is skipped and reported (a `'late-write'` event, the first per
 * response; `NODE_DEBUG=holdfast`) instead of throwing
 * `ERR_HTTP_HEADERS_SENT` or emitting `ERR_STREAM_WRITE_AFTER_END` (an
 * `'error'` nobody listens for, which ends the process). Mount it first.
 */
export function safeResponses(options: SafeResponsesOptions = {}): SafeResponsesMiddleware {
  checkOptions('safeResponses', options, { events: eventsRule });
  const events = options.events ?? createExpressEvents();
  const middleware: Middleware = (req, res, next) => {
    guard(req, res, events);
    next();
  };
  return Object.assign(middleware, { events });
}

/** Replaces the response's methods (whatever they are now: compression's too) with guarded ones; module-level functions, no closures. */
function guard(req: IncomingMessage, res: ServerResponse, events: ExpressEvents): void {
  const r = res as Partial<Guarded>;
  if (r[kSafe] !== undefined) return;
  r[kSafe] = {
    req,
    events,
    write: methodOf(res, 'write'),
    end: methodOf(res, 'end'),
    writeHead: methodOf(res, 'writeHead'),
    setHeader: methodOf(res, 'setHeader'),
    removeHeader: methodOf(res, 'removeHeader'),
    appendHeader: methodOf(res, 'appendHeader'),
    reported: false,
  };
  Object.assign(res, {
    write: safeWrite,
    end: safeEnd,
    writeHead: safeWriteHead,
    setHeader: safeSetHeader,
    removeHeader: safeRemoveHeader,
    appendHeader: safeAppendHeader,
  });
}

function report(res: Guarded, call: Call, reason: LateWriteReason): void {
  const o = res[kSafe];
  if (o.reported) return;
  o.reported = true;
  const method = o.req.method ?? 'GET';
  const path = pathOf(o.req);
  debug('late-write %s %s: %s skipped (%s)', method, path, call, reason);
  o.events.emit('late-write', { event: 'late-write', method, path, call, reason });
}

/** Whether a body write must be skipped, and why; a write to a destroyed response is passed on (Node drops it without an 'error'). */
function bodyWriteBlocked(res: Guarded, call: Call): boolean {
  if (res.writableEnded) {
    report(res, call, 'ended');
    return true;
  }
  if (res.destroyed) report(res, call, 'client-gone');
  return false;
}

function callbackOf(args: unknown[]): (() => void) | undefined {
  const last = args[args.length - 1];
  return typeof last === 'function' ? (last as () => void) : undefined;
}

function safeWrite(this: Guarded, ...args: unknown[]): boolean {
  if (bodyWriteBlocked(this, 'write')) {
    const cb = callbackOf(args);
    if (cb !== undefined) process.nextTick(cb);
    return false;
  }
  return this[kSafe].write.apply(this, args) as boolean;
}

function safeEnd(this: Guarded, ...args: unknown[]): Guarded {
  if (bodyWriteBlocked(this, 'end')) {
    const cb = callbackOf(args);
    if (cb !== undefined) process.nextTick(cb);
    return this;
  }
  this[kSafe].end.apply(this, args);
  return this;
}

function headersBlocked(res: Guarded, call: Call): boolean {
  if (!res.headersSent) return false;
  report(res, call, res.destroyed && !res.writableEnded ? 'client-gone' : 'headers-sent');
  return true;
}

function safeWriteHead(this: Guarded, ...args: unknown[]): Guarded {
  if (headersBlocked(this, 'writeHead')) return this;
  this[kSafe].writeHead.apply(this, args);
  return this;
}

function safeSetHeader(this: Guarded, name: string, value: number | string | readonly string[]): Guarded {
  if (headersBlocked(this, 'setHeader')) return this;
  this[kSafe].setHeader.call(this, name, value);
  return this;
}

function safeRemoveHeader(this: Guarded, name: string): void {
  if (headersBlocked(this, 'removeHeader')) return;
  this[kSafe].removeHeader.call(this, name);
}

function safeAppendHeader(this: Guarded, name: string, value: string | readonly string[]): Guarded {
  if (headersBlocked(this, 'appendHeader')) return this;
  this[kSafe].appendHeader.call(this, name, value);
  return this;
}
