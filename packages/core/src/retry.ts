import { startCall } from './retry-loop.js';
import { operationProblem, retryOptionsProblem, type RetryableOperation, type RetryOptions } from './retry-options.js';

export type {
  AttemptInfo,
  FaultContextSource,
  GiveUpEvent,
  OperationDescriptor,
  RecoveredEvent,
  RetryableOperation,
  RetryBudgetRefusedEvent,
  RetryCallOptions,
  RetryEvent,
  RetryEvents,
  RetryOptions,
  RetryPolicyOptions,
} from './retry-options.js';
export { RetryPolicy, createRetryPolicy, type RetryPolicyStats } from './retry-policy.js';
export { AttemptTimeoutError } from './attempt-timeout-error.js';

/**
 * Runs `operation` and, when it fails with a transient fault that is safe to
 * repeat, runs it again: up to `attempts` in all, sleeping per `schedule`,
 * never past `deadline`/`deadlineMs` or the caller's `signal`. The first
 * attempt runs bare. For many calls sharing one schedule, budget and set of
 * listeners, use `createRetryPolicy()`.
 *
 * Rejects with `RetryError` (its `reason` says why it stopped, `cause` is the
 * last error), `OutcomeUnknownError` when repeating might apply the operation
 * twice, the caller's abort reason, or the error itself for an operation that
 * was aborted.
 */
export function retry<T>(operation: RetryableOperation<T>, options?: RetryOptions): Promise<T> {
  if (options === undefined && typeof operation === 'function') return startCall(operation, EMPTY, undefined, undefined);
  const problem = operationProblem('retry', operation) ?? retryOptionsProblem(options);
  if (problem !== undefined) return Promise.reject(problem);
  return startCall(operation, options as RetryOptions, options, undefined);
}

const EMPTY: RetryOptions = Object.freeze({});
