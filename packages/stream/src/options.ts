import { RetryBudget, defaultRetrySchedule, type Fault, type Schedule } from '@holdfast/core';
import { checkOptions, rule } from '@holdfast/core/internal';

export interface ResumablePipelineOptions {
  /** Aborts the pipe: every stream is destroyed, as `stream.pipeline` does. */
  readonly signal?: AbortSignal;
  /**
   * A source that delivers nothing for this long while the pipe wants data
   * is abandoned and reopened (a `stalled` fault). Time the consumer spends
   * with the pipe full does not count. Default 30 000 ms; `Infinity` turns it off.
   */
  readonly stallTimeoutMs?: number;
  /** Most tries in all, the first included: each reopen after a fault is one. Default 10; `Infinity` with `deadlineMs`. */
  readonly attempts?: number;
  /** Delay before each reopen. Default core's `defaultRetrySchedule` (full-jitter exponential from 100 ms up to 10 s; Retry-After wins). */
  readonly schedule?: Schedule;
  /** A RetryBudget shared with other callers: each pipe deposits once, each reopen withdraws. Default none. */
  readonly budget?: RetryBudget;
  /** Overall time for the whole transfer: no reopen starts, and no open runs, past it. Default none. */
  readonly deadlineMs?: number;
  /** Asked before each reopen the rules allow; false ends the pipe. */
  readonly shouldRetry?: (fault: Fault, attempt: number) => boolean;
  /** Least time between two `progress` events; 0 emits one per chunk. Default 1 000 ms. */
  readonly progressIntervalMs?: number;
  /** Bytes the pipe buffers between the source and the first transform before it pauses the source. Default 64 KiB. */
  readonly highWaterMark?: number;
  /** End the destination when the source is complete, as `stream.pipeline`'s `end`. Default true. */
  readonly end?: boolean;
  /** Shown in events. Default `'stream'`. */
  readonly name?: string;
}

const RULES = {
  signal: rule.signal(),
  stallTimeoutMs: rule.timerMsOrInfinity(1),
  attempts: rule.integerOrInfinity(1),
  schedule: rule.schedule(),
  budget: rule.instanceOf(RetryBudget, 'a RetryBudget from @holdfast/core'),
  deadlineMs: rule.timerMs(1),
  shouldRetry: rule.function('(fault, attempt) => boolean'),
  progressIntervalMs: rule.timerMs(0),
  highWaterMark: rule.integer(1),
  end: rule.boolean(),
  name: rule.string(),
};

// Names the same idea has elsewhere, so a ported call fails with a pointer instead of being ignored.
const FAMILIAR = {
  retries: 'attempts (which counts the first open too)',
  maxRetries: 'attempts (which counts the first open too)',
  timeout: 'stallTimeoutMs',
  bodyTimeout: 'stallTimeoutMs',
  idleTimeoutMs: 'stallTimeoutMs',
};

export interface PipeSettings {
  readonly signal: AbortSignal | undefined;
  readonly stallTimeoutMs: number;
  readonly attempts: number;
  readonly schedule: Schedule;
  readonly budget: RetryBudget | undefined;
  readonly deadlineMs: number | undefined;
  readonly shouldRetry: ((fault: Fault, attempt: number) => boolean) | undefined;
  readonly progressIntervalMs: number;
  readonly highWaterMark: number;
  readonly end: boolean;
  readonly name: string;
}

/** Checks the options and fills in every default, here in one place. */
export function resolveOptions(options: ResumablePipelineOptions | undefined): PipeSettings {
  const {
    signal,
    stallTimeoutMs = 30_000,
    attempts = 10,
    schedule = defaultRetrySchedule,
    budget,
    deadlineMs,
    shouldRetry,
    progressIntervalMs = 1_000,
    highWaterMark = 64 * 1024,
    end = true,
    name = 'stream',
  } = checkOptions('resumablePipeline', options, RULES, { familiar: FAMILIAR });
  return { signal, stallTimeoutMs, attempts, schedule, budget, deadlineMs, shouldRetry, progressIntervalMs, highWaterMark, end, name };
}
