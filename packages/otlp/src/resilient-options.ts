import { RetryBudget, exponential, type BreakerOptions, type RetryBudgetOptions, type Schedule } from '@holdfast/core';
import { checkBudgetOptions, checkOptions, queueOptionRules, rule, warnDeprecated, type OptionRule, type OptionRules } from '@holdfast/core/internal';
import { debugFromEnv } from './debug-level.js';

/**
 * Core's queue shape (`maxItems`, `maxBytes`, `overflow`), for batches. The
 * items are batches of up to 512 spans, not messages, so the defaults are the
 * exporter's own (512 batches, 64 MiB); and `export()` must never throw into
 * the SDK, so there is no `'reject'` and no high-water mark.
 */
export interface BatchQueueOptions {
  /** Most batches waiting for delivery. Default 512 (about 260 000 spans at the SDK's batch size). */
  readonly maxItems?: number;
  /** Most estimated bytes waiting for delivery. Default 64 MiB. */
  readonly maxBytes?: number;
  /** Which batch is lost when the queue is full. Default `'drop-oldest'`: in an outage the newest telemetry is the most useful. */
  readonly overflow?: 'drop-oldest' | 'drop-newest';
}

/** Options of `resilientExporter()`; every one has a default. */
export interface ResilientExporterOptions {
  /** Shown in events, stats and the debug log. Default `'otlp'`. */
  readonly name?: string;
  /** The batches waiting for delivery: `{ maxItems = 512, maxBytes = 64 MiB, overflow = 'drop-oldest' }`. */
  readonly queue?: BatchQueueOptions;
  /** @deprecated `queue.maxItems`. */
  readonly maxQueueBatches?: number;
  /** @deprecated `queue.maxBytes`. */
  readonly maxQueueBytes?: number;
  /** @deprecated `queue.overflow`. */
  readonly overflow?: 'drop-oldest' | 'drop-newest';
  /**
   * Batches delivered at once. Default 4: what the SDK's `BatchSpanProcessor`
   * hands over in one flush with its defaults (a 2 048-span queue in 512-span
   * batches), which the plain OTel exporters also send at once.
   */
  readonly concurrency?: number;
  /** One attempt is abandoned after this long (counted as a timeout). Default 15 000 ms. */
  readonly attemptTimeoutMs?: number;
  /** A batch still undelivered this long after it was queued is dropped (reason `expired`). Default 300 000 ms. */
  readonly maxBatchAgeMs?: number;
  /** Delay between attempts of one batch. Default full-jitter exponential from 200 ms up to 5 s. */
  readonly schedule?: Schedule;
  /**
   * The retry budget: its options (the same shape as the HTTP client's `budget`), a `RetryBudget` to
   * share one between exporters, or `false` for none. Default `{}`: 10 % of batches + 10 retries/s.
   */
  readonly budget?: RetryBudgetOptions | RetryBudget | false;
  /**
   * Circuit breaker (core's, opossum underneath) around every attempt: while
   * open, attempts fail fast without a connection and batches wait in the
   * queue; `false` for none. Default: opens after 10 failed attempts in a row
   * (a collector path that resets even half of its connections almost never
   * gives 10 in a row; a dead collector does at once), probes again after 2 s.
   */
  readonly breaker?: BreakerOptions | false;
  /** `forceFlush()` waits at most this long for the queue to drain. Default 10 000 ms. */
  readonly flushTimeoutMs?: number;
  /** `shutdown()` delivers what it can for at most this long, then drops the rest with events. Default 5 000 ms. */
  readonly shutdownTimeoutMs?: number;
  /**
   * Directory where batches that could not be delivered are kept, so they
   * survive an app restart: a batch is written when its first attempt fails
   * and removed once delivered; what shutdown() could not deliver stays there;
   * a new exporter with the same directory sends it first. One process per
   * directory. Needs an exporter made by the create*Exporter factories, any
   * protocol (they encode a batch to OTLP protobuf or JSON bytes; gRPC and
   * http/protobuf replay each other's files). Default: none.
   */
  readonly spoolDir?: string;
  /** Most bytes kept in `spoolDir`; past it, batches stay in memory only. Default 256 MiB. */
  readonly maxSpoolBytes?: number;
  /**
   * A debug line per retry, drop, breaker change and misconfiguration, with
   * secrets redacted: `true` writes to stderr, a function receives the lines.
   * Default: on when `OTEL_LOG_LEVEL` is `debug`, `verbose` or `all`.
   */
  readonly debug?: boolean | ((line: string) => void);
}

export interface ResolvedOptions {
  readonly name: string;
  readonly queue: Required<BatchQueueOptions>;
  readonly concurrency: number;
  readonly attemptTimeoutMs: number;
  readonly maxBatchAgeMs: number;
  readonly schedule: Schedule;
  readonly budget: RetryBudget | undefined;
  readonly breaker: BreakerOptions | undefined;
  readonly flushTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly log: ((line: string) => void) | undefined;
  readonly spoolDir: string | undefined;
  readonly maxSpoolBytes: number;
}

const WHERE = 'resilientExporter';

const OVERFLOW = rule.oneOf(['drop-oldest', 'drop-newest']);

const QUEUE_RULES: OptionRules = {
  maxItems: queueOptionRules.maxItems as OptionRule,
  maxBytes: queueOptionRules.maxBytes as OptionRule,
  overflow: OVERFLOW,
};

/** The checks of `ResilientExporterOptions`; the factories check these with the connection's. */
export const resilientOptionRules: OptionRules = {
  name: rule.string(),
  queue: rule.object('{ maxItems, maxBytes, overflow }'),
  maxQueueBatches: QUEUE_RULES.maxItems as OptionRule,
  maxQueueBytes: QUEUE_RULES.maxBytes as OptionRule,
  overflow: OVERFLOW,
  concurrency: rule.integer(1, 64),
  attemptTimeoutMs: rule.timerMs(),
  maxBatchAgeMs: rule.number(1),
  schedule: rule.schedule(),
  budget: rule.either(rule.objectOrFalse('RetryBudget options ({ ratio?, minRetriesPerSecond?, ttlMs?, connectPhaseCost? })'), {
    test: (v) => v instanceof RetryBudget,
    accepted: 'a RetryBudget',
  }),
  breaker: rule.objectOrFalse('breaker options (an object)'),
  flushTimeoutMs: rule.timerMs(0),
  shutdownTimeoutMs: rule.timerMs(0),
  spoolDir: { test: (v) => typeof v === 'string' && v.length > 0, accepted: 'a directory path (a non-empty string)' },
  maxSpoolBytes: rule.number(1),
  debug: { test: (v) => typeof v === 'boolean' || typeof v === 'function', accepted: 'a boolean or a function receiving lines' },
};

/** Checks the options (unknown keys refused with a did-you-mean hint) and fills in the defaults, all in one block below. */
export function resolveOptions(options: ResilientExporterOptions | undefined, where = WHERE): ResolvedOptions {
  checkOptions(where, options, resilientOptionRules);
  const o = options ?? {};
  const {
    name = 'otlp',
    queue = {},
    concurrency = 4,
    attemptTimeoutMs = 15_000,
    maxBatchAgeMs = 300_000,
    schedule = exponential({ initialMs: 200, maxMs: 5_000 }),
    budget = {},
    breaker = {},
    flushTimeoutMs = 10_000,
    shutdownTimeoutMs = 5_000,
    spoolDir,
    maxSpoolBytes = 256 * 1024 * 1024,
    debug = debugFromEnv(process.env),
  } = o;
  const log = typeof debug === 'function' ? debug : debug ? (line: string) => void process.stderr.write(`${line}\n`) : undefined;
  return {
    name,
    queue: resolveQueue(where, queue, o),
    concurrency,
    attemptTimeoutMs,
    maxBatchAgeMs,
    schedule,
    budget: resolveBudget(where, budget, name),
    breaker:
      breaker === false
        ? undefined
        : {
            name: o.name ?? 'otlp',
            consecutiveFailures: 10,
            minimumRequests: 5,
            failureThresholdPercent: 50,
            windowMs: 10_000,
            resetTimeoutMs: 2_000,
            ...breaker,
          },
    flushTimeoutMs,
    shutdownTimeoutMs,
    log,
    spoolDir,
    maxSpoolBytes,
  };
}

function resolveBudget(where: string, budget: RetryBudgetOptions | RetryBudget | false, name: string): RetryBudget | undefined {
  if (budget === false) return undefined;
  if (budget instanceof RetryBudget) return budget;
  checkBudgetOptions(where, budget, 'budget');
  return new RetryBudget({ name, ...budget });
}

function resolveQueue(where: string, queue: BatchQueueOptions, options: ResilientExporterOptions): Required<BatchQueueOptions> {
  checkOptions(where, queue, QUEUE_RULES, { path: 'queue' });
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the old names keep working for one release, with a warning
  const { maxQueueBatches, maxQueueBytes, overflow } = options;
  if (maxQueueBatches !== undefined || maxQueueBytes !== undefined || overflow !== undefined) {
    warnDeprecated(
      'HOLDFAST_DEP012',
      "resilientExporter: options 'maxQueueBatches', 'maxQueueBytes' and 'overflow' are now 'queue.maxItems', 'queue.maxBytes' and 'queue.overflow' (core's one queue shape)",
    );
  }
  return {
    maxItems: queue.maxItems ?? maxQueueBatches ?? 512,
    maxBytes: queue.maxBytes ?? maxQueueBytes ?? 64 * 1024 * 1024,
    overflow: queue.overflow ?? overflow ?? 'drop-oldest',
  };
}
