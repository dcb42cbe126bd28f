import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { watchConnectionReuse } from './connection-reuse.js';
import { ControllerFormatRequest } from './controller-format-request.js';
import { CoreFormatRequest } from './core-format-request.js';
import { speaksCoreFormat, type CoreHandler } from './core-handler.js';
import { hasHeader, replayableHeaders, withHeader } from './header-bag.js';
import type { OriginGuard } from './origin-guard.js';
import { OriginGuards, type HttpRetryStats } from './origin-guards.js';
import { isReplayableBody } from './replayable-body.js';
import { IDEMPOTENCY_KEY_HEADER, validateRequestOptions, type ResilientRequestOptions } from './request-options.js';
import { resolveRetryOptions, type HttpRetryOptions, type ResolvedRetryOptions } from './retry-interceptor-options.js';
import type { ActiveRetries, RequestPlan } from './retrying-request.js';

/** `dispatch => dispatch`, plus what a client needs to end cleanly and to look inside. */
export interface RetryInterceptor extends Dispatcher.DispatcherComposeInterceptor {
  /** The per-origin policy, budget and breaker, while the origin has failed lately (none for a healthy origin). */
  guard(origin: string): OriginGuard | undefined;
  /** Counters over every origin. */
  stats(): HttpRetryStats;
  /** Adds a listener (`retry`, `recovered`, `give-up`, `stale-connection`, `health`); returns a function that removes it. */
  on: OriginGuards['on'];
  once: OriginGuards['once'];
  off: OriginGuards['off'];
  /** Ends requests waiting between attempts (with `reason`) and releases every breaker. */
  close(reason?: Error): void;
}

/** undici passes unknown option keys through to interceptors: this one is ours. */
export interface ResilientDispatchOptions extends Dispatcher.DispatchOptions {
  readonly holdfast?: ResilientRequestOptions;
}

// Methods whose repetition has the same effect as one request (RFC 9110 §9.2.2, QUERY from the safe-method draft).
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'QUERY']);

// Plans of requests without per-request options are shared per method, so the common case allocates none.
const plainPlans = new Map<string, RequestPlan>();

function plainPlan(method: string): RequestPlan {
  let plan = plainPlans.get(method);
  if (plan === undefined) {
    plan = Object.freeze({
      descriptor: Object.freeze({ method }),
      idempotent: undefined,
      deadline: undefined,
      oneShotBody: false,
      bodyFactory: undefined,
    });
    plainPlans.set(method, plan);
  }
  return plan;
}

/**
 * An undici interceptor that retries what is safe to retry and nothing else:
 * `new Agent().compose(retryInterceptor())`, or
 * `setGlobalDispatcher(getGlobalDispatcher().compose(retryInterceptor()))`
 * to give Node's global `fetch` the same behaviour.
 */
export function retryInterceptor(options: HttpRetryOptions = {}): RetryInterceptor {
  return createRetryInterceptor(new OriginGuards(resolveRetryOptions('retryInterceptor', options)));
}

/** The interceptor over a given set of origin guards (a client shares them between its faces). */
export function createRetryInterceptor(guards: OriginGuards): RetryInterceptor {
  const resolved = guards.options;
  const active: ActiveRetries = new Set();
  let closedWith: Error | null = null;

  watchConnectionReuse();

  const interceptor = (dispatch: Dispatcher.Dispatch): Dispatcher.Dispatch =>
    function holdfastRetry(original: ResilientDispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      // A tunnel or an upgrade is a connection, not a request: there is nothing to repeat.
      if (original.upgrade != null && original.upgrade !== false) return dispatch(original, handler);
      const headers = replayableHeaders(original.headers);
      const opts: ResilientDispatchOptions = headers === original.headers ? original : { ...original, headers };
      // Each attempt goes down in the format the caller's handler speaks: the one the undici it came from calls natively.
      const coreFormat = speaksCoreFormat(handler);
      if (closedWith !== null) {
        if (coreFormat) (handler as CoreHandler).onError?.(closedWith);
        else handler.onResponseError?.(null as unknown as Dispatcher.DispatchController, closedWith);
        return true;
      }
      const method = opts.method;
      const origin = typeof opts.origin === 'string' ? opts.origin : String(opts.origin);
      const extra = opts.holdfast;
      let plan: RequestPlan;
      let dispatchOpts: Dispatcher.DispatchOptions = opts;
      if (extra === undefined && resolved.deadlineMs === undefined && isReplayableBody(opts.body)) {
        plan = IDEMPOTENT.has(method) || !hasHeader(opts.headers, IDEMPOTENCY_KEY_HEADER) ? plainPlan(method) : keyedPlan(method);
      } else {
        const planned = planRequest(opts, extra, resolved);
        plan = planned.plan;
        dispatchOpts = planned.opts;
      }
      return coreFormat
        ? new CoreFormatRequest(dispatch, dispatchOpts, handler, guards, origin, resolved, plan, active).start()
        : new ControllerFormatRequest(dispatch, dispatchOpts, handler, guards, origin, resolved, plan, active).start();
    };

  return Object.assign(interceptor, {
    guard: (origin: string) => guards.get(origin),
    stats: () => guards.stats(),
    on: guards.on.bind(guards),
    once: guards.once.bind(guards),
    off: guards.off.bind(guards),
    close(reason: Error = new Error('the HTTP client was closed')) {
      closedWith = reason;
      for (const request of [...active]) request.cancel(reason);
      guards.close();
    },
  });
}

function keyedPlan(method: string): RequestPlan {
  return { descriptor: { method, idempotencyKey: true }, idempotent: undefined, deadline: undefined, oneShotBody: false, bodyFactory: undefined };
}

function planRequest(
  opts: Dispatcher.DispatchOptions,
  extra: ResilientRequestOptions | undefined,
  resolved: ResolvedRetryOptions,
): { plan: RequestPlan; opts: Dispatcher.DispatchOptions } {
  if (extra !== undefined) validateRequestOptions('request', extra);
  const method = opts.method;
  let dispatchOpts = opts;
  let key: string | boolean | undefined = extra?.idempotencyKey;
  if (key === true) key = randomUUID();
  if (typeof key === 'string') {
    // Every attempt carries the same key: the server deduplicates, so a retry after the request arrived is harmless.
    dispatchOpts = { ...opts, headers: withHeader(opts.headers, IDEMPOTENCY_KEY_HEADER, key) };
  } else if (key !== false && hasHeader(opts.headers, IDEMPOTENCY_KEY_HEADER)) {
    key = true;
  }
  const descriptor: { method: string; idempotent?: boolean; idempotencyKey?: boolean } = { method };
  if (extra?.idempotent !== undefined) descriptor.idempotent = extra.idempotent;
  if (typeof key === 'string' || key === true) descriptor.idempotencyKey = true;
  let deadline = extra?.deadline;
  const deadlineMs = extra?.deadlineMs ?? resolved.deadlineMs;
  if (deadlineMs !== undefined) {
    const relative = Date.now() + deadlineMs;
    if (deadline === undefined || relative < deadline) deadline = relative;
  }
  const bodyFactory = extra?.bodyFactory;
  if (bodyFactory !== undefined && opts.body == null) dispatchOpts = { ...dispatchOpts, body: bodyFactory() as Dispatcher.DispatchOptions['body'] };
  const plan: RequestPlan = {
    descriptor: descriptor,
    idempotent: extra?.idempotent,
    deadline,
    oneShotBody: !isReplayableBody(dispatchOpts.body),
    bodyFactory,
  };
  return { plan, opts: dispatchOpts };
}
