import { CircuitBreaker } from './breaker.js';
import { RetryBudget } from './budget.js';
import type { GiveUpReason } from './errors.js';
import type { Listener } from './events.js';
import type { Fault, FaultContext } from './fault.js';
import { MAX_TIMER_MS, formatValue } from './options.js';
import type { Schedule } from './schedule.js';

/** What an attempt is told. The first attempt of a call without timers gets a shared frozen object. */
export interface AttemptInfo {
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Aborted when this attempt must stop (caller's signal, `attemptTimeoutMs`, deadline); pass it on to the I/O. */
  readonly signal?: AbortSignal;
}

export type RetryableOperation<T> = (attempt: AttemptInfo) => T | PromiseLike<T>;

/** What makes the operation safe to repeat (see `isSafeToRetry`). */
export interface OperationDescriptor {
  /** HTTP method, any case: GET, HEAD, PUT, DELETE, OPTIONS and TRACE are idempotent. */
  readonly method?: string;
  /** The caller's word that repeating the operation is harmless. */
  readonly idempotent?: boolean;
  /** An `Idempotency-Key` is sent, so the peer deduplicates repeats. */
  readonly idempotencyKey?: string | boolean;
}

/** What classify() is told about a failure: fixed, or computed from the error and the attempt that failed. */
export type FaultContextSource = FaultContext | ((error: unknown, attempt: number) => FaultContext | undefined);

/** Options of one call; given to `retry()` or to `RetryPolicy.execute()`, where they add to the policy's. */
export interface RetryCallOptions {
  /**
   * The caller's cancellation: ends any sleep at once and is never retried.
   * A running attempt gets it as `info.signal` and must honour it; with
   * `attemptTimeoutMs` or a deadline the call also stops waiting for it at once.
   */
  readonly signal?: AbortSignal;
  /** Each attempt is abandoned (its signal aborted) after this long, and counts as a `timeout` fault. */
  readonly attemptTimeoutMs?: number;
  /** Overall time for the call, from its start: no attempt runs and no sleep ends after it. */
  readonly deadlineMs?: number;
  /** Overall deadline as epoch milliseconds; with `deadlineMs`, the earlier one applies. */
  readonly deadline?: number;
  readonly operation?: OperationDescriptor;
  readonly context?: FaultContextSource;
  /** May veto a retry the rules allow (it can only narrow: an unsafe or aborted operation is never retried). */
  readonly shouldRetry?: (fault: Fault, attempt: number) => boolean;
}

/** Options held by a `RetryPolicy` for all its calls. */
export interface RetryPolicyOptions {
  /** Total attempts including the first; default 3. `Infinity` retries until the deadline. */
  readonly attempts?: number;
  /** Delay before each retry; default `defaultRetrySchedule` (full-jitter exponential, honours Retry-After). */
  readonly schedule?: Schedule;
  /**
   * Shared token bucket: each call deposits, each retry withdraws, and a call
   * that succeeds gives back what its retries after connection faults cost
   * (and the cost of the retry that succeeded): only wasted retries stay paid.
   */
  readonly budget?: RetryBudget;
  /**
   * A circuit breaker for the peer these calls go to: every attempt goes
   * through it (refused while open, the probe while half-open), each call's
   * final outcome counts once in its failure-rate window, and while it is
   * closed a connection fault earns an immediate retry (see `immediateRetries`).
   */
  readonly breaker?: CircuitBreaker;
  /**
   * A connection that failed before any answer (reset, refused, closed,
   * broken pipe) is retried at once, on top of `attempts`, up to this many
   * times per call: with a `breaker`, while it says the peer is alive (closed,
   * not in a run of failures); without one, only once per call and only for a
   * connection that broke before reaching the peer (`connect` or `idle` phase,
   * not a refusal). Default 8.
   * A policy with `attempts: 1` never retries.
   */
  readonly immediateRetries?: number;
  /** Default per-attempt timeout for every call. */
  readonly attemptTimeoutMs?: number;
  /** Default overall time for every call. */
  readonly deadlineMs?: number;
  readonly operation?: OperationDescriptor;
  readonly context?: FaultContextSource;
  readonly shouldRetry?: (fault: Fault, attempt: number) => boolean;
  /** Shown in events, to tell policies apart. */
  readonly name?: string;
  /**
   * Publish the policy's events on `holdfast:retry`, `holdfast:recovered`,
   * `holdfast:give-up` and `holdfast:budget-exhausted`. Default true; false
   * for an object that turns them into events of its own and publishes those
   * (one publish per event: the OTLP exporter's `retry`, a mongoose handle's
   * `reconnecting`). Listeners get them either way.
   */
  readonly publish?: boolean;
  /**
   * Let the process exit while a retry sleeps or an attempt timer runs.
   * Default false: someone awaits the result, and a script whose only work is
   * a retrying call must not exit silently in the middle of it.
   */
  readonly unref?: boolean;
  /** Uniform in [0, 1) for the schedule's jitter; injectable for tests. Default `Math.random`. */
  readonly random?: () => number;
}

export interface RetryEvent {
  readonly event: 'retry';
  readonly name?: string;
  /** The attempt that failed (1 for the first); the next one is `attempt + 1`. */
  readonly attempt: number;
  /** The sleep before the next attempt, in whole milliseconds (0 for an immediate retry). */
  readonly delayMs: number;
  /** The retry goes at once, on top of `attempts` (a connection fault while the peer is alive). */
  readonly immediate: boolean;
  readonly fault: Fault;
}

/** A call succeeded after retries: the peer is flaky but alive. */
export interface RecoveredEvent {
  readonly event: 'recovered';
  readonly name?: string;
  /** Attempts the call made, the successful one included. */
  readonly attempts: number;
  /** The fault of the last failed attempt. */
  readonly fault: Fault;
}

export interface GiveUpEvent {
  readonly event: 'give-up';
  readonly name?: string;
  readonly attempts: number;
  readonly reason: GiveUpReason;
  readonly fault: Fault;
}

export interface RetryBudgetRefusedEvent {
  readonly event: 'budget-exhausted';
  readonly name?: string;
  readonly attempts: number;
  readonly fault: Fault;
  /** Tokens the budget had left. */
  readonly available: number;
}

/** Published on `holdfast:retry`, `holdfast:recovered`, `holdfast:give-up` and `holdfast:budget-exhausted`. */
export interface RetryEvents {
  retry: RetryEvent;
  recovered: RecoveredEvent;
  'give-up': GiveUpEvent;
  'budget-exhausted': RetryBudgetRefusedEvent;
}

/** The one-shot `retry()` takes a policy's options, a call's options and listeners. */
export interface RetryOptions extends RetryPolicyOptions, RetryCallOptions {
  readonly onRetry?: Listener<RetryEvent>;
  readonly onRecovered?: Listener<RecoveredEvent>;
  readonly onGiveUp?: Listener<GiveUpEvent>;
  readonly onBudgetExhausted?: Listener<RetryBudgetRefusedEvent>;
}

type Check = (value: unknown) => boolean;

const isFunction: Check = (v) => typeof v === 'function';
const isTimerMs: Check = (v) => typeof v === 'number' && v > 0 && v <= MAX_TIMER_MS;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isOptional =
  (check: Check): Check =>
  (v) =>
    v === undefined || check(v);

function isSchedule(v: unknown): boolean {
  return isObject(v) && typeof v.next === 'function';
}

function isSignal(v: unknown): boolean {
  return isObject(v) && typeof v.aborted === 'boolean' && typeof v.addEventListener === 'function';
}

export function isOperationDescriptor(v: unknown): boolean {
  return (
    isObject(v) &&
    isOptional((m) => typeof m === 'string')(v.method) &&
    isOptional((i) => typeof i === 'boolean')(v.idempotent) &&
    isOptional((k) => typeof k === 'string' || typeof k === 'boolean')(v.idempotencyKey)
  );
}

type Rule = readonly [Check, string];

const timerMsRule: Rule = [isTimerMs, 'a number of milliseconds from 1 to 2147483647'];
const operationRule: Rule = [isOperationDescriptor, 'an object { method?: string, idempotent?: boolean, idempotencyKey?: string | boolean }'];
const contextRule: Rule = [(v) => isObject(v) || isFunction(v), 'a FaultContext object or a function (error, attempt) => FaultContext'];
const shouldRetryRule: Rule = [isFunction, 'a function (fault, attempt) => boolean'];

const CALL_RULES: Record<string, Rule> = {
  signal: [isSignal, 'an AbortSignal'],
  attemptTimeoutMs: timerMsRule,
  deadlineMs: timerMsRule,
  deadline: [(v) => typeof v === 'number' && Number.isFinite(v), 'a finite epoch time in milliseconds'],
  operation: operationRule,
  context: contextRule,
  shouldRetry: shouldRetryRule,
};

const POLICY_RULES: Record<string, Rule> = {
  attempts: [(v) => (Number.isInteger(v) && (v as number) >= 1) || v === Number.POSITIVE_INFINITY, 'an integer >= 1 or Infinity'],
  schedule: [isSchedule, 'a Schedule (an object with next(context))'],
  budget: [(v) => v instanceof RetryBudget, 'a RetryBudget'],
  breaker: [(v) => v instanceof CircuitBreaker, 'a CircuitBreaker'],
  immediateRetries: [(v) => Number.isInteger(v) && (v as number) >= 0, 'an integer >= 0'],
  attemptTimeoutMs: timerMsRule,
  deadlineMs: timerMsRule,
  operation: operationRule,
  context: contextRule,
  shouldRetry: shouldRetryRule,
  name: [(v) => typeof v === 'string', 'a string'],
  publish: [(v) => typeof v === 'boolean', 'true or false'],
  unref: [(v) => typeof v === 'boolean', 'a boolean'],
  random: [isFunction, 'a function returning a number in [0, 1)'],
};

const ONE_SHOT_RULES: Record<string, Rule> = {
  ...POLICY_RULES,
  ...CALL_RULES,
  onRetry: [isFunction, 'a function'],
  onRecovered: [isFunction, 'a function'],
  onGiveUp: [isFunction, 'a function'],
  onBudgetExhausted: [isFunction, 'a function'],
};

// The names other retry libraries use, so a ported call fails with a pointer instead of being ignored.
const FAMILIAR_NAMES: Record<string, string> = {
  retries: 'attempts (which counts the first attempt too)',
  maxAttempts: 'attempts',
  timeout: 'attemptTimeoutMs',
  maxRetryTime: 'deadlineMs',
  onFailedAttempt: "onRetry or policy.on('retry')",
};

/** The first problem with `options`, as the error to raise, or undefined when they are valid. */
function problemWith(where: string, options: unknown, rules: Record<string, Rule>): TypeError | RangeError | undefined {
  if (!isObject(options)) return new TypeError(`${where}: options must be an object, got ${formatValue(options)}`);
  for (const key in options) {
    const value = options[key];
    const rule = rules[key];
    if (rule === undefined) {
      const familiar = FAMILIAR_NAMES[key];
      return new TypeError(
        `${where}: unknown option '${key}'${familiar === undefined ? '' : ` (did you mean ${familiar}?)`}; accepted: ${Object.keys(rules).join(', ')}`,
      );
    }
    if (value !== undefined && !rule[0](value)) {
      return new RangeError(`${where}: option '${key}' must be ${rule[1]}, got ${formatValue(value)}`);
    }
  }
  return undefined;
}

export function policyOptionsProblem(options: unknown): TypeError | RangeError | undefined {
  return problemWith('RetryPolicy', options, POLICY_RULES);
}

export function callOptionsProblem(options: unknown): TypeError | RangeError | undefined {
  return problemWith('RetryPolicy.execute', options, CALL_RULES);
}

export function retryOptionsProblem(options: unknown): TypeError | RangeError | undefined {
  return problemWith('retry', options, ONE_SHOT_RULES);
}

export function operationProblem(where: string, operation: unknown): TypeError | undefined {
  return typeof operation === 'function'
    ? undefined
    : new TypeError(`${where}: the operation must be a function (attempt) => value or promise, got ${formatValue(operation)}`);
}
