import {
  AttemptTimeoutError,
  RetryError,
  RetryPolicy,
  classify,
  type AttemptInfo,
  type Fault,
  type FaultContext,
  type RetryableOperation,
  type RetryBudget,
  type RetryCallOptions,
  type Schedule,
} from '@holdfast/core';
import { NotConnectedError, notSentFault } from './errors.js';
import { isBufferingTimeout, operationContext } from './mongo-faults.js';
import type { WithRetryOptions } from './options.js';
import type { ServerGate } from './server-gate.js';

/** An error that is not worth retrying, carried through the retry loop as a result so it reaches the caller unchanged. */
class PassThrough {
  constructor(readonly error: unknown) {}
}

/** What a runner tells its handle; a standalone `withRetry()` has none. */
export interface RunnerWatcher {
  /** Operations wait here while the server is unreachable. */
  readonly gate: ServerGate;
  /** The last fault the connection met, to explain an operation that never left. */
  lastFault(): Fault | undefined;
  /** Every failed attempt, classified. */
  failed(fault: Fault, error: unknown): void;
  /** A call starts. */
  started(): void;
  /** A call ended: `error` is what it rejects with, undefined when it resolved. */
  settled(error: unknown): void;
}

export interface RunnerSettings {
  readonly deadlineMs: number;
  readonly attemptTimeoutMs: number | undefined;
  readonly attempts: number;
  readonly schedule: Schedule | undefined;
  readonly budget: RetryBudget | undefined;
  readonly name: string;
  readonly random: (() => number) | undefined;
}

const IDEMPOTENT = Object.freeze({ idempotent: true });
const CONNECT_PHASE: FaultContext = Object.freeze({ phase: 'connect' });

/** mongoose Query operations that only read: repeating them is harmless, whatever the caller said. */
const READ_QUERIES: ReadonlySet<unknown> = new Set(['find', 'findOne', 'count', 'countDocuments', 'estimatedDocumentCount', 'distinct']);

/**
 * True for what a mongoose read returns: a Query whose `op` reads, or an
 * Aggregate without a `$out` / `$merge` stage. Model.create(), a driver
 * call and a Query that writes are not recognised: the caller says.
 */
function isRead(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { op?: unknown; exec?: unknown; pipeline?: unknown };
  if (typeof candidate.exec !== 'function') return false;
  if (READ_QUERIES.has(candidate.op)) return true;
  if (typeof candidate.pipeline !== 'function') return false;
  const stages = (candidate.pipeline as () => unknown)();
  return Array.isArray(stages) && stages.every((stage) => typeof stage === 'object' && stage !== null && !('$out' in stage) && !('$merge' in stage));
}

/** Whether this call may be repeated: the caller's word, or learnt from what the operation returned (a read). Read by the retry loop after a failure. */
interface Repeatable {
  idempotent: boolean;
}

/**
 * Runs application operations through core's retry loop with what MongoDB
 * needs on top: each call has a deadline (the driver can leave an operation
 * on a dead connection hanging for ever), operations wait at the handle's
 * gate while the server is unreachable instead of retrying into it, the
 * phase of a failure is read the MongoDB way (a failed socket write or a
 * cleared pool never applied anything; mongoose's buffer timeout never sent
 * anything), and errors that are not faults worth retrying (a validation
 * error, a duplicate key, an unauthorized user) reach the caller unchanged.
 */
export class OperationRunner {
  readonly policy: RetryPolicy;
  readonly #settings: RunnerSettings;
  readonly #watcher: RunnerWatcher | undefined;
  readonly #onRejected: (error: unknown) => PassThrough;

  constructor(settings: RunnerSettings, watcher?: RunnerWatcher) {
    this.#settings = settings;
    this.#watcher = watcher;
    const gate = watcher?.gate;
    this.policy = new RetryPolicy({
      attempts: settings.attempts,
      ...(settings.schedule === undefined ? {} : { schedule: settings.schedule }),
      ...(settings.budget === undefined ? {} : { budget: settings.budget }),
      ...(settings.random === undefined ? {} : { random: settings.random }),
      name: settings.name,
      context: (error) => (gate?.wasWaiting(error) === true ? CONNECT_PHASE : operationContext(error)),
    });
    this.#onRejected = (error) => this.#failed(error);
  }

  /** `withRetry()`: resolves with the operation's result or rejects as documented there. */
  run<T>(operation: RetryableOperation<T>, options: WithRetryOptions): Promise<T> {
    const repeatable: Repeatable = options.idempotent === true ? IDEMPOTENT : { idempotent: false };
    const call: RetryCallOptions = {
      deadlineMs: options.deadlineMs ?? this.#settings.deadlineMs,
      operation: repeatable,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...((options.attemptTimeoutMs ?? this.#settings.attemptTimeoutMs) === undefined
        ? {}
        : { attemptTimeoutMs: options.attemptTimeoutMs ?? this.#settings.attemptTimeoutMs }),
    };
    return this.execute(operation, call, repeatable);
  }

  /**
   * Runs `operation` under `call` (the loop's own options), with this
   * runner's attempt handling. `repeatable`, when given, is `call.operation`:
   * it turns idempotent when the operation turns out to be a read.
   */
  execute<T>(operation: RetryableOperation<T>, call: RetryCallOptions, repeatable?: Repeatable): Promise<T> {
    const watcher = this.#watcher;
    watcher?.started();
    return this.policy
      .execute<T | PassThrough>((info) => this.#attempt(operation, info, repeatable), call)
      .then(
        (value) => {
          if (value instanceof PassThrough) {
            watcher?.settled(value.error);
            throw value.error;
          }
          watcher?.settled(undefined);
          return value;
        },
        (error: unknown) => {
          const explained = this.#explain(error);
          watcher?.settled(explained);
          throw explained;
        },
      );
  }

  #attempt<T>(operation: RetryableOperation<T>, info: AttemptInfo, repeatable: Repeatable | undefined): Promise<T | PassThrough> {
    const gate = this.#watcher?.gate;
    if (gate !== undefined && !gate.isOpen) return gate.wait(info.signal).then(() => this.#runOnce(operation, info, repeatable));
    return this.#runOnce(operation, info, repeatable);
  }

  #runOnce<T>(operation: RetryableOperation<T>, info: AttemptInfo, repeatable: Repeatable | undefined): Promise<T | PassThrough> {
    let result: T | PromiseLike<T>;
    try {
      result = operation(info);
    } catch (error) {
      return Promise.resolve(this.#failed(error));
    }
    if (repeatable !== undefined && !repeatable.idempotent && isRead(result)) repeatable.idempotent = true;
    // A mongoose Query is a thenable, not a Promise: resolving it runs it.
    return Promise.resolve(result).then(undefined, this.#onRejected);
  }

  #failed(error: unknown): PassThrough {
    if (isBufferingTimeout(error)) {
      const message = `${(error as Error).message}: the command waited in mongoose's buffer for a connection and was not sent`;
      throw new NotConnectedError(message, notSentFault(this.#watcher?.lastFault(), message), { cause: error });
    }
    const fault = classify(error, operationContext(error));
    this.#watcher?.failed(fault, error);
    // The caller's abort is the loop's to handle (never retried, rejected with the caller's reason).
    if (!fault.transient && fault.kind !== 'aborted') return new PassThrough(error);
    throw error;
  }

  /** A call that ran out of time while it waited for the server says what the server did, not "timed out". */
  #explain(error: unknown): unknown {
    const gate = this.#watcher?.gate;
    if (!(error instanceof RetryError) || !(error.cause instanceof AttemptTimeoutError) || gate?.wasWaiting(error.cause) !== true) return error;
    const last = this.#watcher?.lastFault();
    const message = `the operation waited for the server to be reachable again and was not sent${last === undefined ? '' : ` (last fault: ${last.code})`}`;
    return new RetryError(notSentFault(last, message), error.attempts, error.reason, error.cause, `${message}; ${error.cause.message}`);
  }
}
