import { OutcomeUnknownError, RetryError, classify, type AttemptInfo, type RetryCallOptions } from '@holdfast/core';
import type { mongo } from 'mongoose';
import type { OperationRunner } from './operation-runner.js';

/** What `withTransaction()`'s function is told. */
export interface TransactionAttempt {
  /** 1 for the first run of the function, 2 after a TransientTransactionError… */
  readonly attempt: number;
  /** Aborted when the call's deadline passes or its caller aborts. */
  readonly signal?: AbortSignal;
}

export interface TransactionSettings {
  readonly deadlineMs: number;
  readonly signal: AbortSignal | undefined;
  readonly transactionOptions: Record<string, unknown> | undefined;
}

function hasLabel(error: unknown, label: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { hasErrorLabel, errorLabels } = error as { hasErrorLabel?: unknown; errorLabels?: unknown };
  if (typeof hasErrorLabel === 'function') return (hasErrorLabel as (label: string) => boolean).call(error, label);
  return Array.isArray(errorLabels) && errorLabels.includes(label);
}

const TRANSIENT_TRANSACTION = 'TransientTransactionError';
const UNKNOWN_COMMIT_RESULT = 'UnknownTransactionCommitResult';

/** A failure that must not run the transaction again, carried out of the retry loop unchanged. */
class Final {
  constructor(readonly error: unknown) {}
}

/**
 * The driver's transaction rules (the convenient-API spec), run by holdfast's
 * retry loop so they get a backoff, a deadline and the handle's wait for the
 * server: a `TransientTransactionError` (the transaction was aborted, nothing
 * of it applied) runs `fn` again in a new transaction; an
 * `UnknownTransactionCommitResult` (the commit may or may not have applied)
 * retries only `commitTransaction`, which is safe to repeat; any other error
 * aborts the transaction and is rejected unchanged. A commit whose outcome is
 * still unknown when the deadline comes is `OutcomeUnknownError`.
 */
export async function runTransaction<T>(
  runner: OperationRunner,
  startSession: () => Promise<mongo.ClientSession>,
  fn: (session: mongo.ClientSession, attempt: TransactionAttempt) => Promise<T>,
  settings: TransactionSettings,
): Promise<T> {
  const deadline = Date.now() + settings.deadlineMs;
  const call = (idempotent: boolean): RetryCallOptions => ({
    deadline,
    operation: { idempotent },
    ...(settings.signal === undefined ? {} : { signal: settings.signal }),
  });
  const session = await runner.policy.execute(() => startSession(), call(true));
  try {
    let committing = false;
    const result = await runner
      .execute(async (info: AttemptInfo) => {
        committing = false;
        session.startTransaction(settings.transactionOptions);
        let value: T;
        try {
          value = await fn(session, info.signal === undefined ? { attempt: info.attempt } : { attempt: info.attempt, signal: info.signal });
        } catch (error) {
          if (session.inTransaction()) await session.abortTransaction().catch(() => undefined);
          if (hasLabel(error, TRANSIENT_TRANSACTION)) throw error;
          return new Final(error);
        }
        committing = true;
        try {
          await commit(runner, session, call(true));
        } catch (error) {
          // Only a TransientTransactionError at commit runs the transaction again; an unknown outcome never does.
          if (hasLabel(error, TRANSIENT_TRANSACTION) && !hasLabel(error, UNKNOWN_COMMIT_RESULT)) throw error;
          return new Final(error);
        }
        return value;
      }, call(true))
      .catch((error: unknown) => {
        // The deadline came during the commit: it may have been applied.
        if (committing && error instanceof RetryError && error.reason === 'deadline') {
          throw new OutcomeUnknownError({ ...error.fault, phase: 'unknown' }, error.attempts, error.cause);
        }
        throw error;
      });
    if (result instanceof Final) throw result.error;
    return result;
  } finally {
    if (session.inTransaction()) await session.abortTransaction().catch(() => undefined);
    await session.endSession().catch(() => undefined);
  }
}

/**
 * Commits, retrying only on UnknownTransactionCommitResult. Rejects with the
 * commit's error when it is anything else (a TransientTransactionError sends
 * the caller back to run the transaction again), and with
 * `OutcomeUnknownError` when the retries end with the outcome still unknown.
 */
async function commit(runner: OperationRunner, session: mongo.ClientSession, call: RetryCallOptions): Promise<void> {
  let outcome: Final | undefined;
  try {
    outcome = await runner.policy.execute(async () => {
      try {
        await session.commitTransaction();
        return undefined;
      } catch (error) {
        if (hasLabel(error, UNKNOWN_COMMIT_RESULT) && !hasLabel(error, TRANSIENT_TRANSACTION)) throw error;
        return new Final(error);
      }
    }, call);
  } catch (error) {
    if (error instanceof RetryError && !(error instanceof OutcomeUnknownError)) {
      throw new OutcomeUnknownError({ ...classify(error.cause), phase: 'unknown' }, error.attempts, error.cause);
    }
    throw error;
  }
  if (outcome !== undefined) throw outcome.error;
}
