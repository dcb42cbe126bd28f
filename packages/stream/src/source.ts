import type { Readable } from 'node:stream';
import type { Fault } from '@holdfast/core';

/** What `resumablePipeline` tells a source each time it opens it. */
export interface OpenContext {
  /** 1 for the first open of the pipe, then 2, 3… (continuations after a clean early end count too). */
  readonly attempt: number;
  /** Aborted when the pipe abandons this open (a stall, the deadline, the pipe destroyed): stop the I/O. */
  readonly signal: AbortSignal;
  /** The fault that ended the previous open; undefined for the first, and after a source that ended early but cleanly. */
  readonly fault: Fault | undefined;
  /**
   * Tells the pipe the entity's length as soon as the source knows it. The
   * pipe then treats an end before it as a break to resume from, and bytes
   * beyond it, or another length later, as an error.
   */
  readonly setTotal: (bytes: number) => void;
}

/**
 * A source the pipe can reopen: returns a Readable of bytes (or a promise of
 * one) that starts exactly at byte `offset` of the same entity. A source that
 * cannot prove that (the entity changed, the offset was ignored) must fail
 * with an error that is not transient (a `HoldfastError` whose fault says
 * `transient: false`), never deliver other bytes.
 */
export type ResumableSource = (offset: number, context: OpenContext) => Readable | PromiseLike<Readable>;
