import { ServerResponse } from 'node:http';
import { checkOptions } from '@holdfast/core/internal';
import { createExpressEvents, debug, eventsRule, type ExpressEventMap, type ExpressEvents, type LateWriteReason } from './events.js';
import { methodOf, pathOf, sharedResponseProto, type Method, type Middleware } from './http-types.js';

type Call = ExpressEventMap['late-write']['call'];

const GUARDED: readonly Call[] = ['write', 'end', 'writeHead', 'setHeader', 'removeHeader', 'appendHeader'];

/** On a response: where its late writes are reported, and that one was. On a guarded prototype: that it is. */
const kEvents = Symbol('holdfast.safeResponseEvents');
const kReported = Symbol('holdfast.lateWriteReported');
const kGuarded = Symbol('holdfast.safeResponseGuarded');

type Guarded = ServerResponse & { [kEvents]?: ExpressEvents; [kReported]?: true };

/** For plain node:http, whose ServerResponse.prototype is everyone's: one guarded layer over it, set per response. */
let nodeLayer: object | undefined;

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
 *
 * The guards go once on Express's response prototype (shared by its apps
 * and sub-apps), so a request pays a property check and a write; with plain
 * node:http a guarded layer over ServerResponse.prototype is set on each
 * response (node's own prototype is never changed).
 */
export function safeResponses(options: SafeResponsesOptions = {}): SafeResponsesMiddleware {
  checkOptions('safeResponses', options, { events: eventsRule });
  const events = options.events ?? createExpressEvents();
  const middleware: Middleware = (_req, res, next) => {
    if (!(kGuarded in res)) guard(res);
    (res as Guarded)[kEvents] = events;
    next();
  };
  return Object.assign(middleware, { events });
}

function guard(res: ServerResponse): void {
  const proto = sharedResponseProto(res);
  if (proto === undefined) {
    nodeLayer ??= guardedLayer(Object.create(ServerResponse.prototype) as object, ServerResponse.prototype as ServerResponse);
    Object.setPrototypeOf(res, nodeLayer);
    return;
  }
  guardedLayer(proto, proto as ServerResponse);
}

/** Defines the guarded methods on `target`, each calling the method `source` resolves to now. */
function guardedLayer(target: object, source: ServerResponse): object {
  const original = Object.fromEntries(GUARDED.map((name) => [name, methodOf(source, name)])) as Record<Call, Method>;
  // Fixed arity, not rest parameters: these run several times per response, and a rest array is an allocation each time.
  // A response no safeResponses() saw (another app in the process, sharing Express's prototype) keeps Express's own
  // behaviour: the guards act only for a response the middleware marked.
  const methods: Record<Call, Method> = {
    write(a, b, c) {
      if (isGuarded(this) && bodyWriteBlocked(this, 'write')) return skipped(a, b, c, false);
      return original.write.call(this, a, b, c);
    },
    end(a, b, c) {
      if (isGuarded(this) && bodyWriteBlocked(this, 'end')) return skipped(a, b, c, this);
      original.end.call(this, a, b, c);
      return this;
    },
    writeHead(a, b, c) {
      if (this.headersSent && isGuarded(this)) return blocked(this, 'writeHead');
      original.writeHead.call(this, a, b, c);
      return this;
    },
    setHeader(a, b) {
      if (this.headersSent && isGuarded(this)) return blocked(this, 'setHeader');
      original.setHeader.call(this, a, b);
      return this;
    },
    removeHeader(a) {
      if (this.headersSent && isGuarded(this)) {
        blocked(this, 'removeHeader');
        return undefined;
      }
      return original.removeHeader.call(this, a);
    },
    appendHeader(a, b) {
      if (this.headersSent && isGuarded(this)) return blocked(this, 'appendHeader');
      original.appendHeader.call(this, a, b);
      return this;
    },
  };
  for (const name of GUARDED) Object.defineProperty(target, name, { value: methods[name], configurable: true, writable: true });
  Object.defineProperty(target, kGuarded, { value: true, configurable: true });
  return target;
}

/** A skipped write still calls its callback, so code waiting on it goes on. */
function skipped<T>(a: unknown, b: unknown, c: unknown, result: T): T {
  const callback = typeof c === 'function' ? c : typeof b === 'function' ? b : typeof a === 'function' ? a : undefined;
  if (callback !== undefined) process.nextTick(callback);
  return result;
}

/** A response a safeResponses() middleware saw. */
function isGuarded(res: Guarded): boolean {
  return res[kEvents] !== undefined;
}

function report(res: Guarded, call: Call, reason: LateWriteReason): void {
  const events = res[kEvents];
  if (res[kReported] === true || events === undefined) return;
  res[kReported] = true;
  const { req } = res;
  const method = req.method ?? 'GET';
  const path = pathOf(req);
  debug('late-write %s %s: %s skipped (%s)', method, path, call, reason);
  events.emit('late-write', { event: 'late-write', method, path, call, reason });
}

/** Whether a body write must be skipped; a write to a destroyed response is passed on (Node drops it without an 'error'), and reported. */
function bodyWriteBlocked(res: Guarded, call: Call): boolean {
  if (res.writableEnded) {
    report(res, call, 'ended');
    return true;
  }
  if (res.destroyed) report(res, call, 'client-gone');
  return false;
}

/** A header change after the headers went out: skipped and reported. */
function blocked(res: Guarded, call: Call): Guarded {
  report(res, call, res.destroyed && !res.writableEnded ? 'client-gone' : 'headers-sent');
  return res;
}
