import type { Fault, GiveUpReason } from '@holdfast/core';

interface EventBase<E extends string> {
  readonly event: E;
  /** The pipe's `name` option. */
  readonly name: string;
}

/** Events of a resumable pipe; each is also published on the diagnostics channel `holdfast:stream`. */
export interface ResumablePipeEvents {
  /** Bytes delivered so far: at most once per `progressIntervalMs` while bytes flow, and once when the source is complete. */
  progress: EventBase<'progress'> & {
    /** Bytes the source delivered into the pipe (the offset the next open would start at). */
    readonly bytes: number;
    /** The entity's length, once the source stated it. */
    readonly total: number | undefined;
    /** Reopens after a fault so far. */
    readonly resumes: number;
  };
  /** The source broke with a transient fault: it is opened again at `offset` after `delayMs`. */
  resume: EventBase<'resume'> & {
    /** The try that failed (1 for the first). */
    readonly attempt: number;
    readonly delayMs: number;
    readonly fault: Fault;
    /** Where the next open starts: every byte before it reached the pipe. */
    readonly offset: number;
  };
  /** The source failed for good (not transient, attempts, deadline or budget exhausted); the pipe fails. */
  'give-up': EventBase<'give-up'> & {
    readonly attempts: number;
    readonly reason: GiveUpReason;
    readonly fault: Fault;
    /** Bytes delivered before it gave up. */
    readonly offset: number;
  };
}

/** Counters of one pipe (`pipe.stats()`). */
export interface ResumablePipeStats {
  /** Bytes the source delivered into the pipe. */
  readonly bytes: number;
  /** The entity's length, once the source stated it. */
  readonly total: number | undefined;
  /** Times the source was opened (the first open, reopens after faults, continuations after a clean early end). */
  readonly opens: number;
  /** Reopens after a fault. */
  readonly resumes: number;
  /** Of the faults, stalls the pipe detected itself. */
  readonly stalls: number;
}
