import { BreakerOpenError, RetryError, type AttemptInfo, type FaultContext, type OperationDescriptor } from '@holdfast/core';
import type { OriginGuard } from './origin-guard.js';
import { STREAM_BODY_DETAIL } from './replayable-body.js';
import { RetryableResponse } from './retryable-response.js';

/** How the promise-level faces (fetch, axios) read a response. */
export interface ResponseShape<R> {
  status(response: R): number;
  headers(response: R): unknown;
  /** Frees a response that will not be handed over (its connection goes back to the pool). */
  discard(response: R): void;
}

export interface CallPlan {
  readonly descriptor: OperationDescriptor;
  readonly idempotent: boolean | undefined;
  readonly signal: AbortSignal | undefined;
  readonly deadline: number | undefined;
  /** The body can be sent only once; retry only with a factory. */
  readonly oneShotBody: boolean;
}

/**
 * The retry loop of the promise-level faces (`wrapFetch`, the axios
 * adapter): each attempt is a whole call of the wrapped client. Core's
 * `RetryPolicy` decides (classify, verdict, schedule, budget, deadline);
 * this adds what is HTTP's: retryable statuses become faults, and when no
 * retry follows the caller gets that last response, not an error.
 */
export async function callWithRetries<R>(
  guard: OriginGuard,
  attempt: (info: AttemptInfo) => Promise<R>,
  plan: CallPlan,
  shape: ResponseShape<R>,
  statusCodes: ReadonlySet<number>,
): Promise<R> {
  let kept: RetryableResponse<R> | undefined;
  const operation = async (info: AttemptInfo): Promise<R> => {
    if (kept !== undefined) {
      shape.discard(kept.response);
      kept = undefined;
    }
    let response: R;
    try {
      response = await attempt(info);
    } catch (error) {
      guard.noteFailure();
      throw error;
    }
    const status = shape.status(response);
    if (statusCodes.has(status)) {
      guard.noteFailure();
      kept = new RetryableResponse(response, status, shape.headers(response));
      throw kept;
    }
    return response;
  };
  const breaker = guard.guarded ? guard.breaker : undefined;
  const context: FaultContext =
    plan.idempotent === undefined
      ? { method: plan.descriptor.method ?? 'GET' }
      : { method: plan.descriptor.method ?? 'GET', idempotent: plan.idempotent };
  try {
    return await guard.policy.execute(breaker === undefined ? operation : (info) => breaker.execute(() => operation(info)), {
      operation: plan.descriptor,
      context,
      shouldRetry: (fault) => fault.kind !== 'circuit-open' && !plan.oneShotBody,
      ...(plan.signal === undefined ? {} : { signal: plan.signal }),
      ...(plan.deadline === undefined ? {} : { deadline: plan.deadline }),
    });
  } catch (error) {
    if (error instanceof RetryError) {
      const cause: unknown = error.cause;
      if (cause instanceof RetryableResponse) return (cause as RetryableResponse<R>).response;
      if (cause instanceof BreakerOpenError) throw cause;
      if (error.reason === 'should-retry' && plan.oneShotBody) {
        throw new RetryError(error.fault, error.attempts, 'should-retry', cause, STREAM_BODY_DETAIL);
      }
    }
    if (kept !== undefined) shape.discard(kept.response);
    throw error;
  }
}
