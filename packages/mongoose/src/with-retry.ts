import type { RetryableOperation } from '@holdfast/core';
import { OperationRunner } from './operation-runner.js';
import { DEFAULTS, checkCallOptions, type WithRetryOptions } from './options.js';

let standalone: OperationRunner | undefined;

/**
 * `withRetry()` without a handle, for code that holds a mongoose connection
 * of its own: the same deadline, the same reading of MongoDB faults and the
 * same rule for writes (repeated only when nothing was sent or when
 * `idempotent: true`, otherwise `OutcomeUnknownError`), on core's default
 * schedule. What it cannot do without a handle: wait for an unreachable
 * server instead of retrying into it, and share a retry budget; prefer
 * `handle.withRetry()`.
 */
export function withRetry<T>(operation: RetryableOperation<T>, options?: WithRetryOptions): Promise<T> {
  const checked = options === undefined ? {} : checkCallOptions('withRetry', options);
  if (typeof operation !== 'function') {
    return Promise.reject(
      new TypeError(`withRetry: the operation must be a function ({ attempt, signal }) => promise or query, got ${typeof operation}`),
    );
  }
  standalone ??= new OperationRunner({
    deadlineMs: DEFAULTS.deadlineMs,
    attemptTimeoutMs: undefined,
    attempts: DEFAULTS.attempts,
    schedule: undefined,
    budget: undefined,
    name: DEFAULTS.name,
    random: undefined,
  });
  return standalone.run(operation, checked);
}
