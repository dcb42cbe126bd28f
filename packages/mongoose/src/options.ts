import { RetryBudget, exponential, type Schedule } from '@holdfast/core';
import { checkOptions, rule, type CheckOptionsSettings, type OptionRules } from '@holdfast/core/internal';
import type { ConnectOptions, Connection, Mongoose } from 'mongoose';

/**
 * Options of `connectMongoose()` / `new ResilientMongoose()`. Mongoose's and
 * the driver's own options (`dbName`, `maxPoolSize`, `tls`, `ca`…) go in
 * `connectOptions`, as they would in `mongoose.connect(uri, options)`.
 */
export interface ResilientMongooseOptions {
  /** The mongoose instance whose default connection to use, or a connection (`mongoose.createConnection()`). Default: the global mongoose. */
  readonly mongoose?: Mongoose | Connection;
  /** Passed to `connection.openUri(uri, connectOptions)`. holdfast adds `serverSelectionTimeoutMS` unless given here or in the URI. */
  readonly connectOptions?: ConnectOptions;
  /** How long the first connection may take, over every attempt. Default 120 000 ms; `Infinity` waits for ever. */
  readonly connectDeadlineMs?: number;
  /** Cancels the first connection: `ready` (and `connectMongoose()`) reject with its reason and the handle closes. */
  readonly signal?: AbortSignal;
  /** Delay between attempts at the first connection. Default `DEFAULT_CONNECT_SCHEDULE`. */
  readonly connectSchedule?: Schedule;
  /** The driver's wait for a usable server, per operation and per connect attempt. Default 5 000 ms (the driver's own: 30 000). */
  readonly serverSelectionTimeoutMS?: number;
  /** Delay between reachability probes (`ping`) while the server is unreachable. Default `DEFAULT_PROBE_SCHEDULE`. */
  readonly probeSchedule?: Schedule;
  /** Default deadline of each `withRetry()` / `withTransaction()` call, every attempt and wait included. Default 10 000 ms. */
  readonly deadlineMs?: number;
  /** Default time limit of each attempt of `withRetry()` (a hung connection is abandoned after it). Default none: only the deadline. */
  readonly attemptTimeoutMs?: number;
  /** Delay between attempts of an operation. Default core's `defaultRetrySchedule` (full jitter from 100 ms, ≤ 10 s). */
  readonly retrySchedule?: Schedule;
  /** Most attempts of an operation, the first included. Default `Infinity`: as many as the deadline allows. */
  readonly attempts?: number;
  /** Retries of all operations of this handle draw from it (at most a share of traffic); `false`: none. Default a new `RetryBudget()`. */
  readonly budget?: RetryBudget | false;
  /** Shown in events. Default `'mongoose'`. */
  readonly name?: string;
  /** Uniform in [0, 1), for jitter. Default `Math.random`. */
  readonly random?: () => number;
}

/** Options of one `withRetry()` call. */
export interface WithRetryOptions {
  /**
   * The caller's word that running the operation twice is harmless: reads,
   * `$set` by `_id`, upserts by a unique key, deletes by `_id`. Default
   * `false`: a write whose outcome is unknown (the connection broke after it
   * was sent) is not repeated, it fails with `OutcomeUnknownError`.
   */
  readonly idempotent?: boolean;
  /** This call's deadline, every attempt and wait included. Default the handle's `deadlineMs` (10 000 ms). */
  readonly deadlineMs?: number;
  /** Time limit of each attempt. Default the handle's `attemptTimeoutMs` (none). */
  readonly attemptTimeoutMs?: number;
  /** Cancels the call: it rejects with the signal's reason at once. */
  readonly signal?: AbortSignal;
}

/** Options of one `withTransaction()` call. */
export interface WithTransactionOptions {
  /** This call's deadline, every attempt and commit retry included. Default the handle's `deadlineMs`. */
  readonly deadlineMs?: number;
  /** Cancels the call; an open transaction is aborted. */
  readonly signal?: AbortSignal;
  /** Passed to `session.startTransaction()` (readConcern, writeConcern, readPreference, maxCommitTimeMS). */
  readonly transactionOptions?: Record<string, unknown>;
}

/**
 * The first connection: full jitter from 250 ms doubling to 5 s. A database
 * that starts a few seconds after the application is reached within a
 * second of listening; a long outage costs one attempt every 2.5 s on average.
 */
export const DEFAULT_CONNECT_SCHEDULE: Schedule = exponential({ initialMs: 250, factor: 2, maxMs: 5_000, jitter: 'full' });

/**
 * Reachability probes while the server cannot be reached: full jitter from
 * 50 ms doubling to 500 ms. At most one `ping` per handle every 500 ms (every
 * 250 ms on average) however many operations wait: the pace of the driver's
 * own monitor while operations wait for a server (minHeartbeatFrequencyMS).
 * The first operation after the server's return waits about 250 ms.
 */
export const DEFAULT_PROBE_SCHEDULE: Schedule = exponential({ initialMs: 50, factor: 2, maxMs: 500, jitter: 'full' });

export const DEFAULTS = {
  connectDeadlineMs: 120_000,
  serverSelectionTimeoutMS: 5_000,
  deadlineMs: 10_000,
  attempts: Number.POSITIVE_INFINITY,
  name: 'mongoose',
} as const;

const isMongooseOrConnection = (value: unknown): boolean =>
  typeof value === 'object' &&
  value !== null &&
  (typeof (value as { openUri?: unknown }).openUri === 'function' ||
    (typeof (value as { connection?: unknown }).connection === 'object' && typeof (value as { model?: unknown }).model === 'function'));

const HANDLE_RULES: OptionRules = {
  mongoose: { test: isMongooseOrConnection, accepted: 'a Mongoose instance or a mongoose Connection' },
  connectOptions: rule.object('mongoose.connect() options (an object)'),
  connectDeadlineMs: rule.timerMsOrInfinity(),
  signal: rule.signal(),
  connectSchedule: rule.schedule(),
  serverSelectionTimeoutMS: rule.timerMs(),
  probeSchedule: rule.schedule(),
  deadlineMs: rule.timerMs(),
  attemptTimeoutMs: rule.timerMs(),
  retrySchedule: rule.schedule(),
  attempts: rule.integerOrInfinity(1),
  budget: { test: (v) => v === false || v instanceof RetryBudget, accepted: 'a RetryBudget from @holdfast/core, or false' },
  name: rule.string(),
  random: rule.function('returning a number in [0, 1)'),
};

// What people pass to mongoose.connect(): a pointer to where it goes instead of a bare "unknown option".
const MONGOOSE_OPTION_NAMES = [
  'dbName',
  'user',
  'pass',
  'auth',
  'authSource',
  'autoIndex',
  'autoCreate',
  'bufferCommands',
  'bufferTimeoutMS',
  'socketTimeoutMS',
  'connectTimeoutMS',
  'heartbeatFrequencyMS',
  'maxPoolSize',
  'minPoolSize',
  'maxIdleTimeMS',
  'replicaSet',
  'directConnection',
  'retryWrites',
  'retryReads',
  'readPreference',
  'writeConcern',
  'w',
  'tls',
  'ssl',
  'tlsCAFile',
  'ca',
  'appName',
  'family',
];
const FAMILIAR: Readonly<Record<string, string>> = {
  ...Object.fromEntries(
    MONGOOSE_OPTION_NAMES.map((name): [string, string] => [name, `connectOptions.${name} (mongoose and driver options go in connectOptions)`]),
  ),
  timeout: 'deadlineMs',
  retries: 'attempts (which counts the first attempt too)',
  maxAttempts: 'attempts',
};

const HANDLE_SETTINGS: CheckOptionsSettings = { familiar: FAMILIAR };

export function checkHandleOptions(options: ResilientMongooseOptions | undefined): ResilientMongooseOptions {
  return checkOptions('connectMongoose', options, HANDLE_RULES, HANDLE_SETTINGS);
}

const CALL_RULES: OptionRules = {
  idempotent: rule.boolean(),
  deadlineMs: rule.timerMs(),
  attemptTimeoutMs: rule.timerMs(),
  signal: rule.signal(),
};

const TRANSACTION_RULES: OptionRules = {
  deadlineMs: rule.timerMs(),
  signal: rule.signal(),
  transactionOptions: rule.object(),
};

export function checkCallOptions(where: string, options: WithRetryOptions | undefined): WithRetryOptions {
  return checkOptions(where, options, CALL_RULES, { familiar: { timeout: 'deadlineMs', retries: 'attempts (an option of the handle)' } });
}

export function checkTransactionOptions(options: WithTransactionOptions | undefined): WithTransactionOptions {
  return checkOptions('withTransaction', options, TRANSACTION_RULES);
}
