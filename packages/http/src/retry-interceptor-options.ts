import { defaultRetrySchedule, honorRetryAfter, type BreakerOptions, type Listener, type RetryBudgetOptions, type Schedule } from '@holdfast/core';
import { MAX_TIMER_MS, checkBreakerOptions, checkBudgetOptions, checkOptions, rule, type OptionRules } from '@holdfast/core/internal';
import type { HttpClientEvents, StaleConnectionEvent } from './http-events.js';

/** Options of `retryInterceptor()`, `createHttpClient()`, `resilientFetch()` and `resilientAxios()`. */
export interface HttpRetryOptions {
  /**
   * The name in every event's payload and on `node:diagnostics_channel`, to
   * tell this client's events from another's (the origin is in every payload
   * as `origin`). Default: the origin of the request.
   */
  readonly name?: string;
  /** Total attempts per request, the first included, not counting immediate retries. Default 3. */
  readonly attempts?: number;
  /**
   * A request whose connection failed before any answer (reset, refused,
   * closed) while its origin is alive (the breaker closed, not in a run of
   * failures) is retried at once on a new connection, on top of `attempts`,
   * up to this many times. They stop the moment the breaker opens. Default 8.
   */
  readonly immediateRetries?: number;
  /** Delay before each retry. Default: full-jitter exponential from 100 ms up to 10 s. `Retry-After` always wins, up to `retryAfterCapMs`. */
  readonly schedule?: Schedule;
  /** The longest `Retry-After` / 429 / 503 pushback honoured; a longer one is clamped (the deadline may still refuse it). Default 60 000 ms. */
  readonly retryAfterCapMs?: number;
  /** Response statuses retried (for requests that may be repeated). Default 408, 425, 429, 500, 502, 503, 504. */
  readonly statusCodes?: readonly number[];
  /**
   * One retry budget per origin (the share of traffic retries may add), or
   * `false` for none. Default `{}` (10 % plus 10 retries/s); a request that
   * succeeds gives back what its retries after connection faults cost.
   */
  readonly budget?: RetryBudgetOptions | false;
  /**
   * One circuit breaker per origin, or `false` for none. Default `{}`: opens
   * after 20 failed attempts in a row, or when more than 50 % of at least 10
   * requests in 10 s failed after their retries; while open, one probe after
   * 5 ms, the wait doubling (jittered) per failed probe up to 1 s, and sooner
   * after every 5 refused requests (see `BREAKER_DEFAULTS`).
   */
  readonly breaker?: BreakerOptions | false;
  /** Default overall time per request, across attempts. Default: none (each attempt is bounded by undici's timeouts). */
  readonly deadlineMs?: number;
  /** A listener for the `retry` event, added at construction (same as `.on('retry', …)`). */
  readonly onRetry?: Listener<HttpClientEvents['retry']>;
  /** A listener for the `give-up` event, added at construction. */
  readonly onGiveUp?: Listener<HttpClientEvents['give-up']>;
  /** A listener for the `stale-connection` event, added at construction. */
  readonly onStaleConnection?: Listener<StaleConnectionEvent>;
}

export const DEFAULT_RETRY_STATUSES: readonly number[] = [408, 425, 429, 500, 502, 503, 504];

/** The options after validation, with defaults filled in. */
export interface ResolvedRetryOptions {
  readonly name: string | undefined;
  readonly attempts: number;
  readonly immediateRetries: number;
  readonly schedule: Schedule;
  readonly statusCodes: ReadonlySet<number>;
  readonly budget: RetryBudgetOptions | false;
  readonly breaker: BreakerOptions | false;
  readonly deadlineMs: number | undefined;
  readonly onRetry: HttpRetryOptions['onRetry'];
  readonly onGiveUp: HttpRetryOptions['onGiveUp'];
  readonly onStaleConnection: HttpRetryOptions['onStaleConnection'];
}

const RULES: { readonly [K in keyof HttpRetryOptions]-?: OptionRules[string] } = {
  name: rule.string(),
  attempts: rule.integer(1),
  immediateRetries: rule.integer(0),
  schedule: rule.schedule(),
  retryAfterCapMs: { test: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0, accepted: 'a number of milliseconds >= 0' },
  statusCodes: {
    test: (v) => Array.isArray(v) && v.every((s) => Number.isInteger(s) && (s as number) >= 400 && (s as number) <= 599),
    accepted: 'an array of HTTP statuses from 400 to 599',
  },
  budget: rule.objectOrFalse('RetryBudget options ({ ratio?, minRetriesPerSecond?, ttlMs?, connectPhaseCost? })'),
  breaker: rule.objectOrFalse(
    'circuit breaker options ({ consecutiveFailures?, failureThresholdPercent?, minimumRequests?, windowMs?, windowBuckets?, resetTimeoutMs?, maxResetTimeoutMs?, probeAfterRejections?, isFailure? })',
  ),
  deadlineMs: {
    test: (v) => typeof v === 'number' && v > 0 && v <= MAX_TIMER_MS,
    accepted: `a number of milliseconds from 1 to ${MAX_TIMER_MS}`,
  },
  onRetry: rule.function(),
  onGiveUp: rule.function(),
  onStaleConnection: rule.function(),
};

/** Names other retry libraries use, so a ported call fails with a pointer. */
const FAMILIAR = {
  retries: 'attempts (which counts the first attempt too)',
  retry: 'attempts',
  maxRetries: 'attempts (which counts the first attempt too)',
  retryDelay: 'schedule',
  timeout: 'deadlineMs',
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
export function resolveRetryOptions(where: string, options: unknown, extraRules: OptionRules = {}): ResolvedRetryOptions {
  checkOptions(where, options as object, { ...RULES, ...extraRules }, { familiar: FAMILIAR });
  const o = (options ?? {}) as HttpRetryOptions;
  const budget = o.budget ?? {};
  // Checked here, so that a bad budget or breaker option fails at construction with the name the user wrote.
  if (budget !== false) checkBudgetOptions(where, budget, 'budget');
  if (o.breaker !== undefined && o.breaker !== false) checkBreakerOptions(where, withBreakerDefaults(o.breaker), 'breaker');
  const breaker = o.breaker === false ? false : withBreakerDefaults(o.breaker ?? {});
  const capMs = o.retryAfterCapMs;
  let schedule = o.schedule ?? defaultRetrySchedule;
  if (o.schedule !== undefined || capMs !== undefined) schedule = honorRetryAfter(schedule, capMs === undefined ? {} : { capMs });
  return {
    name: o.name,
    attempts: o.attempts ?? 3,
    immediateRetries: o.immediateRetries ?? 8,
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
