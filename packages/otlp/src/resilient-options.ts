import { RetryBudget, exponential, formatValue, type BreakerOptions, type Schedule } from '@holdfast/core';
import { debugFromEnv } from './debug-level.js';

/** Options of `resilientExporter()`; every one has a default. */
export interface ResilientExporterOptions {
  /** Shown in events, stats and the debug log. Default `'otlp'`. */
  readonly name?: string;
  /** Most batches waiting for delivery. Default 512 (about 260 000 spans at the SDK's batch size). */
  readonly maxQueueBatches?: number;
  /** Most estimated bytes waiting for delivery. Default 64 MiB. */
  readonly maxQueueBytes?: number;
  /** Which batch is lost when the queue is full. Default `'drop-oldest'`: in an outage the newest telemetry is the most useful. */
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
  /** Shared retry budget; `false` for none. Default a `RetryBudget` (10 % of batches + 10 retries/s). */
  readonly budget?: RetryBudget | false;
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
  readonly maxQueueBatches: number;
  readonly maxQueueBytes: number;
  readonly overflow: 'drop-oldest' | 'drop-newest';
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

function check(option: string, value: unknown, ok: boolean, accepted: string): void {
  if (!ok) throw new RangeError(`resilientExporter: option '${option}' must be ${accepted}, got ${formatValue(value)}`);
}

const isInt = (value: unknown, min: number): value is number => typeof value === 'number' && Number.isInteger(value) && value >= min;
const isMs = (value: unknown, min: number): value is number => typeof value === 'number' && Number.isFinite(value) && value >= min;

export function resolveOptions(options: ResilientExporterOptions | undefined): ResolvedOptions {
  check('options', options, options === undefined || (typeof options === 'object' && (options as unknown) !== null), 'an object');
  const o = options ?? {};
  const {
    name = 'otlp',
    maxQueueBatches = 512,
    maxQueueBytes = 64 * 1024 * 1024,
    overflow = 'drop-oldest',
    concurrency = 4,
    attemptTimeoutMs = 15_000,
    maxBatchAgeMs = 300_000,
    schedule = exponential({ initialMs: 200, maxMs: 5_000 }),
    budget = new RetryBudget({ name: o.name ?? 'otlp' }),
    breaker = {},
    flushTimeoutMs = 10_000,
    shutdownTimeoutMs = 5_000,
    spoolDir,
    maxSpoolBytes = 256 * 1024 * 1024,
    debug = debugFromEnv(process.env),
  } = o;
  check('name', name, typeof name === 'string' && name.length > 0, 'a non-empty string');
  check('maxQueueBatches', maxQueueBatches, isInt(maxQueueBatches, 1), 'an integer >= 1');
  check('maxQueueBytes', maxQueueBytes, isMs(maxQueueBytes, 1), 'a finite number >= 1');
  check('overflow', overflow, (['drop-oldest', 'drop-newest'] as unknown[]).includes(overflow), "'drop-oldest' or 'drop-newest'");
  check('concurrency', concurrency, isInt(concurrency, 1) && concurrency <= 64, 'an integer from 1 to 64');
  check('attemptTimeoutMs', attemptTimeoutMs, isMs(attemptTimeoutMs, 1), 'a finite number >= 1');
  check('maxBatchAgeMs', maxBatchAgeMs, isMs(maxBatchAgeMs, 1), 'a finite number >= 1');
  check('schedule', schedule, typeof (schedule as Partial<Schedule> | null)?.next === 'function', 'a Schedule (for example exponential())');
  check('budget', budget, budget === false || budget instanceof RetryBudget, 'a RetryBudget or false');
  check(
    'breaker',
    breaker,
    breaker === false || (typeof breaker === 'object' && (breaker as unknown) !== null),
    'breaker options (an object) or false',
  );
  check('flushTimeoutMs', flushTimeoutMs, isMs(flushTimeoutMs, 0), 'a finite number >= 0');
  check('shutdownTimeoutMs', shutdownTimeoutMs, isMs(shutdownTimeoutMs, 0), 'a finite number >= 0');
  check(
    'spoolDir',
    spoolDir,
    spoolDir === undefined || (typeof spoolDir === 'string' && spoolDir.length > 0),
    'a directory path (a non-empty string)',
  );
  check('maxSpoolBytes', maxSpoolBytes, isMs(maxSpoolBytes, 1), 'a finite number >= 1');
  check('debug', debug, typeof debug === 'boolean' || typeof debug === 'function', 'a boolean or a function receiving lines');
  const log = typeof debug === 'function' ? debug : debug ? (line: string) => void process.stderr.write(`${line}\n`) : undefined;
  return {
    name,
    maxQueueBatches,
    maxQueueBytes,
    overflow,
    concurrency,
    attemptTimeoutMs,
    maxBatchAgeMs,
    schedule,
    budget: budget === false ? undefined : budget,
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
