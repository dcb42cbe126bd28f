import {
  CircuitBreaker,
  RetryBudget,
  defaultRetrySchedule,
  formatValue,
  honorRetryAfter,
  type BreakerOptions,
  type Fault,
  type GiveUpEvent,
  type Listener,
  type RetryBudgetOptions,
  type RetryEvent,
  type Schedule,
} from '@holdfast/core';

/** Options of `retryInterceptor()`, `createHttpClient()`, `wrapFetch()` and `withResilience()`. */
export interface HttpRetryOptions {
  /** Total attempts per request, the first included. Default 3. */
  readonly attempts?: number;
  /** Delay before each retry. Default: full-jitter exponential from 100 ms up to 10 s. `Retry-After` always wins, up to `retryAfterCapMs`. */
  readonly schedule?: Schedule;
  /** The longest `Retry-After` / 429 / 503 pushback honoured; a longer one is clamped (the deadline may still refuse it). Default 60 000 ms. */
  readonly retryAfterCapMs?: number;
  /** Response statuses retried (for requests that may be repeated). Default 408, 425, 429, 500, 502, 503, 504. */
  readonly statusCodes?: readonly number[];
  /** One retry budget per origin (the share of traffic retries may add), or `false` for none. Default `{}` (10 % plus 10 retries/s). */
  readonly budget?: RetryBudgetOptions | false;
  /**
   * One circuit breaker per origin, or `false` for none. Default `{}`: opens
   * above 50 % failures of at least 10 requests in 10 s; while open, one
   * probe after 5 ms, the wait doubling (jittered) per failed probe up to
   * 1 s, and sooner after every 5 refused requests (see `BREAKER_DEFAULTS`).
   */
  readonly breaker?: BreakerOptions | false;
  /** Default overall time per request, across attempts. Default: none (each attempt is bounded by undici's timeouts). */
  readonly deadlineMs?: number;
  /** Called before every retry (also published on `holdfast:retry`). */
  readonly onRetry?: Listener<RetryEvent & { readonly origin: string }>;
  /** Called when a request fails for good (also published on `holdfast:give-up`). */
  readonly onGiveUp?: Listener<GiveUpEvent & { readonly origin: string }>;
  /** Called when a reused keep-alive connection dies before any byte of the answer (also published on `holdfast:stale-connection`). */
  readonly onStaleConnection?: Listener<StaleConnectionEvent>;
}

/** A reused keep-alive connection died before any byte of the answer: most often the keep-alive race. */
export interface StaleConnectionEvent {
  readonly origin: string;
  readonly method: string;
  readonly fault: Fault;
  /** The request may be repeated (idempotent, or carries an idempotency key), so it is retried; otherwise its outcome is unknown. */
  readonly repeatable: boolean;
}

export const DEFAULT_RETRY_STATUSES: readonly number[] = [408, 425, 429, 500, 502, 503, 504];

/** The options after validation, with defaults filled in. */
export interface ResolvedRetryOptions {
  readonly attempts: number;
  readonly schedule: Schedule;
  readonly statusCodes: ReadonlySet<number>;
  readonly budget: RetryBudgetOptions | false;
  readonly breaker: BreakerOptions | false;
  readonly deadlineMs: number | undefined;
  readonly onRetry: HttpRetryOptions['onRetry'];
  readonly onGiveUp: HttpRetryOptions['onGiveUp'];
  readonly onStaleConnection: HttpRetryOptions['onStaleConnection'];
}

const ACCEPTED: Record<keyof HttpRetryOptions, string> = {
  attempts: 'an integer >= 1',
  schedule: 'a Schedule from @holdfast/core (an object with next(context))',
  retryAfterCapMs: 'a number of milliseconds >= 0',
  statusCodes: 'an array of HTTP statuses from 400 to 599',
  budget: 'RetryBudget options ({ ratio?, minRetriesPerSecond?, ttlMs?, connectPhaseCost? }) or false',
  breaker:
    'circuit breaker options ({ failureThresholdPercent?, minimumRequests?, windowMs?, windowBuckets?, resetTimeoutMs?, maxResetTimeoutMs?, probeAfterRejections?, isFailure? }) or false',
  deadlineMs: 'a number of milliseconds from 1 to 2147483647',
  onRetry: 'a function',
  onGiveUp: 'a function',
  onStaleConnection: 'a function',
};

const CHECKS: Record<keyof HttpRetryOptions, (v: unknown) => boolean> = {
  attempts: (v) => Number.isInteger(v) && (v as number) >= 1,
  schedule: (v) => typeof v === 'object' && v !== null && typeof (v as Schedule).next === 'function',
  retryAfterCapMs: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0,
  statusCodes: (v) => Array.isArray(v) && v.every((s) => Number.isInteger(s) && (s as number) >= 400 && (s as number) <= 599),
  budget: (v) => v === false || (typeof v === 'object' && v !== null),
  breaker: (v) => v === false || (typeof v === 'object' && v !== null),
  deadlineMs: (v) => typeof v === 'number' && v > 0 && v <= 2_147_483_647,
  onRetry: (v) => typeof v === 'function',
  onGiveUp: (v) => typeof v === 'function',
  onStaleConnection: (v) => typeof v === 'function',
};

/**
 * An origin's breaker unless the options say otherwise. An HTTP origin that
 * restarts is usually back within a second: the first probe goes after
 * 5 ms, each failed one doubles the wait (jittered) up to 1 s, and a busy
 * client probes after every 5 refused requests (never sooner than 5 ms
 * after the last probe failed, and one at a time), so at most about five
 * callers are refused after the origin is back. See
 * docs/decisions/0003-breaker-probe-schedule.md and 0004-http-breaker-recovery.md.
 */
export const BREAKER_DEFAULTS = Object.freeze({ resetTimeoutMs: 5, maxResetTimeoutMs: 1_000, probeAfterRejections: 5 } as const);

function withBreakerDefaults(options: BreakerOptions): BreakerOptions {
  const resetTimeoutMs = options.resetTimeoutMs ?? BREAKER_DEFAULTS.resetTimeoutMs;
  return {
    probeAfterRejections: BREAKER_DEFAULTS.probeAfterRejections,
    ...options,
    resetTimeoutMs,
    // A longer first wait than the default ceiling is the ceiling (a fixed wait), not an error.
    maxResetTimeoutMs:
      options.maxResetTimeoutMs ?? (typeof resetTimeoutMs === 'number' ? Math.max(BREAKER_DEFAULTS.maxResetTimeoutMs, resetTimeoutMs) : undefined),
  };
}

/** Checks every option once, at construction; errors name the option, the value and what is accepted. */
export function resolveRetryOptions(where: string, options: unknown, extraKeys: readonly string[] = []): ResolvedRetryOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${where}: options must be an object, got ${formatValue(options)}`);
  }
  const given = options as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (extraKeys.includes(key)) continue;
    const check = CHECKS[key as keyof HttpRetryOptions] as ((v: unknown) => boolean) | undefined;
    if (check === undefined) {
      throw new TypeError(`${where}: unknown option '${key}'; accepted: ${[...Object.keys(CHECKS), ...extraKeys].join(', ')}`);
    }
    const value = given[key];
    if (value !== undefined && !check(value)) {
      throw new RangeError(`${where}: option '${key}' must be ${ACCEPTED[key as keyof HttpRetryOptions]}, got ${formatValue(value)}`);
    }
  }
  const o = options as HttpRetryOptions;
  const budget = o.budget ?? {};
  // Built once here so that a bad budget option fails at construction, not on the first request.
  if (budget !== false) new RetryBudget(budget);
  const breaker = o.breaker === false ? false : withBreakerDefaults(o.breaker ?? {});
  if (breaker !== false) new CircuitBreaker(breaker).close();
  const capMs = o.retryAfterCapMs;
  let schedule = o.schedule ?? defaultRetrySchedule;
  if (o.schedule !== undefined || capMs !== undefined) schedule = honorRetryAfter(schedule, capMs === undefined ? {} : { capMs });
  return {
    attempts: o.attempts ?? 3,
    schedule,
    statusCodes: new Set(o.statusCodes ?? DEFAULT_RETRY_STATUSES),
    budget,
    breaker,
    deadlineMs: o.deadlineMs,
    onRetry: o.onRetry,
    onGiveUp: o.onGiveUp,
    onStaleConnection: o.onStaleConnection,
  };
}
