import { backoffSleep } from './backoff-sleep.js';
import type { RetryBudget } from './budget.js';
import { classify } from './classify/index.js';
import { OutcomeUnknownError, RetryError } from './errors.js';
import { TypedEvents } from './events.js';
import type { Fault, FaultContext } from './fault.js';
import { runGuardedAttempt } from './guarded-attempt.js';
import type {
  AttemptInfo,
  FaultContextSource,
  OperationDescriptor,
  RetryableOperation,
  RetryCallOptions,
  RetryEvents,
  RetryOptions,
  RetryPolicyOptions,
} from './retry-options.js';
import { MAX_TIMER_MS } from './options.js';
import { retryVerdict } from './safety.js';
import { formatValue } from './options.js';
import { defaultRetrySchedule, type Schedule } from './schedule.js';

/**
 * The retry loop shared by `retry()` and `RetryPolicy`. A call starts bare:
 * the first attempt is the operation itself, awaited once, with nothing
 * built around it unless the caller asked for a timer. Only when it fails
 * is a `RetryRun` assembled and the machinery (classify, verdict, schedule,
 * deadline, budget, events) consulted.
 */

// Shared by every bare first attempt, so a call that succeeds allocates nothing for it.
const FIRST_ATTEMPT: AttemptInfo = Object.freeze({ attempt: 1 });

const DEFAULT_ATTEMPTS = 3;

// One-shot calls without listeners still publish on the diagnostics channels; this emitter never gets listeners.
const publishOnly = new TypedEvents<RetryEvents>();

type ShouldRetry = (fault: Fault, attempt: number) => boolean;

/** Everything a call needs once its first attempt failed, or once it needs timers from the start. */
interface RetryRun<T> {
  readonly operation: RetryableOperation<T>;
  readonly attempts: number;
  readonly schedule: Schedule;
  readonly budget: RetryBudget | undefined;
  readonly random: () => number;
  readonly name: string | undefined;
  readonly unref: boolean;
  readonly signal: AbortSignal | undefined;
  readonly attemptTimeoutMs: number | undefined;
  readonly deadlineAt: number | undefined;
  readonly descriptor: OperationDescriptor | undefined;
  readonly context: FaultContextSource | undefined;
  readonly shouldRetry: ShouldRetry | undefined;
  readonly events: TypedEvents<RetryEvents>;
  /** The policy's sleeping calls, which `RetryPolicy.wake()` ends; none for a one-shot `retry()`. */
  readonly sleepers: Set<() => void> | undefined;
}

/**
 * Runs `operation` under `policy` (options shared by many calls) and `call`
 * (this call's own). `events` is the policy's emitter; `undefined` means a
 * one-shot `retry()` whose listeners, if any, are in its options. `sleepers`
 * is the policy's set of sleeping calls (see `RetryPolicy.wake()`).
 */
export function startCall<T>(
  operation: RetryableOperation<T>,
  policy: RetryPolicyOptions,
  call: RetryCallOptions | undefined,
  events: TypedEvents<RetryEvents> | undefined,
  sleepers?: Set<() => void>,
): Promise<T> {
  policy.budget?.recordRequest();
  if (
    policy.attemptTimeoutMs !== undefined ||
    policy.deadlineMs !== undefined ||
    (call !== undefined && (call.attemptTimeoutMs !== undefined || call.deadlineMs !== undefined || call.deadline !== undefined))
  ) {
    return runFromFirstGuarded(buildRun(operation, policy, call, events, Date.now(), sleepers));
  }
  const signal = call?.signal;
  if (signal === undefined) return runBare(operation, FIRST_ATTEMPT, policy, call, events, sleepers);
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return runBare(operation, { attempt: 1, signal }, policy, call, events, sleepers);
}

async function runBare<T>(
  operation: RetryableOperation<T>,
  info: AttemptInfo,
  policy: RetryPolicyOptions,
  call: RetryCallOptions | undefined,
  events: TypedEvents<RetryEvents> | undefined,
  sleepers: Set<() => void> | undefined,
): Promise<T> {
  try {
    return await operation(info);
  } catch (error) {
    return retryAfterFailure(buildRun(operation, policy, call, events, undefined, sleepers), error, 1);
  }
}

async function runFromFirstGuarded<T>(run: RetryRun<T>): Promise<T> {
  try {
    return await runAttempt(run, 1);
  } catch (error) {
    return retryAfterFailure(run, error, 1);
  }
}

async function retryAfterFailure<T>(run: RetryRun<T>, firstError: unknown, failedAttempt: number): Promise<T> {
  let error = firstError;
  let attempt = failedAttempt;
  let previousDelayMs = 0;
  for (;;) {
    const delayMs = nextDelay(run, error, attempt, previousDelayMs);
    await backoffSleep(delayMs, run.signal, run.unref, run.sleepers);
    attempt++;
    previousDelayMs = delayMs;
    try {
      return await runAttempt(run, attempt);
    } catch (attemptError) {
      error = attemptError;
    }
  }
}

async function runAttempt<T>(run: RetryRun<T>, attempt: number): Promise<T> {
  const { attemptTimeoutMs, deadlineAt, signal } = run;
  if (attemptTimeoutMs === undefined && deadlineAt === undefined) {
    return await run.operation(signal === undefined ? { attempt } : { attempt, signal });
  }
  let limitMs = attemptTimeoutMs;
  let limitIsDeadline = false;
  if (deadlineAt !== undefined) {
    const leftMs = Math.max(0, deadlineAt - Date.now());
    // Beyond what a timer can hold the deadline cannot bind this attempt; attemptTimeoutMs still may.
    if (leftMs <= MAX_TIMER_MS && (limitMs === undefined || leftMs < limitMs)) {
      limitMs = leftMs;
      limitIsDeadline = true;
    }
  }
  return runGuardedAttempt(run.operation, attempt, limitMs, limitIsDeadline, signal, run.unref);
}

/** Decides after a failed attempt: returns the sleep before the next one, or throws what the call rejects with. */
function nextDelay(run: RetryRun<unknown>, error: unknown, attempt: number, previousDelayMs: number): number {
  const { signal } = run;
  // The caller's abort is never retried and never dressed up: it rejects with the caller's reason.
  if (signal?.aborted === true) throw signal.reason;
  const fault = classify(error, faultContext(run, error, attempt));
  const verdict = retryVerdict(fault, run.descriptor);
  if (!verdict.retry) {
    if (verdict.reason === 'aborted') throw error;
    throw giveUp(
      run,
      verdict.reason === 'outcome-unknown' ? new OutcomeUnknownError(fault, attempt, error) : new RetryError(fault, attempt, 'not-transient', error),
    );
  }
  const { deadlineAt } = run;
  if (deadlineAt !== undefined && Date.now() >= deadlineAt) {
    throw giveUp(run, new RetryError(fault, attempt, 'deadline', error, 'the overall deadline has passed'));
  }
  if (attempt >= run.attempts) throw giveUp(run, new RetryError(fault, attempt, 'attempts-exhausted', error));
  if (run.shouldRetry !== undefined && !run.shouldRetry(fault, attempt)) {
    throw giveUp(run, new RetryError(fault, attempt, 'should-retry', error));
  }
  const delayMs = run.schedule.next({ attempt, previousDelayMs, fault, random: run.random });
  if (!(Number.isFinite(delayMs) && delayMs >= 0)) {
    throw new RangeError(
      `retry: schedule '${run.schedule.description}' returned ${formatValue(delayMs)} before attempt ${attempt + 1}; a delay must be a finite number >= 0`,
      { cause: error },
    );
  }
  if (deadlineAt !== undefined) {
    const leftMs = deadlineAt - Date.now();
    // A sleep that would end at or after the deadline is refused: the attempt after it could not run.
    if (delayMs >= leftMs) {
      const detail = `the next attempt would start after the overall deadline (a ${Math.round(delayMs)} ms backoff, ${Math.round(Math.max(0, leftMs))} ms left)`;
      throw giveUp(run, new RetryError(fault, attempt, 'deadline', error, detail));
    }
  }
  const { budget } = run;
  if (budget !== undefined && !budget.tryWithdraw(fault)) {
    run.events.emit('budget-exhausted', { ...named(run), attempts: attempt, fault, available: budget.available });
    throw giveUp(run, new RetryError(fault, attempt, 'budget-exhausted', error));
  }
  run.events.emit('retry', { ...named(run), attempt, delayMs, fault });
  return delayMs;
}

function giveUp(run: RetryRun<unknown>, error: RetryError): RetryError {
  run.events.emit('give-up', { ...named(run), attempts: error.attempts, reason: error.reason, fault: error.fault });
  return error;
}

function named(run: RetryRun<unknown>): { name?: string } {
  return run.name === undefined ? {} : { name: run.name };
}

function faultContext(run: RetryRun<unknown>, error: unknown, attempt: number): FaultContext | undefined {
  const source = run.context;
  const given = typeof source === 'function' ? source(error, attempt) : source;
  const descriptor = run.descriptor;
  if (descriptor === undefined) return given;
  const fromDescriptor: { method?: string; idempotent?: boolean } = {};
  if (descriptor.method !== undefined) fromDescriptor.method = descriptor.method;
  if (descriptor.idempotent !== undefined) fromDescriptor.idempotent = descriptor.idempotent;
  return { ...fromDescriptor, ...given };
}

function buildRun<T>(
  operation: RetryableOperation<T>,
  policy: RetryPolicyOptions,
  call: RetryCallOptions | undefined,
  events: TypedEvents<RetryEvents> | undefined,
  startedAt: number | undefined,
  sleepers: Set<() => void> | undefined,
): RetryRun<T> {
  let deadlineAt: number | undefined;
  if (startedAt !== undefined) {
    const deadlineMs = call?.deadlineMs ?? policy.deadlineMs;
    if (deadlineMs !== undefined) deadlineAt = startedAt + deadlineMs;
    const absolute = call?.deadline;
    if (absolute !== undefined && (deadlineAt === undefined || absolute < deadlineAt)) deadlineAt = absolute;
  }
  return {
    operation,
    attempts: policy.attempts ?? DEFAULT_ATTEMPTS,
    schedule: policy.schedule ?? defaultRetrySchedule,
    budget: policy.budget,
    random: policy.random ?? Math.random,
    name: policy.name,
    unref: policy.unref ?? false,
    signal: call?.signal,
    attemptTimeoutMs: call?.attemptTimeoutMs ?? policy.attemptTimeoutMs,
    deadlineAt,
    descriptor: call?.operation ?? policy.operation,
    context: call?.context ?? policy.context,
    shouldRetry: bothMustAgree(policy.shouldRetry, call?.shouldRetry),
    events: events ?? oneShotEvents(policy),
    sleepers,
  };
}

function bothMustAgree(first: ShouldRetry | undefined, second: ShouldRetry | undefined): ShouldRetry | undefined {
  if (first === undefined || second === undefined || first === second) return first ?? second;
  return (fault, attempt) => first(fault, attempt) && second(fault, attempt);
}

function oneShotEvents(options: RetryOptions): TypedEvents<RetryEvents> {
  const { onRetry, onGiveUp, onBudgetExhausted } = options;
  if (onRetry === undefined && onGiveUp === undefined && onBudgetExhausted === undefined) return publishOnly;
  const events = new TypedEvents<RetryEvents>();
  if (onRetry !== undefined) events.on('retry', onRetry);
  if (onGiveUp !== undefined) events.on('give-up', onGiveUp);
  if (onBudgetExhausted !== undefined) events.on('budget-exhausted', onBudgetExhausted);
  return events;
}
