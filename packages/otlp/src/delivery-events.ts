import type { DropEvent as SharedDropEvent, DropReason as CoreDropReason, Fault } from '@holdfast/core';
import type { DropCounts } from '@holdfast/core/internal';

/**
 * Why a batch was lost: core's one `DropReason` vocabulary. The exporter uses
 * `overflow` (the queue was full), `too-large` (the batch alone exceeds
 * `queue.maxBytes`), `rejected` (the collector or the setup refused it for
 * good: a 400, a protocol mismatch, an untrusted certificate), `expired`
 * (undelivered for `maxBatchAgeMs`) and `closed` (still queued when
 * `shutdown()` ran out of time, or exported after it; it was `'shutdown'`).
 * Every loss has a `'drop'` event and a counter.
 *
 * @deprecated Import `DropReason` from `@holdfast/core`.
 */
export type DropReason = CoreDropReason;

/** A batch was lost: core's shared drop payload, with the number of items and the fault when there was one. */
export interface BatchDropEvent extends SharedDropEvent {
  readonly items: number;
  readonly fault?: Fault;
}

/** @deprecated `BatchDropEvent` (the reason `'shutdown'` is now `'closed'`). */
export type DropEvent = BatchDropEvent;

/** A batch is being sent again; `attempt` is the attempt now starting (2 for the first retry). */
export interface BatchRetryEvent {
  readonly event: 'retry';
  readonly name: string;
  readonly attempt: number;
  readonly items: number;
  readonly fault: Fault;
  /** The failed attempt may have reached the collector: the retry can deliver the batch twice. */
  readonly possibleDuplicate: boolean;
}

export interface DeliveredEvent {
  readonly event: 'delivered';
  readonly name: string;
  readonly items: number;
  readonly attempts: number;
}

/** A mistake in the setup (protocol, port, TLS trust, credentials): reported once per kind and code, not on every batch. */
export interface MisconfiguredEvent {
  readonly event: 'misconfigured';
  readonly name: string;
  readonly fault: Fault;
}

export interface BreakerEvent {
  readonly event: 'breaker';
  readonly name: string;
  readonly state: 'open' | 'half-open' | 'closed';
  readonly fault?: Fault;
}

/**
 * The exporter's events; each is also published once on
 * `node:diagnostics_channel`: `drop` on `holdfast:drop`, `breaker` on
 * `holdfast:breaker`, the rest on `holdfast:otlp`.
 */
export interface ResilientExporterEvents {
  drop: BatchDropEvent;
  retry: BatchRetryEvent;
  delivered: DeliveredEvent;
  misconfigured: MisconfiguredEvent;
  breaker: BreakerEvent;
}

export interface ResilientExporterStats {
  /** Batches and items the SDK handed over. */
  readonly accepted: { readonly batches: number; readonly items: number };
  /** Items the collector acknowledged. */
  readonly exported: number;
  /** Items re-sent after a failed attempt. */
  readonly retried: number;
  /** Items re-sent after an attempt that may have reached the collector: at most this many duplicates. */
  readonly possibleDuplicates: number;
  /** Waiting in the queue now. */
  readonly queued: { readonly batches: number; readonly items: number; readonly bytes: number };
  /** Batches being delivered now. */
  readonly inFlight: number;
  /** Items lost, by reason (core's `DropReason`) and in all. (`dropped.shutdown`, the old name of `dropped.closed`, still reads for one release.) */
  readonly dropped: DropCounts;
  readonly breaker: 'open' | 'half-open' | 'closed';
  /** Disk spool (`spoolDir`): items written and restored since start, files and bytes on disk now. */
  readonly spool: { readonly written: number; readonly restored: number; readonly files: number; readonly bytes: number };
  readonly lastFault: Fault | undefined;
}
