import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import {
  BreakerOpenError,
  HoldfastError,
  OutboundQueue,
  RetryError,
  TypedEvents,
  createBreaker,
  createRetryPolicy,
  type CircuitBreaker,
  honorRetryAfter,
  redactText,
  type DropReason,
  type Fault,
  type Listener,
  type RetryPolicy,
} from '@holdfast/core';
import { warnDeprecated } from '@holdfast/core/internal';
import { measureBatch } from './batch-size.js';
import type { ResilientExporterEvents, ResilientExporterStats } from './delivery-events.js';
import { DiskSpool, type SpoolCodec } from './disk-spool.js';
import { exportOnce } from './export-attempt.js';
import type { BatchExporter, BatchOf, MetricSelectorsOf } from './exporter-shape.js';
import { classifyExportError, type OtlpFaultContext } from './otlp-fault.js';
import { resolveOptions, type ResilientExporterOptions, type ResolvedOptions } from './resilient-options.js';

interface QueuedBatch<Batch> {
  /** The SDK's batch; undefined for one restored from the spool, which is only bytes. */
  readonly batch: Batch | undefined;
  /** The OTLP request bytes, once encoded for the spool. */
  encoded: Uint8Array | undefined;
  /** Its file in the spool, while it is kept there. */
  spoolFile: string | undefined;
  readonly items: number;
  readonly bytes: number;
  readonly queuedAt: number;
  /** What the last attempt of this batch ran into; undefined while an attempt runs or after one was abandoned. */
  lastFault: Fault | undefined;
}

const BUDGET_COOL_DOWN_MS = 1_000;
/** The longest a batch waits for an open breaker before asking again (it asks sooner when the probe is due sooner). */
const BREAKER_COOL_DOWN_MS = 1_000;

/** What the factories know about the exporter they wrap: its protocol (for hints) and how to encode its batches (for the spool). */
export interface ExporterContext<Batch> extends OtlpFaultContext {
  readonly spool?: SpoolCodec<Batch>;
  /**
   * Closes the wrapped exporter's connections at once, so that attempts still
   * in flight fail now instead of at their timeout: shutdown() calls it when
   * its deadline passed (the OTel exporters' own shutdown() waits for them).
   */
  readonly release?: () => void;
}

/** An export attempt failed; carries the OTLP-aware Fault so core's retry loop sees the same answer. */
export class OtlpExportError extends HoldfastError {}

/**
 * Wraps one OTel exporter so that a broken collector never costs the app
 * telemetry silently, time, or a crash. `export()` only queues the batch and
 * calls back at once (SUCCESS means "accepted for delivery"), so the SDK's own
 * processor queue never fills while a collector is down; workers deliver the
 * queue through core's retry policy (classified faults, backoff, retry
 * budget) and report every retry, drop and misconfiguration.
 */
export class ResilientExporter<Batch> {
  readonly name: string;
  readonly #inner: BatchExporter<Batch>;
  readonly #options: ResolvedOptions;
  readonly #faultContext: OtlpFaultContext;
  readonly #queue: OutboundQueue<QueuedBatch<Batch>>;
  readonly #policy: RetryPolicy;
  readonly #breaker: CircuitBreaker | undefined;
  readonly #codec: SpoolCodec<Batch> | undefined;
  readonly #release: (() => void) | undefined;
  readonly #spool: DiskSpool | undefined;
  readonly #events = new TypedEvents<ResilientExporterEvents>({
    drop: 'drop',
    retry: 'otlp',
    delivered: 'otlp',
    misconfigured: 'otlp',
    breaker: 'breaker',
  });
  // Aborted when shutdown() runs out of time: in-flight retries stop sleeping and give their batch up.
  readonly #closing = new AbortController();
  readonly #reported = new Set<string>();
  // Batches waiting for the budget or the breaker; forceFlush() and shutdown() end their wait.
  readonly #coolingDown = new Set<() => void>();
  #idleWaiters: (() => void)[] = [];
  #inFlight = 0;
  #state: 'running' | 'shutting-down' | 'shut-down' = 'running';
  #shutdownPromise: Promise<void> | undefined;
  #acceptedBatches = 0;
  #acceptedItems = 0;
  #exported = 0;
  #retried = 0;
  #possibleDuplicates = 0;
  #queuedItems = 0;
  #lastFault: Fault | undefined;
  #spoolWritten = 0;
  #spoolRestored = 0;
  readonly #dropped: Record<DropReason, number> = {
    overflow: 0,
    'too-large': 0,
    'not-connected': 0,
    closed: 0,
    'give-up': 0,
    cleared: 0,
    rejected: 0,
    expired: 0,
  };

  constructor(exporter: BatchExporter<Batch>, options?: ResilientExporterOptions, context: ExporterContext<Batch> = {}) {
    if (typeof (exporter as Partial<BatchExporter<Batch>> | null)?.export !== 'function') {
      throw new TypeError('resilientExporter: the exporter must have export(batch, resultCallback) and shutdown()');
    }
    this.#inner = exporter;
    this.#options = resolveOptions(options);
    this.#faultContext = { ...(context.protocol === undefined ? {} : { protocol: context.protocol }) };
    this.#codec = context.spool;
    this.#release = context.release;
    if (this.#options.spoolDir !== undefined && this.#codec === undefined) {
      throw new RangeError(
        "resilientExporter: option 'spoolDir' needs an exporter that can encode its batches: one made by createTraceExporter, createMetricExporter or createLogExporter (any protocol), got a wrapped exporter",
      );
    }
    this.#spool =
      this.#options.spoolDir === undefined || this.#codec === undefined
        ? undefined
        : new DiskSpool(this.#options.spoolDir, this.#codec.kind, this.#options.maxSpoolBytes);
    this.name = this.#options.name;
    this.#queue = new OutboundQueue<QueuedBatch<Batch>>({
      name: this.name,
      ...this.#options.queue,
      sizeOf: (entry) => entry.bytes,
      // Its drops are reported as this exporter's 'drop' events (with the items they held): published once.
      publish: false,
    });
    this.#queue.on('drop', ({ item, reason }) => {
      this.#queuedItems -= item.items;
      this.#drop(item, reason === 'overflow' || reason === 'too-large' ? reason : 'closed');
    });
    const breaker = this.#options.breaker === undefined ? undefined : createBreaker(this.#options.breaker);
    // Every attempt goes through the breaker (core's policy: it opens on a run of failures or on batches that failed
    // for good, and while it is closed a connection that broke before any answer is retried at once).
    this.#policy = createRetryPolicy({
      name: this.name,
      attempts: Infinity,
      schedule: honorRetryAfter(this.#options.schedule, { capMs: 30_000 }),
      ...(this.#options.budget === undefined ? {} : { budget: this.#options.budget }),
      ...(breaker === undefined ? {} : { breaker }),
      attemptTimeoutMs: this.#options.attemptTimeoutMs,
      // Telemetry prefers a duplicate to a loss: a batch whose outcome is unknown is sent again, and counted.
      operation: { idempotent: true },
      unref: true,
      // The exporter publishes each retry itself (its 'retry', with the batch's items), and a batch it gives up as a 'drop'.
      publish: false,
    });
    if (breaker !== undefined) {
      breaker.on('state-change', ({ to }) => {
        this.#events.emit('breaker', {
          event: 'breaker',
          name: this.name,
          state: to,
          ...(this.#lastFault === undefined ? {} : { fault: this.#lastFault }),
        });
        this.#log(`circuit ${to}`);
      });
      this.#breaker = breaker;
    }
    this.#restoreSpool();
  }

  /** Batches a previous run left in the spool go first: they are the oldest telemetry. */
  #restoreSpool(): void {
    if (this.#spool === undefined) return;
    for (const { file, items, encoded } of this.#spool.restore()) {
      const entry: QueuedBatch<Batch> = {
        batch: undefined,
        encoded,
        spoolFile: file,
        items,
        bytes: encoded.byteLength,
        queuedAt: Date.now(),
        lastFault: undefined,
      };
      this.#spoolRestored += items;
      this.#queuedItems += items;
      this.#queue.push(entry);
    }
    if (this.#spoolRestored > 0) this.#log(`restored ${this.#spoolRestored} items from the spool`);
    this.#pump();
  }

  /** Queues the batch and calls back at once; never throws. */
  export(batch: Batch, resultCallback: (result: ExportResult) => void): void {
    let result: ExportResult;
    try {
      result = this.#accept(batch);
    } catch (error) {
      result = { code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) };
    }
    resultCallback(result);
  }

  /** Resolves once every queued batch is delivered or dropped, or after `flushTimeoutMs`. Never rejects. */
  async forceFlush(): Promise<void> {
    const deadline = Date.now() + this.#options.flushTimeoutMs;
    this.#hurry();
    await this.#whenIdle(this.#options.flushTimeoutMs);
    // The wrapped exporter's forceFlush() waits for its requests in flight: not past our deadline.
    await settle(
      call(() => this.#inner.forceFlush?.()),
      deadline - Date.now(),
    );
  }

  /**
   * Delivers what it can within `shutdownTimeoutMs`, drops the rest (each with
   * an event), then shuts the wrapped exporter down. Leaves no timer or socket.
   */
  shutdown(): Promise<void> {
    this.#shutdownPromise ??= this.#shutdown();
    return this.#shutdownPromise;
  }

  stats(): ResilientExporterStats {
    const dropped = { ...this.#dropped, total: Object.values(this.#dropped).reduce((a, b) => a + b, 0) };
    Object.defineProperty(dropped, 'shutdown', {
      get(this: typeof dropped) {
        warnDeprecated(
          'HOLDFAST_DEP013',
          "resilientExporter: the drop reason 'shutdown' is now 'closed' (core's one DropReason vocabulary); read stats().dropped.closed",
        );
        return this.closed;
      },
      enumerable: false,
    });
    return {
      accepted: { batches: this.#acceptedBatches, items: this.#acceptedItems },
      exported: this.#exported,
      retried: this.#retried,
      possibleDuplicates: this.#possibleDuplicates,
      queued: { batches: this.#queue.length, items: this.#queuedItems, bytes: this.#queue.bytes },
      inFlight: this.#inFlight,
      dropped,
      breaker: this.#breaker?.state ?? 'closed',
      spool: { written: this.#spoolWritten, restored: this.#spoolRestored, files: this.#spool?.files ?? 0, bytes: this.#spool?.bytes ?? 0 },
      lastFault: this.#lastFault,
    };
  }

  /**
   * Adds a listener; returns a function that removes it. A listener that
   * throws becomes a process warning and breaks nothing. Each event is also
   * published once on `holdfast:otlp`, `holdfast:drop` or `holdfast:breaker`.
   */
  on<K extends keyof ResilientExporterEvents>(name: K, listener: Listener<ResilientExporterEvents[K]>): () => void {
    return this.#events.on(name, listener);
  }

  /** Like `on`, but the listener runs once. */
  once<K extends keyof ResilientExporterEvents>(name: K, listener: Listener<ResilientExporterEvents[K]>): () => void {
    return this.#events.once(name, listener);
  }

  off<K extends keyof ResilientExporterEvents>(name: K, listener: Listener<ResilientExporterEvents[K]>): void {
    this.#events.off(name, listener);
  }

  #accept(batch: Batch): ExportResult {
    const { items, bytes } = measureBatch(batch);
    this.#acceptedBatches++;
    this.#acceptedItems += items;
    const entry: QueuedBatch<Batch> = { batch, encoded: undefined, spoolFile: undefined, items, bytes, queuedAt: Date.now(), lastFault: undefined };
    if (this.#state !== 'running') {
      this.#drop(entry, 'closed');
      return { code: ExportResultCode.FAILED, error: new Error(`exporter '${this.name}' is shut down; the batch was dropped`) };
    }
    this.#queuedItems += items;
    if (!this.#queue.push(entry)) {
      return { code: ExportResultCode.FAILED, error: new Error(`exporter '${this.name}': the queue had no room for the batch; it was dropped`) };
    }
    this.#pump();
    return { code: ExportResultCode.SUCCESS };
  }

  #pump(): void {
    while (this.#inFlight < this.#options.concurrency && this.#queue.length > 0) {
      const entry = this.#queue.shift() as QueuedBatch<Batch>;
      this.#queuedItems -= entry.items;
      this.#inFlight++;
      void this.#deliver(entry);
    }
    if (this.#inFlight === 0 && this.#queue.length === 0) this.#notifyIdle();
  }

  /** Never rejects: every way out either counts the batch as exported or drops it with an event. */
  async #deliver(entry: QueuedBatch<Batch>): Promise<void> {
    try {
      let attempts = 0;
      for (;;) {
        try {
          await this.#deliverOnce(entry, (attempt) => (attempts = attempt));
          break;
        } catch (error) {
          // An empty retry budget or an open breaker is a reason to wait, not to lose the batch: it stays ours until it
          // expires. The breaker lets a probe through after its wait; the batch asks again then.
          if (this.#closing.signal.aborted) throw error;
          if (error instanceof RetryError && error.reason === 'budget-exhausted') await this.#coolDown(BUDGET_COOL_DOWN_MS);
          else if (error instanceof BreakerOpenError) await this.#coolDown(breakerWait(error));
          else if (error instanceof RetryError && error.reason === 'breaker-open' && error.cause instanceof BreakerOpenError) {
            await this.#coolDown(breakerWait(error.cause));
          } else throw error;
          if (Date.now() >= entry.queuedAt + this.#options.maxBatchAgeMs) throw error;
        }
      }
      this.#exported += entry.items;
      if (entry.spoolFile !== undefined) this.#spool?.remove(entry.spoolFile);
      this.#events.emit('delivered', { event: 'delivered', name: this.name, items: entry.items, attempts });
    } catch (error) {
      const waitedTooLong =
        (error instanceof RetryError && error.reason === 'deadline') || Date.now() >= entry.queuedAt + this.#options.maxBatchAgeMs;
      const reason: DropReason = this.#closing.signal.aborted ? 'closed' : waitedTooLong ? 'expired' : 'rejected';
      this.#drop(entry, reason, entry.lastFault ?? (error instanceof HoldfastError ? error.fault : undefined));
    } finally {
      this.#inFlight--;
      this.#pump();
    }
  }

  #coolDown(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const signal = this.#closing.signal;
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#coolingDown.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      signal.addEventListener('abort', done, { once: true });
      this.#coolingDown.add(done);
    });
  }

  /**
   * forceFlush() or shutdown() is waiting: batches sleeping out a backoff or a
   * cool-down go now (issue 9: a batch that failed at connect was still
   * waiting when shutdown() came, and was dropped). Their deadline, the
   * budget and the breaker still apply.
   */
  #hurry(): void {
    this.#policy.wake();
    for (const done of [...this.#coolingDown]) done();
  }

  #deliverOnce(entry: QueuedBatch<Batch>, onAttempt: (attempt: number) => void): Promise<void> {
    return this.#policy.execute(
      async ({ attempt }) => {
        onAttempt(attempt);
        if (attempt > 1) this.#beforeRetry(entry, attempt);
        entry.lastFault = undefined;
        try {
          await this.#attempt(entry);
        } catch (error) {
          const fault = classifyExportError(error, this.#faultContext);
          entry.lastFault = fault;
          this.#lastFault = fault;
          if (!fault.transient) this.#reportOnce(fault);
          throw new OtlpExportError(`${fault.code} (${fault.kind}): ${fault.message}. ${fault.hint}`, fault, { cause: error });
        }
      },
      {
        signal: this.#closing.signal,
        deadline: entry.queuedAt + this.#options.maxBatchAgeMs,
        shouldRetry: () => entry.lastFault?.transient !== false,
      },
    );
  }

  #attempt(entry: QueuedBatch<Batch>): Promise<void> {
    if (entry.batch === undefined) return (this.#codec as SpoolCodec<Batch>).send(entry.encoded as Uint8Array);
    return exportOnce(this.#inner, entry.batch);
  }

  /** Keeps the batch on disk; false when it could not be (spool full, disk error, batch not encodable). */
  #keep(entry: QueuedBatch<Batch>): boolean {
    if (this.#spool === undefined || this.#codec === undefined) return false;
    if (entry.spoolFile !== undefined) return true;
    try {
      entry.encoded ??= entry.batch === undefined ? undefined : this.#codec.serialize(entry.batch);
      if (entry.encoded === undefined) return false;
      entry.spoolFile = this.#spool.write(entry.encoded, entry.items);
    } catch (error) {
      this.#log(`could not write to the spool: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
    if (entry.spoolFile === undefined) return false;
    this.#spoolWritten += entry.items;
    return true;
  }

  #beforeRetry(entry: QueuedBatch<Batch>, attempt: number): void {
    // Once a batch failed, a crash or restart must not lose it: it goes to disk until delivered.
    if (attempt === 2) this.#keep(entry);
    // An abandoned attempt (timeout) or one that failed after connecting may have been applied by the collector.
    const possibleDuplicate = entry.lastFault === undefined || entry.lastFault.phase !== 'connect';
    this.#retried += entry.items;
    if (possibleDuplicate) this.#possibleDuplicates += entry.items;
    const fault = entry.lastFault ?? this.#lastFault;
    if (fault !== undefined) {
      this.#events.emit('retry', { event: 'retry', name: this.name, attempt, items: entry.items, fault, possibleDuplicate });
      this.#log(
        `retry attempt ${attempt} of ${entry.items} items after ${fault.code} (${fault.kind}, ${fault.phase} phase)${possibleDuplicate ? ', may duplicate' : ''}`,
      );
    }
  }

  #drop(entry: QueuedBatch<Batch>, reason: DropReason, fault?: Fault): void {
    if (reason === 'closed' && this.#keep(entry)) {
      this.#log(`kept ${entry.items} undelivered items in the spool for the next run`);
      return;
    }
    if (entry.spoolFile !== undefined) this.#spool?.remove(entry.spoolFile);
    this.#dropped[reason] += entry.items;
    this.#events.emit('drop', { event: 'drop', name: this.name, reason, items: entry.items, ...(fault === undefined ? {} : { fault }) });
    this.#log(`dropped ${entry.items} items (${reason})${fault === undefined ? '' : `: ${fault.code}: ${fault.hint}`}`);
  }

  #reportOnce(fault: Fault): void {
    const key = `${fault.kind}:${fault.code}`;
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#events.emit('misconfigured', { event: 'misconfigured', name: this.name, fault });
    this.#log(`not retried: ${fault.code} (${fault.kind}): ${fault.hint}`);
  }

  #log(line: string): void {
    const log = this.#options.log;
    if (log === undefined) return;
    try {
      log(`holdfast otlp '${this.name}': ${redactText(line)}`);
    } catch {
      // A broken logger must not break delivery.
    }
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** True when the queue emptied and nothing is in flight before `timeoutMs`. */
  #whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.#inFlight === 0 && this.#queue.length === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      timer.unref();
      this.#idleWaiters.push(wake);
    });
  }

  async #shutdown(): Promise<void> {
    this.#state = 'shutting-down';
    const deadline = Date.now() + this.#options.shutdownTimeoutMs;
    this.#hurry();
    const drained = await this.#whenIdle(this.#options.shutdownTimeoutMs);
    if (!drained) {
      this.#queue.clear('closed');
      this.#closing.abort(new Error(`exporter '${this.name}' shut down`));
      // Attempts in flight would otherwise hold their socket until their own timeout.
      this.#releaseConnections();
      // The aborted deliveries settle at once (core's retry stops sleeping on abort).
      await this.#whenIdle(1_000);
    }
    this.#state = 'shut-down';
    this.#breaker?.close();
    // The OTel exporters' shutdown() first waits for their requests in flight (an attempt abandoned at
    // attemptTimeoutMs may still be one): past the deadline, their connections are closed under them.
    const inner = call(() => this.#inner.shutdown());
    if (!(await settle(inner, deadline - Date.now()))) {
      this.#releaseConnections();
      await settle(inner, SHUTDOWN_GRACE_MS);
    }
  }

  #releaseConnections(): void {
    try {
      this.#release?.();
    } catch {
      // Closing connections that are already broken must not stop the shutdown.
    }
  }
}

/** How long to wait before asking an open breaker again: until its next probe is due, at most BREAKER_COOL_DOWN_MS. */
function breakerWait(error: BreakerOpenError): number {
  return Math.min(BREAKER_COOL_DOWN_MS, Math.max(1, error.retryAt - Date.now()));
}

/** How long shutdown() still waits for the wrapped exporter once its connections were closed. */
const SHUTDOWN_GRACE_MS = 1_000;

/** The promise `fn` returns; a synchronous throw becomes a rejection. */
function call(fn: () => Promise<void> | undefined): Promise<void> | undefined {
  try {
    return fn();
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** Waits for `promise` at most `withinMs` (unref'd timer); never rejects. True when it settled in time. */
async function settle(promise: Promise<void> | undefined, withinMs: number): Promise<boolean> {
  if (promise === undefined) return true;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.then(
        () => true,
        // The wrapped exporter's flush/shutdown failure is not the app's problem; what was lost is already counted.
        () => true,
      ),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, withinMs))).unref()),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Wraps any OTel `SpanExporter`, `PushMetricExporter` or `LogRecordExporter`.
 * The result is an exporter of the same kind (metric aggregation selectors
 * pass through) with `stats()` and events.
 */
export function resilientExporter<E extends BatchExporter<BatchOf<E>>>(
  exporter: E,
  options?: ResilientExporterOptions,
  context?: ExporterContext<BatchOf<E>>,
): ResilientExporter<BatchOf<E>> & MetricSelectorsOf<E> {
  const wrapper = new ResilientExporter<BatchOf<E>>(exporter, options, context);
  const inner = exporter as Partial<Record<'selectAggregationTemporality' | 'selectAggregation', unknown>>;
  for (const key of ['selectAggregationTemporality', 'selectAggregation'] as const) {
    const select = inner[key];
    if (typeof select === 'function') {
      Object.defineProperty(wrapper, key, { value: (select as (...args: unknown[]) => unknown).bind(exporter), enumerable: false });
    }
  }
  return wrapper as ResilientExporter<BatchOf<E>> & MetricSelectorsOf<E>;
}
