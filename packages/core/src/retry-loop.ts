import { backoffSleep } from './backoff-sleep.js';
import { breakerPort, type BreakerPort } from './breaker-port.js';
import type { RetryBudget } from './budget.js';
import { classify } from './classify/index.js';
import { BreakerOpenError, OutcomeUnknownError, RetryError } from './errors.js';
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
const DEFAULT_IMMEDIATE_RETRIES = 8;

/** Counters a `RetryPolicy` keeps over all its calls. */
export interface RetryCounters {
  calls: number;
  retries: number;
  immediateRetries: number;
  recovered: number;
  gaveUp: number;
  refundedTokens: number;
}

/** What a `RetryPolicy` shares with each of its calls; a one-shot `retry()` has none. */
export interface PolicyShared {
  /** The sleeping calls, which `RetryPolicy.wake()` ends. */
  readonly sleepers: Set<() => void>;
  readonly counters: RetryCounters;
  readonly port: BreakerPort | undefined;
}

// One-shot calls without listeners still publish on the diagnostics channels; these emitters never get listeners.
const publishOnly = new TypedEvents<RetryEvents>();
const silent = new TypedEvents<RetryEvents>(false);

type ShouldRetry = (fault: Fault, attempt: number) => boolean;

/** Everything a call needs once its first attempt failed, or once it needs timers from the start. */
export interface RetryRun<T> {
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
  readonly counters: RetryCounters | undefined;
  readonly port: BreakerPort | undefined;
  readonly immediateRetries: number;
  /** Retries made at once so far (they do not count against `attempts`). */
  immediateUsed: number;
  /** Tokens to give back if the call succeeds: what its retries after connection faults cost. */
  refundOnSuccess: number;
  /** What the latest retry cost, given back if that retry succeeds. */
  lastCost: number;
  /** The fault of the latest failed attempt that reached the peer's side (not a breaker refusal). */
  lastFault: Fault | undefined;
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
  shared?: PolicyShared,
): Promise<T> {
  policy.budget?.recordRequest();
  if (shared !== undefined) shared.counters.calls++;
  const port = shared !== undefined ? shared.port : policy.breaker === undefined ? undefined : breakerPort(policy.breaker);
  if (
    policy.attemptTimeoutMs !== undefined ||
    policy.deadlineMs !== undefined ||
    (call !== undefined && (call.attemptTimeoutMs !== undefined || call.deadlineMs !== undefined || call.deadline !== undefined)) ||
    // An open or half-open breaker decides whether even the first attempt may go.
    (port !== undefined && port.state() !== 'closed')
  ) {
    return runFromFirstGuarded(buildRun(operation, policy, call, events, Date.now(), shared, port));
  }
  const signal = call?.signal;
  if (signal === undefined) return runBare(operation, FIRST_ATTEMPT, policy, call, events, shared, port);
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return runBare(operation, { attempt: 1, signal }, policy, call, events, shared, port);
}

async function runBare<T>(
  operation: RetryableOperation<T>,
  info: AttemptInfo,
  policy: RetryPolicyOptions,
  call: RetryCallOptions | undefined,
  events: TypedEvents<RetryEvents> | undefined,
  shared: PolicyShared | undefined,
  port: BreakerPort | undefined,
): Promise<T> {
  let value: T;
  try {
    value = await operation(info);
  } catch (error) {
    port?.failed(error);
    return retryAfterFailure(buildRun(operation, policy, call, events, undefined, shared, port), error, 1);
  }
  if (port !== undefined) {
    port.succeeded();
    port.settle(undefined);
  }
  return value;
}

async function runFromFirstGuarded<T>(run: RetryRun<T>): Promise<T> {
  let value: T;
  try {
    value = await runAttempt(run, 1);
  } catch (error) {
    return retryAfterFailure(run, error, 1);
  }
  run.port?.settle(undefined);
  return value;
}

async function retryAfterFailure<T>(run: RetryRun<T>, firstError: unknown, failedAttempt: number): Promise<T> {
  let error = firstError;
  let attempt = failedAttempt;
  let previousDelayMs = 0;
  for (;;) {
    let delayMs: number;
    try {
      delayMs = nextDelay(run, error, attempt, previousDelayMs);
      if (delayMs > 0) await backoffSleep(delayMs, run.signal, run.unref, run.sleepers);
      else if (run.signal?.aborted === true) throw run.signal.reason;
    } catch (final) {
      run.port?.settle(final);
      throw final;
    }
    attempt++;
    previousDelayMs = delayMs;
    try {
      const value = await runAttempt(run, attempt);
      recovered(run, attempt);
      return value;
    } catch (attemptError) {
      error = attemptError;
    }
  }
}

/** A call succeeded after retries: the retries that proved not wasted are refunded, and the peer is known to be flaky but alive. */
function recovered(run: RetryRun<unknown>, attempts: number): void {
  const refund = run.refundOnSuccess + run.lastCost;
  if (run.budget !== undefined && refund > 0) {
    run.budget.refund(refund);
    if (run.counters !== undefined) run.counters.refundedTokens += refund;
  }
  if (run.counters !== undefined) run.counters.recovered++;
  run.port?.settle(undefined);
  if (run.lastFault !== undefined) run.events.emit('recovered', { event: 'recovered', ...named(run), attempts, fault: run.lastFault });
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
export function nextDelay(run: RetryRun<unknown>, error: unknown, attempt: number, previousDelayMs: number): number {
  const { signal } = run;
  // The caller's abort is never retried and never dressed up: it rejects with the caller's reason.
  if (signal?.aborted === true) throw signal.reason;
  if (run.port !== undefined && error instanceof BreakerOpenError) {
    // Our own breaker refused this attempt: fail fast. A refused first attempt is the refusal itself.
    if (run.lastFault === undefined) throw error;
    throw giveUp(run, new RetryError(run.lastFault, attempt - 1, 'breaker-open', error));
  }
  const fault = classify(error, faultContext(run, error, attempt));
  run.lastFault = fault;
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
  const immediate = run.attempts > 1 && run.immediateUsed < run.immediateRetries && isConnectionFault(fault) && peerAlive(run, fault);
  // Immediate retries come on top of `attempts`; the schedule counts only the others.
  const counted = attempt - run.immediateUsed;
  if (!immediate && counted >= run.attempts) throw giveUp(run, new RetryError(fault, attempt, 'attempts-exhausted', error));
  if (run.shouldRetry !== undefined && !run.shouldRetry(fault, attempt)) {
    throw giveUp(run, new RetryError(fault, attempt, 'should-retry', error));
  }
  const delayMs = immediate ? 0 : run.schedule.next({ attempt: counted, previousDelayMs, fault, random: run.random });
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
  if (budget !== undefined) {
    if (!budget.tryWithdraw(fault)) {
      run.events.emit('budget-exhausted', { event: 'budget-exhausted', ...named(run), attempts: attempt, fault, available: budget.available });
      throw giveUp(run, new RetryError(fault, attempt, 'budget-exhausted', error));
    }
    const cost = budget.costOf(fault);
    // A connection that failed before any answer cost the peer little: if the call then succeeds, the peer is alive
    // and the fault was the network's, so the retry is given back. An answer or a timeout (what an overloaded peer
    // sends) stays paid unless that very retry succeeds (AWS SDKs' standard retry mode).
    if (isConnectionFault(fault)) {
      run.refundOnSuccess += cost;
      run.lastCost = 0;
    } else run.lastCost = cost;
  }
  if (immediate) run.immediateUsed++;
  if (run.counters !== undefined) {
    run.counters.retries++;
    if (immediate) run.counters.immediateRetries++;
  }
  run.events.emit('retry', { event: 'retry', ...named(run), attempt, delayMs: Math.round(delayMs), immediate, fault });
  return delayMs;
}

/** The connection failed before any answer came: reset, refused, closed or a broken pipe. */
function isConnectionFault(fault: Fault): boolean {
  const { kind } = fault;
  return fault.phase !== 'response' && (kind === 'connection-reset' || kind === 'connection-refused' || kind === 'closed' || kind === 'broken-pipe');
}

/**
 * Whether an immediate retry is worth it: with a breaker, while it says the
 * peer is alive (and, for a refusal, once something answered there: a port
 * nobody listens on will not listen a millisecond later); without one
 * nothing is known of the peer, so only the first retry of a connection that
 * broke before reaching it (the browsers' rule for a dead keep-alive
 * connection).
 */
function peerAlive(run: RetryRun<unknown>, fault: Fault): boolean {
  if (run.port !== undefined) return run.port.alive() && (fault.kind !== 'connection-refused' || run.port.answered());
  return run.immediateUsed === 0 && (fault.phase === 'connect' || fault.phase === 'idle') && fault.kind !== 'connection-refused';
}

function giveUp(run: RetryRun<unknown>, error: RetryError): RetryError {
  if (run.counters !== undefined) run.counters.gaveUp++;
  run.events.emit('give-up', { event: 'give-up', ...named(run), attempts: error.attempts, reason: error.reason, fault: error.fault });
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

export function buildRun<T>(
  operation: RetryableOperation<T>,
  policy: RetryPolicyOptions,
  call: RetryCallOptions | undefined,
  events: TypedEvents<RetryEvents> | undefined,
  startedAt: number | undefined,
  shared: PolicyShared | undefined,
  port: BreakerPort | undefined,
): RetryRun<T> {
  let deadlineAt: number | undefined;
  if (startedAt !== undefined) {
    const deadlineMs = call?.deadlineMs ?? policy.deadlineMs;
    if (deadlineMs !== undefined) deadlineAt = startedAt + deadlineMs;
    const absolute = call?.deadline;
    if (absolute !== undefined && (deadlineAt === undefined || absolute < deadlineAt)) deadlineAt = absolute;
  }
  return {
    // Through the breaker, every attempt after the bare first one is gated and counted there.
    operation: port === undefined ? operation : (info) => port.attempt(() => Promise.resolve(operation(info))),
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
    sleepers: shared?.sleepers,
    counters: shared?.counters,
    port,
    immediateRetries: policy.immediateRetries ?? DEFAULT_IMMEDIATE_RETRIES,
    immediateUsed: 0,
    refundOnSuccess: 0,
    lastCost: 0,
    lastFault: undefined,
  };
}

function bothMustAgree(first: ShouldRetry | undefined, second: ShouldRetry | undefined): ShouldRetry | undefined {
  if (first === undefined || second === undefined || first === second) return first ?? second;
  return (fault, attempt) => first(fault, attempt) && second(fault, attempt);
}

function oneShotEvents(options: RetryOptions): TypedEvents<RetryEvents> {
  const { onRetry, onRecovered, onGiveUp, onBudgetExhausted } = options;
  const publish = options.publish !== false;
  if (onRetry === undefined && onRecovered === undefined && onGiveUp === undefined && onBudgetExhausted === undefined)
    return publish ? publishOnly : silent;
  const events = new TypedEvents<RetryEvents>(publish ? {} : false);
  if (onRetry !== undefined) events.on('retry', onRetry);
  if (onRecovered !== undefined) events.on('recovered', onRecovered);
  if (onGiveUp !== undefined) events.on('give-up', onGiveUp);
  if (onBudgetExhausted !== undefined) events.on('budget-exhausted', onBudgetExhausted);
  return events;
}
