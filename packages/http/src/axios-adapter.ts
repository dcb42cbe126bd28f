import { randomUUID } from 'node:crypto';
import { warnDeprecated } from '@holdfast/core/internal';
import { OriginGuards, type HttpRetryStats } from './origin-guards.js';
import { isReplayableBody } from './replayable-body.js';
import { IDEMPOTENCY_KEY_HEADER, validateRequestOptions, type ResilientRequestOptions } from './request-options.js';
import { callWithRetries, type ResponseShape } from './resilient-call.js';
import { resolveRetryOptions, type HttpRetryOptions } from './retry-interceptor-options.js';

/**
 * The few parts of axios this adapter touches, typed here so that axios stays
 * an optional peer: a fetch user never installs it.
 */
interface AxiosResponseLike {
  readonly status: number;
  readonly headers: unknown;
  readonly data: unknown;
}

interface AxiosConfigLike {
  url?: string;
  baseURL?: string;
  method?: string;
  headers?: { set?(name: string, value: string): unknown; has?(name: string): boolean } & Record<string, unknown>;
  data?: unknown;
  signal?: unknown;
  adapter?: unknown;
  validateStatus?: ((status: number) => boolean) | null;
  /** holdfast's per-request options (axios passes unknown config keys through to the adapter). */
  holdfast?: ResilientRequestOptions;
}

type Adapter = (config: AxiosConfigLike) => Promise<AxiosResponseLike>;

interface InterceptorHandler {
  fulfilled?: unknown;
  rejected?: unknown;
  synchronous?: boolean;
  runWhen?: unknown;
}

interface InterceptorManagerLike {
  handlers?: readonly (InterceptorHandler | null)[];
  use(fulfilled?: unknown, rejected?: unknown, options?: { synchronous?: boolean; runWhen?: unknown }): number;
}

export interface AxiosInstanceLike {
  defaults: { adapter?: unknown };
  /** axios 1.x: an instance makes another from its own defaults. */
  create?: (config?: object) => AxiosInstanceLike;
  interceptors?: { request: InterceptorManagerLike; response: InterceptorManagerLike };
}

/** What `resilientAxios()` adds to the axios instance it returns. */
export interface ResilientAxios {
  /** Counters over every origin. */
  stats(): HttpRetryStats;
  /** Adds a listener (`retry`, `recovered`, `give-up`, `stale-connection`, `health`); returns a function that removes it. */
  on: OriginGuards['on'];
  once: OriginGuards['once'];
  off: OriginGuards['off'];
  /** Releases the per-origin breakers. */
  close(): void;
}

const axiosShape: ResponseShape<AxiosResponseLike> = {
  status: (response) => response.status,
  headers: (response) => response.headers,
  discard: (response) => {
    const data = response.data as { destroy?: () => void } | null;
    if (data !== null && typeof data === 'object' && typeof data.destroy === 'function') data.destroy();
  },
};

let getAdapter: ((adapter: unknown) => Adapter) | undefined;

async function resolveAdapter(adapter: unknown): Promise<Adapter> {
  if (typeof adapter === 'function') return adapter as Adapter;
  // Only an axios user reaches this line, so axios is installed; loaded lazily so fetch users never need it.
  getAdapter ??= ((await import('axios')) as unknown as { default: { getAdapter: (a: unknown) => Adapter } }).default.getAdapter;
  return getAdapter(adapter ?? ['xhr', 'http', 'fetch']);
}

/**
 * A new axios instance with holdfast's rules, made from `instance` (its
 * defaults and interceptors as they are now); `instance` itself is left as it
 * was. The new instance's adapter is wrapped, so each attempt is one real
 * adapter call with the config axios already transformed. Responses and
 * errors keep axios' shapes; a request whose outcome is unknown rejects with
 * `OutcomeUnknownError` (its `cause` is the AxiosError). The instance also
 * has `on`/`once`/`off`, `stats()` and `close()` (which releases its breakers).
 */
export function resilientAxios<I extends AxiosInstanceLike>(instance: I, options: HttpRetryOptions = {}): I & ResilientAxios {
  checkInstance('resilientAxios', instance);
  if (typeof instance.create !== 'function' || instance.interceptors === undefined) {
    throw new TypeError('resilientAxios: the instance has no create(); axios 1.6 or later is needed (npm install axios@1)');
  }
  const copy = instance.create() as I;
  for (const kind of ['request', 'response'] as const) {
    for (const handler of instance.interceptors[kind].handlers ?? []) {
      if (handler === null) continue;
      copy.interceptors?.[kind].use(handler.fulfilled, handler.rejected, {
        synchronous: handler.synchronous ?? false,
        runWhen: handler.runWhen ?? null,
      });
    }
  }
  return Object.assign(copy, install('resilientAxios', copy, options));
}

/**
 * @deprecated Use `resilientAxios(instance)`, which returns a new instance and
 * leaves yours as it was. This one changes `instance` in place (HOLDFAST_DEP015).
 */
export function withResilience(instance: AxiosInstanceLike, options: HttpRetryOptions = {}): ResilientAxios {
  warnDeprecated(
    'HOLDFAST_DEP015',
    'withResilience(instance) of @holdfast/http is deprecated: use resilientAxios(instance), which returns a new axios instance and leaves yours as it was',
  );
  checkInstance('withResilience', instance);
  return install('withResilience', instance, options);
}

function checkInstance(where: string, instance: AxiosInstanceLike): void {
  if ((typeof instance !== 'object' && typeof instance !== 'function') || (instance as unknown) === null || typeof instance.defaults !== 'object') {
    throw new TypeError(`${where}: the first argument must be an axios instance (axios or axios.create())`);
  }
}

/** Wraps `instance`'s adapter with holdfast's rules. */
function install(where: string, instance: AxiosInstanceLike, options: HttpRetryOptions): ResilientAxios {
  const guards = new OriginGuards(resolveRetryOptions(where, options));
  const { statusCodes } = guards.options;
  const original = instance.defaults.adapter;
  let adapterPromise: Promise<Adapter> | undefined;

  instance.defaults.adapter = async (config: AxiosConfigLike): Promise<AxiosResponseLike> => {
    adapterPromise ??= resolveAdapter(original);
    const adapter = await adapterPromise;
    const extra = config.holdfast;
    if (extra !== undefined) validateRequestOptions('axios request', extra);
    const method = (config.method ?? 'get').toUpperCase();
    let key = extra?.idempotencyKey;
    if (key === true) key = randomUUID();
    if (typeof key === 'string') config.headers?.set?.(IDEMPOTENCY_KEY_HEADER, key);
    else if (key !== false && config.headers?.has?.(IDEMPOTENCY_KEY_HEADER) === true) key = true;
    const descriptor: { method: string; idempotent?: boolean; idempotencyKey?: boolean } = { method };
    if (extra?.idempotent !== undefined) descriptor.idempotent = extra.idempotent;
    if (key === true || typeof key === 'string') descriptor.idempotencyKey = true;
    let deadline = extra?.deadline;
    const deadlineMs = extra?.deadlineMs ?? guards.options.deadlineMs;
    if (deadlineMs !== undefined && (deadline === undefined || Date.now() + deadlineMs < deadline)) deadline = Date.now() + deadlineMs;
    const factory = extra?.bodyFactory;
    const origin = new URL(config.url ?? '', config.baseURL).origin;
    const signal = config.signal instanceof AbortSignal ? config.signal : undefined;
    return callWithRetries(
      guards,
      origin,
      (info) => {
        const attemptConfig: AxiosConfigLike = { ...config };
        if (factory !== undefined && info.attempt > 1) attemptConfig.data = factory();
        if (info.signal !== undefined && info.signal !== signal) attemptConfig.signal = info.signal;
        // Statuses are judged here, so the adapter hands every response over; axios' own validateStatus runs after.
        attemptConfig.validateStatus = null;
        return adapter(attemptConfig);
      },
      {
        descriptor: descriptor,
        idempotent: extra?.idempotent,
        signal,
        deadline,
        oneShotBody: factory === undefined && !isReplayableBody(config.data),
      },
      axiosShape,
      statusCodes,
    ).then((response) => settle(config, response));
  };
  return {
    stats: () => guards.stats(),
    on: guards.on.bind(guards),
    once: guards.once.bind(guards),
    off: guards.off.bind(guards),
    close: () => guards.close(),
  };
}

/** axios' own rule, applied once after the retries: a status outside validateStatus rejects with an AxiosError-shaped error. */
async function settle(config: AxiosConfigLike, response: AxiosResponseLike): Promise<AxiosResponseLike> {
  const validate = config.validateStatus;
  if (validate == null || validate(response.status)) return response;
  const { AxiosError } = ((await import('axios')) as unknown as { default: { AxiosError: new (...args: unknown[]) => Error } }).default;
  throw new AxiosError(
    `Request failed with status code ${response.status}`,
    response.status >= 500 ? 'ERR_BAD_RESPONSE' : 'ERR_BAD_REQUEST',
    config,
    (response as { request?: unknown }).request,
    response,
  );
}
