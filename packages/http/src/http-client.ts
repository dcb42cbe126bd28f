import type { Readable } from 'node:stream';
import { optionError, rule } from '@holdfast/core/internal';
import { Agent, fetch as undiciFetch, request as undiciRequest, type Dispatcher } from 'undici';
import { withHeader } from './header-bag.js';
import { OriginGuards } from './origin-guards.js';
import type { ResilientRequestOptions } from './request-options.js';
import type { HttpRetryStats } from './origin-guards.js';
import { createRetryInterceptor, type RetryInterceptor } from './retry-interceptor.js';
import { RetryingDispatcher } from './retrying-dispatcher.js';
import { resolveRetryOptions, type HttpRetryOptions } from './retry-interceptor-options.js';
import { wrapFetchWith, type ResilientFetch, type ResilientRequestInit } from './wrap-fetch.js';

export interface HttpClientOptions extends HttpRetryOptions {
  /** Connections per origin. Default: unlimited (undici's default). */
  readonly connections?: number;
  /** Per attempt: time to wait for the response headers. Default 30 000 ms. */
  readonly headersTimeout?: number;
  /** Per attempt: longest pause between two body chunks. Default 30 000 ms. */
  readonly bodyTimeout?: number;
  /** Per attempt: TCP + TLS handshake. Default 10 000 ms. */
  readonly connectTimeout?: number;
  /**
   * How long an idle pooled connection is kept. Default 4 000 ms: below the
   * 5 s keep-alive timeout of Node's own http server (the shortest common
   * default), so the client drops an idle socket before the server does and
   * never writes into one the server is closing. A server's
   * `Keep-Alive: timeout=N` hint is honoured (minus a second) when shorter.
   */
  readonly keepAliveTimeout?: number;
  /** Extra certificate authorities (PEM) for TLS origins; verification is never disabled. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
}

/** What `request()` takes: undici's usual options plus holdfast's per-request ones. */
export interface HttpRequestInit extends ResilientRequestOptions {
  readonly method?: Dispatcher.HttpMethod;
  readonly headers?: Dispatcher.DispatchOptions['headers'];
  readonly body?: string | Uint8Array | URLSearchParams | FormData | Blob | Readable | null;
  readonly signal?: AbortSignal;
  readonly headersTimeout?: number;
  readonly bodyTimeout?: number;
}

export interface HttpClient {
  /** Like undici's `request`: `{ statusCode, headers, body }`. */
  request(url: string | URL, init?: HttpRequestInit): Promise<Dispatcher.ResponseData>;
  /** Like `fetch`, with a WHATWG `Response`. */
  readonly fetch: ResilientFetch;
  /** The retrying dispatcher, for undici code that takes one (`request(url, { dispatcher })`). */
  readonly dispatcher: Dispatcher;
  /** Counters over every origin, and the state of each origin that failed lately. */
  stats(): HttpRetryStats;
  /** Adds a listener (`retry`, `recovered`, `give-up`, `stale-connection`, `health`); returns a function that removes it. */
  on: OriginGuards['on'];
  once: OriginGuards['once'];
  off: OriginGuards['off'];
  /** Ends waiting retries, closes every pooled connection and releases every timer. */
  close(): Promise<void>;
}

const CLIENT_RULES = {
  connections: rule.integer(1),
  headersTimeout: rule.timerMs(),
  bodyTimeout: rule.timerMs(),
  connectTimeout: rule.timerMs(),
  keepAliveTimeout: rule.timerMs(),
  ca: {
    test: (v: unknown) =>
      typeof v === 'string' || Buffer.isBuffer(v) || (Array.isArray(v) && v.every((c) => typeof c === 'string' || Buffer.isBuffer(c))),
    accepted: 'a PEM string or Buffer, or an array of them',
  },
};
function msProblem(where: string, option: string, value: unknown): RangeError | undefined {
  if (value === undefined || CLIENT_RULES.headersTimeout.test(value)) return undefined;
  return optionError(where, option, value, CLIENT_RULES.headersTimeout.accepted);
}

const EXTRA_KEYS = ['idempotent', 'idempotencyKey', 'deadlineMs', 'deadline', 'bodyFactory'] as const;

/**
 * One client for every origin it talks to: a pool per origin, and per origin
 * one retry budget and one circuit breaker; retries, timeouts and keep-alive
 * configured once. `request` runs through holdfast's undici interceptor;
 * `fetch` retries whole fetch calls under the same per-origin guards.
 */
export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const resolved = resolveRetryOptions('createHttpClient', options, CLIENT_RULES);
  const { connections, headersTimeout = 30_000, bodyTimeout = 30_000, connectTimeout = 10_000, keepAliveTimeout = 4_000, ca } = options;
  const agent = new Agent({
    headersTimeout,
    bodyTimeout,
    keepAliveTimeout,
    // undici subtracts this from the server's Keep-Alive: timeout= hint, to leave the race margin on the client's side.
    keepAliveTimeoutThreshold: 1_000,
    connect: { timeout: connectTimeout, ...(ca === undefined ? {} : { ca: ca as string | Buffer | (string | Buffer)[] }) },
    ...(connections === undefined ? {} : { connections }),
  });
  const guards = new OriginGuards(resolved);
  const interceptor: RetryInterceptor = createRetryInterceptor(guards);
  const dispatcher = new RetryingDispatcher(agent, interceptor);
  const plain: { dispatcher: Dispatcher } = { dispatcher };
  let closing: Promise<void> | undefined;

  const request = (url: string | URL, init?: HttpRequestInit): Promise<Dispatcher.ResponseData> => {
    if (init === undefined) return undiciRequest(url, plain);
    // Per-attempt limits for this request alone; undici's own message would not say what was wrong with the value.
    const problem = msProblem('request', 'headersTimeout', init.headersTimeout) ?? msProblem('request', 'bodyTimeout', init.bodyTimeout);
    if (problem !== undefined) return Promise.reject(problem);
    let opts: Record<string, unknown> = { ...init, dispatcher };
    if (init.body instanceof URLSearchParams) opts = withFormBody(opts, init.body);
    // Serialised once, here, as fetch would: the bytes and their multipart boundary are then replayed as they are.
    if (init.body instanceof FormData) {
      return serialiseForm(init.body).then(({ body, contentType }) =>
        request(url, { ...init, body, headers: withHeader(init.headers, 'content-type', contentType) as HttpRequestInit['headers'] }),
      );
    }
    if (EXTRA_KEYS.some((key) => key in init)) {
      const holdfast: Record<string, unknown> = {};
      for (const key of EXTRA_KEYS) {
        if (key in opts) {
          holdfast[key] = opts[key];
          opts[key] = undefined;
        }
      }
      opts.holdfast = holdfast;
    }
    return undiciRequest(url, opts as Parameters<typeof undiciRequest>[1]) as Promise<Dispatcher.ResponseData>;
  };

  const fetchThroughAgent = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- undici's Response is the class behind Node's global one; only the declarations differ
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as object), dispatcher: agent });

  return {
    request,
    fetch: wrapFetchWith(fetchThroughAgent, guards),
    dispatcher,
    stats: () => guards.stats(),
    on: guards.on.bind(guards),
    once: guards.once.bind(guards),
    off: guards.off.bind(guards),
    close() {
      closing ??= (async () => {
        interceptor.close();
        // undici code given client.dispatcher may have ended it already; a destroyed Agent refuses close().
        if (agent.destroyed) await agent.destroy();
        else await agent.close();
      })();
      return closing;
    },
  };
}

async function serialiseForm(form: FormData): Promise<{ body: Uint8Array; contentType: string }> {
  const encoded = new Response(form);
  const body = new Uint8Array(await encoded.arrayBuffer());
  return { body, contentType: encoded.headers.get('content-type') ?? 'multipart/form-data' };
}

function withFormBody(opts: Record<string, unknown>, body: URLSearchParams): Record<string, unknown> {
  const headers = (opts.headers ?? {}) as Record<string, string>;
  const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
  return {
    ...opts,
    body: body.toString(),
    headers: hasType ? headers : { ...headers, 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
  };
}

export type { ResilientRequestInit };
