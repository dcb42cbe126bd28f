import type { Fault } from '@holdfast/core';

/** Why a batch was lost. Every loss has a `'drop'` event and a counter. */
export type DropReason =
  | 'overflow' // the queue was full (maxQueueBatches / maxQueueBytes)
  | 'too-large' // the batch alone exceeds maxQueueBytes
  | 'rejected' // the collector or the setup refused it for good (a 400, a protocol mismatch, an untrusted certificate)
  | 'expired' // undelivered for maxBatchAgeMs
  | 'shutdown'; // still queued when shutdown() ran out of time, or exported after shutdown

export interface DropEvent {
  readonly event: 'drop';
  readonly name: string;
  readonly reason: DropReason;
  readonly items: number;
  readonly fault?: Fault;
}

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

export interface ResilientExporterEvents {
  drop: DropEvent;
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
  /** Items lost, in total and by reason. */
  readonly dropped: Readonly<Record<DropReason, number>> & { readonly total: number };
  readonly breaker: 'open' | 'half-open' | 'closed';
  /** Disk spool (`spoolDir`): items written and restored since start, files and bytes on disk now. */
  readonly spool: { readonly written: number; readonly restored: number; readonly files: number; readonly bytes: number };
  readonly lastFault: Fault | undefined;
}
