import { randomUUID } from 'node:crypto';
import { warnDeprecated } from '@holdfast/core/internal';
import { OriginGuards, type HttpRetryStats } from './origin-guards.js';
import { isReplayableBody } from './replayable-body.js';
import { IDEMPOTENCY_KEY_HEADER, validateRequestOptions, type ResilientRequestOptions } from './request-options.js';
import { callWithRetries, type ResponseShape } from './resilient-call.js';
import { resolveRetryOptions, type HttpRetryOptions } from './retry-interceptor-options.js';

/** `fetch`'s init plus holdfast's per-request options. */
export type ResilientRequestInit = RequestInit &
  Omit<ResilientRequestOptions, 'bodyFactory'> & {
    /** A fresh body for each attempt, for stream bodies. */
    readonly bodyFactory?: () => NonNullable<RequestInit['body']>;
  };

export type FetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** A fetch with the same signature and holdfast's rules; `close()` releases its breakers. */
export interface ResilientFetch {
  (input: string | URL | Request, init?: ResilientRequestInit): Promise<Response>;
  /** Counters over every origin. */
  stats(): HttpRetryStats;
  /** Adds a listener (`retry`, `recovered`, `give-up`, `stale-connection`, `health`); returns a function that removes it. */
  on: OriginGuards['on'];
  once: OriginGuards['once'];
  off: OriginGuards['off'];
  close(): void;
}

const fetchShape: ResponseShape<Response> = {
  status: (response) => response.status,
  headers: (response) => response.headers,
  discard: (response) => {
    response.body?.cancel().catch(() => undefined);
  },
};

const EXTRA_KEYS = ['idempotent', 'idempotencyKey', 'deadlineMs', 'deadline', 'bodyFactory'] as const;

/**
 * Any fetch function (Node's global one, undici's, a polyfill) with holdfast's
 * rules: `const fetch = resilientFetch(globalThis.fetch)`. Each attempt is a whole
 * `fetch()` call; string, byte, `URLSearchParams`, `FormData` and `Blob`
 * bodies are sent again as they were, a `Request` with a body is cloned per
 * attempt, a stream body is sent once unless `bodyFactory` is given.
 */
export function resilientFetch(fetchImpl: FetchFunction, options: HttpRetryOptions = {}): ResilientFetch {
  return make('resilientFetch', fetchImpl, options);
}

/** @deprecated Use `resilientFetch(fetch)`, the same function under the naming rule's name (HOLDFAST_DEP016). */
export function wrapFetch(fetchImpl: FetchFunction, options: HttpRetryOptions = {}): ResilientFetch {
  warnDeprecated('HOLDFAST_DEP016', 'wrapFetch(fetch) of @holdfast/http is deprecated: use resilientFetch(fetch), the same function');
  return make('wrapFetch', fetchImpl, options);
}

function make(where: string, fetchImpl: FetchFunction, options: HttpRetryOptions): ResilientFetch {
  if (typeof fetchImpl !== 'function') {
    throw new TypeError(`${where}: the first argument must be a fetch function, got ${typeof fetchImpl}`);
  }
  return wrapFetchWith(fetchImpl, new OriginGuards(resolveRetryOptions(where, options)));
}

export function wrapFetchWith(fetchImpl: FetchFunction, guards: OriginGuards): ResilientFetch {
  const { statusCodes, deadlineMs: defaultDeadlineMs } = guards.options;
  const resilient = async (input: string | URL | Request, init?: ResilientRequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : undefined;
    const url = request === undefined ? new URL(input) : new URL(request.url);
    let fetchInit: RequestInit | undefined = init;
    let idempotent: boolean | undefined;
    let key: string | boolean | undefined;
    let deadline: number | undefined;
    let bodyFactory: (() => NonNullable<RequestInit['body']>) | undefined;
    if (init !== undefined && EXTRA_KEYS.some((k) => k in init)) {
      validateRequestOptions('fetch', init);
      const { idempotent: i, idempotencyKey, deadlineMs, deadline: d, bodyFactory: f, ...rest } = init;
      idempotent = i;
      key = idempotencyKey === true ? randomUUID() : idempotencyKey;
      deadline = d;
      const ms = deadlineMs ?? defaultDeadlineMs;
      if (ms !== undefined && (deadline === undefined || Date.now() + ms < deadline)) deadline = Date.now() + ms;
      bodyFactory = f;
      fetchInit = rest;
    } else if (defaultDeadlineMs !== undefined) {
      deadline = Date.now() + defaultDeadlineMs;
    }
    const method = (fetchInit?.method ?? request?.method ?? 'GET').toUpperCase();
    const headers = new Headers(fetchInit?.headers ?? request?.headers);
    if (typeof key === 'string') {
      headers.set(IDEMPOTENCY_KEY_HEADER, key);
      fetchInit = { ...fetchInit, headers };
    } else if (key !== false && headers.has(IDEMPOTENCY_KEY_HEADER)) {
      key = true;
    }
    const descriptor: { method: string; idempotent?: boolean; idempotencyKey?: boolean } = { method };
    if (idempotent !== undefined) descriptor.idempotent = idempotent;
    if (key === true || typeof key === 'string') descriptor.idempotencyKey = true;
    const body = fetchInit?.body;
    // A Request's body is a stream, but a clone per attempt replays it; keep one pristine copy.
    const pristine = request?.body != null ? request.clone() : undefined;
    const oneShotBody = bodyFactory === undefined && !isReplayableBody(body);
    const signal = fetchInit?.signal ?? request?.signal ?? undefined;
    return callWithRetries(
      guards,
      url.origin,
      (info) => {
        let attemptInit = fetchInit;
        if (bodyFactory !== undefined) attemptInit = { ...attemptInit, body: bodyFactory() };
        if (info.signal !== undefined && info.signal !== signal) attemptInit = { ...attemptInit, signal: info.signal };
        const target = pristine !== undefined && info.attempt > 1 ? pristine.clone() : input;
        return fetchImpl(target, attemptInit);
      },
      { descriptor: descriptor, idempotent, signal: signal ?? undefined, deadline, oneShotBody },
      fetchShape,
      statusCodes,
    );
  };
  return Object.assign(resilient, {
    stats: () => guards.stats(),
    on: guards.on.bind(guards),
    once: guards.once.bind(guards),
    off: guards.off.bind(guards),
    close: () => guards.close(),
  });
}
