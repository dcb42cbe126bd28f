import { backoffSleep } from './backoff-sleep.js';
import { RetryBudget } from './budget.js';
import { checkOptions, rule, type OptionRules } from './options.js';
import { buildRun, nextDelay } from './retry-loop.js';
import { isOperationDescriptor, type RetryableOperation, type RetryOptions } from './retry-options.js';

/**
 * What `holdfastRetryOptions()` takes: the options of core's `retry()` that
 * hold when p-retry runs the attempts. Not `attemptTimeoutMs` or `breaker`
 * (p-retry calls the operation itself, so nothing of ours is around an
 * attempt), nor `onRecovered` (p-retry tells its options only of failures).
 */
export type HoldfastPRetryInput = Pick<
  RetryOptions,
  | 'attempts'
  | 'schedule'
  | 'budget'
  | 'immediateRetries'
  | 'deadlineMs'
  | 'deadline'
  | 'operation'
  | 'context'
  | 'shouldRetry'
  | 'signal'
  | 'name'
  | 'unref'
  | 'random'
  | 'onRetry'
  | 'onGiveUp'
  | 'onBudgetExhausted'
>;

/** What p-retry tells `shouldRetry` (p-retry 7, 8 and 9 give more; this is what holdfast reads). */
export interface PRetryContext {
  readonly error: Error;
  readonly attemptNumber: number;
}

/**
 * Options for p-retry 7, 8 or 9 (`pRetry(fn, holdfastRetryOptions({ … }))`):
 * p-retry's own count and backoff are off, and holdfast decides each failure
 * in `shouldRetry`.
 */
export interface HoldfastPRetryOptions {
  /** Unlimited for p-retry: holdfast's `attempts` (default 3) and deadline stop the call. */
  readonly retries: number;
  /** No delay of p-retry's own: holdfast's schedule (with `Retry-After`) sleeps inside `shouldRetry`. */
  readonly minTimeout: number;
  readonly randomize: boolean;
  readonly signal?: AbortSignal;
  readonly unref?: boolean;
  /**
   * Classifies the failure and either throws what the call is to reject with
   * (`OutcomeUnknownError`, `RetryError`, the caller's abort reason) or
   * sleeps the schedule's delay and resolves `true`.
   */
  readonly shouldRetry: (context: PRetryContext) => Promise<boolean>;
}

const RULES: OptionRules = {
  attempts: rule.integerOrInfinity(1),
  schedule: rule.schedule(),
  budget: rule.instanceOf(RetryBudget, 'a RetryBudget'),
  immediateRetries: rule.integer(0),
  deadlineMs: rule.timerMs(),
  deadline: rule.number(0),
  operation: { test: isOperationDescriptor, accepted: 'an object { method?: string, idempotent?: boolean, idempotencyKey?: string | boolean }' },
  context: rule.either(rule.object('a FaultContext object'), rule.function('(error, attempt) => FaultContext')),
  shouldRetry: rule.function('(fault, attempt) => boolean'),
  signal: rule.signal(),
  name: rule.string(),
  unref: rule.boolean(),
  random: rule.function('returning a number in [0, 1)'),
  onRetry: rule.function(),
  onGiveUp: rule.function(),
  onBudgetExhausted: rule.function(),
};

// p-retry's own names, so a call ported from p-retry options fails with a pointer instead of being ignored.
const FAMILIAR = {
  retries: 'attempts (which counts the first attempt too)',
  minTimeout: 'schedule (e.g. exponential({ initialMs }) from @holdfast/core)',
  maxTimeout: 'schedule (e.g. exponential({ maxMs }) from @holdfast/core)',
  factor: 'schedule (e.g. exponential({ factor }) from @holdfast/core)',
  randomize: "schedule (holdfast's schedules jitter by default)",
  maxRetryTime: 'deadlineMs',
  onFailedAttempt: 'onRetry (or spread these options and add your own onFailedAttempt)',
};

const neverCalled: RetryableOperation<never> = () => {
  throw new Error('p-retry runs the attempts');
};

/**
 * Makes p-retry take holdfast's decisions: `pRetry(fn, holdfastRetryOptions({ operation: { method: 'POST' } }))`.
 * A failure is retried only when `classify()` calls it transient and
 * repeating is safe; an operation that may have been applied fails with
 * `OutcomeUnknownError` (what `throw new AbortError(error)` would give
 * inside `fn`); the schedule honours `Retry-After`; a shared `RetryBudget`
 * is spent; `retry`, `give-up` and `budget-exhausted` are reported as core's
 * `retry()` reports them (listeners here, and `holdfast:*` diagnostics channels).
 *
 * One options object may serve many calls: p-retry copies its options as
 * each call starts, which is when the call's count, deadline and budget
 * deposit begin.
 */
export function holdfastRetryOptions(options: HoldfastPRetryInput = {}): HoldfastPRetryOptions {
  const given: HoldfastPRetryInput = { ...checkOptions('holdfastRetryOptions', options, RULES, { familiar: FAMILIAR }) };
  const { signal, unref } = given;
  return {
    retries: Number.POSITIVE_INFINITY,
    minTimeout: 0,
    randomize: false,
    ...(signal === undefined ? {} : { signal }),
    ...(unref === undefined ? {} : { unref }),
    // A getter, read by p-retry's `{ ...options }` once per call: each call gets its own decider.
    get shouldRetry(): (context: PRetryContext) => Promise<boolean> {
      return decider(given);
    },
  };
}

/** One p-retry call's view of core's retry loop: the run starts now, with the call. */
function decider(options: HoldfastPRetryInput): (context: PRetryContext) => Promise<boolean> {
  options.budget?.recordRequest();
  const run = buildRun(neverCalled, options, options, undefined, Date.now(), undefined, undefined);
  let previousDelayMs = 0;
  return async ({ error, attemptNumber }) => {
    // Throws what the call is to reject with when no retry follows.
    const delayMs = nextDelay(run, error, attemptNumber, previousDelayMs);
    previousDelayMs = delayMs;
    if (delayMs > 0) await backoffSleep(delayMs, run.signal, run.unref);
    else if (run.signal?.aborted === true) throw run.signal.reason;
    return true;
  };
}
