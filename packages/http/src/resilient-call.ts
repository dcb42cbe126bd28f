import { BreakerOpenError, RetryError, type AttemptInfo, type FaultContext, type OperationDescriptor } from '@holdfast/core';
import type { OriginGuard } from './origin-guard.js';
import type { OriginGuards } from './origin-guards.js';
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
 * `RetryPolicy` decides (classify, verdict, schedule, budget, breaker,
 * deadline); this adds what is HTTP's: retryable statuses become faults, and
 * when no retry follows the caller gets that last response, not an error.
 *
 * An origin that has not failed lately has no guard: the first attempt runs
 * bare, and only its failure makes the origin's guard and enters the policy,
 * whose first "attempt" replays that failure.
 */
export async function callWithRetries<R>(
  guards: OriginGuards,
  origin: string,
  attempt: (info: AttemptInfo) => Promise<R>,
  plan: CallPlan,
  shape: ResponseShape<R>,
  statusCodes: ReadonlySet<number>,
): Promise<R> {
  let kept: RetryableResponse<R> | undefined;
  let guard = guards.get(origin);
  const run = async (info: AttemptInfo): Promise<R> => {
    if (kept !== undefined) {
      shape.discard(kept.response);
      kept = undefined;
    }
    let response: R;
    try {
      response = await attempt(info);
    } catch (error) {
      (guard ??= guards.for(origin)).noteFailure();
      throw error;
    }
    const status = shape.status(response);
    if (statusCodes.has(status)) {
      (guard ??= guards.for(origin)).noteFailure();
      kept = new RetryableResponse(response, status, shape.headers(response));
      throw kept;
    }
    return response;
  };
  let first: { readonly error: unknown } | undefined;
  if (guard?.guarded !== true && plan.deadline === undefined) {
    try {
      const response = await run(plan.signal === undefined ? FIRST_ATTEMPT : { attempt: 1, signal: plan.signal });
      guard?.budget?.recordRequest();
      return response;
    } catch (error) {
      // The caller's own abort is not retried, and needs no guard.
      if (plan.signal?.aborted === true) throw error;
      first = { error };
    }
  }
  const guarded: OriginGuard = (guard ??= guards.for(origin));
  const operation =
    first === undefined
      ? run
      : // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the first attempt's own error, replayed for core to classify
        (info: AttemptInfo): Promise<R> => (info.attempt === 1 ? Promise.reject(first.error) : run(info));
  const method = plan.descriptor.method ?? 'GET';
  const context: FaultContext = plan.idempotent === undefined ? { method } : { method, idempotent: plan.idempotent };
  guarded.enter();
  try {
    return await guarded.policy.execute(operation, {
      operation: plan.descriptor,
      context,
      shouldRetry: () => !plan.oneShotBody,
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
  } finally {
    guarded.leave();
  }
}

const FIRST_ATTEMPT: AttemptInfo = Object.freeze({ attempt: 1 });
