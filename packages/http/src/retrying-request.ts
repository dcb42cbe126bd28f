/* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- an attempt rejects with what undici or the caller gave, unchanged, for core to classify */
import { BreakerOpenError, RetryError, classify, type FaultContext, type OperationDescriptor, type AttemptInfo } from '@holdfast/core';
import type { Dispatcher } from 'undici';
import { HttpStatusError } from './http-status-error.js';
import type { OriginGuard } from './origin-guard.js';
import { STREAM_BODY_DETAIL } from './replayable-body.js';
import type { ResolvedRetryOptions } from './retry-interceptor-options.js';

type Dispatch = Dispatcher.Dispatch;
type Controller = Dispatcher.DispatchController;
type Handler = Dispatcher.DispatchHandler;
type Headers = Parameters<NonNullable<Handler['onResponseStart']>>[2];

/** A retryable status response is kept (to hand over if no retry follows) up to this size. */
const MAX_KEPT_BODY = 64 * 1024;

interface KeptResponse {
  readonly statusCode: number;
  readonly headers: Headers;
  readonly statusMessage: string | undefined;
  readonly chunks: Buffer[];
  size: number;
}

/** What the interceptor works out about a request before its first attempt. */
export interface RequestPlan {
  readonly descriptor: OperationDescriptor;
  /** The caller's `idempotent` override, for classify(). */
  readonly idempotent: boolean | undefined;
  readonly deadline: number | undefined;
  /** The body cannot be sent twice: retry only if no attempt ever started sending it. */
  readonly oneShotBody: boolean;
  readonly bodyFactory: (() => unknown) | undefined;
}

/** Requests waiting between attempts; `close()` of a client ends them. */
export type ActiveRetries = Set<RetryingRequest>;

/**
 * One request through the retry interceptor. It is both the handler undici
 * calls for each attempt and the controller the caller's handler sees, so a
 * request that succeeds first time allocates nothing else. Until a response
 * is handed to the caller, a failed attempt can be replaced by another; from
 * then on the caller's handler gets exactly what undici gives.
 *
 * The retry decision itself is core's: after the first failure the request
 * enters `RetryPolicy.execute()`, whose first "attempt" replays that failure,
 * so core classifies it, asks `retryVerdict`, sleeps per the schedule, spends
 * the origin's budget and stops at the deadline.
 */
export class RetryingRequest implements Handler, Controller {
  readonly #dispatch: Dispatch;
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #handler: Handler;
  readonly #guard: OriginGuard;
  readonly #options: ResolvedRetryOptions;
  readonly #plan: RequestPlan;
  readonly #active: ActiveRetries;

  #controller: Controller | null = null;
  #announced = false;
  #requestStarted = false;
  #responded = false;
  #kept: KeptResponse | null = null;
  #attempt = 1;
  #settle: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  #retryAbort: AbortController | null = null;
  #abortReason: Error | null = null;
  #paused = false;
  #done = false;

  constructor(
    dispatch: Dispatch,
    opts: Dispatcher.DispatchOptions,
    handler: Handler,
    guard: OriginGuard,
    options: ResolvedRetryOptions,
    plan: RequestPlan,
    active: ActiveRetries,
  ) {
    this.#dispatch = dispatch;
    this.#opts = opts;
    this.#handler = handler;
    this.#guard = guard;
    this.#options = options;
    this.#plan = plan;
    this.#active = active;
  }

  start(): boolean {
    if (this.#guard.guarded || this.#plan.deadline !== undefined) {
      this.#runRetries(null);
      return true;
    }
    return this.#dispatch(this.#opts, this);
  }

  // --- the controller the caller's handler holds ---

  get aborted(): boolean {
    return this.#abortReason !== null;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get reason(): Error | null {
    return this.#abortReason;
  }

  abort(reason: Error): void {
    if (this.#done || this.#abortReason !== null) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
    this.#retryAbort?.abort(reason);
  }

  pause(): void {
    this.#paused = true;
    this.#controller?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#controller?.resume();
  }

  // --- the handler undici calls for each attempt ---

  onRequestStart(controller: Controller, context: unknown): void {
    if (this.#done || this.#abortReason !== null) {
      controller.abort(this.#abortReason ?? new Error('request already settled'));
      return;
    }
    this.#controller = controller;
    this.#requestStarted = true;
    if (this.#paused) controller.pause();
    if (!this.#announced) {
      this.#announced = true;
      this.#handler.onRequestStart?.(this, context);
    }
  }

  onRequestUpgrade(_controller: Controller, statusCode: number, headers: Headers, socket: import('node:stream').Duplex): void {
    this.#responded = true;
    this.#handler.onRequestUpgrade?.(this, statusCode, headers, socket);
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: Headers, statusMessage?: string): void {
    if (this.#done) return;
    if (this.#options.statusCodes.has(statusCode) && this.#options.attempts > 1 && this.#abortReason === null) {
      // Kept aside: if a retry follows the caller never sees it; if none does, it is handed over as it came.
      this.#kept = { statusCode, headers, statusMessage, chunks: [], size: 0 };
      return;
    }
    this.#responded = true;
    const settle = this.#settle;
    if (settle !== null) {
      this.#settle = null;
      settle.resolve();
    } else {
      this.#guard.budget?.recordRequest();
    }
    this.#handler.onResponseStart?.(this, statusCode, headers, statusMessage);
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    const kept = this.#kept;
    if (kept !== null) {
      if (kept.size + chunk.length <= MAX_KEPT_BODY) {
        kept.chunks.push(chunk);
        kept.size += chunk.length;
      }
      return;
    }
    if (!this.#done) this.#handler.onResponseData?.(this, chunk);
  }

  onResponseEnd(_controller: Controller, trailers: Headers): void {
    const kept = this.#kept;
    if (kept !== null) {
      this.#kept = null;
      this.#attemptFailed(new HttpStatusError(kept.statusCode, kept.headers, kept.statusMessage, Buffer.concat(kept.chunks, kept.size)));
      return;
    }
    if (this.#done) return;
    this.#done = true;
    this.#handler.onResponseEnd?.(this, trailers);
  }

  onResponseError(_controller: Controller, error: Error): void {
    if (this.#done) return;
    if (this.#responded) {
      this.#deliverError(this.#abortReason ?? this.#afterResponseError(error));
      return;
    }
    this.#attemptFailed(error);
  }

  // --- retries ---

  #attemptFailed(error: unknown): void {
    this.#guard.noteFailure();
    if (this.#abortReason !== null) {
      this.#deliverError(this.#abortReason);
      return;
    }
    const settle = this.#settle;
    if (settle !== null) {
      this.#settle = null;
      settle.reject(error);
      return;
    }
    this.#runRetries({ error });
  }

  /** Hands the request to core's retry loop; `first` is the failure of a first attempt already made. */
  #runRetries(first: { readonly error: unknown } | null): void {
    const abort = new AbortController();
    this.#retryAbort = abort;
    this.#active.add(this);
    const { descriptor, deadline } = this.#plan;
    const breaker = this.#guard.guarded ? this.#guard.breaker : undefined;
    const operation = (info: AttemptInfo): Promise<void> => {
      const attempt = (): Promise<void> => (first !== null && info.attempt === 1 ? Promise.reject(first.error) : this.#nextAttempt(info));
      return breaker === undefined ? attempt() : breaker.execute(attempt);
    };
    this.#guard.policy
      .execute(operation, {
        signal: abort.signal,
        operation: descriptor,
        context: (error) => this.#faultContext(error),
        shouldRetry: (fault) => fault.kind !== 'circuit-open' && this.#bodyAllowsRetry(),
        ...(deadline === undefined ? {} : { deadline }),
      })
      .then(
        () => this.#active.delete(this),
        (error: unknown) => {
          this.#active.delete(this);
          this.#gaveUp(error);
        },
      );
  }

  #nextAttempt(info: AttemptInfo): Promise<void> {
    this.#attempt = info.attempt;
    this.#requestStarted = false;
    this.#controller = null;
    this.#kept = null;
    const factory = this.#plan.bodyFactory;
    if (factory !== undefined && info.attempt > 1) (this.#opts as { body?: unknown }).body = factory();
    return new Promise<void>((resolve, reject) => {
      const signal = info.signal;
      const onAbort = (): void => this.#controller?.abort(signal?.reason as Error);
      this.#settle = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        this.#dispatch(this.#opts, this);
      } catch (error) {
        this.#settle = null;
        reject(error);
      }
    });
  }

  #bodyAllowsRetry(): boolean {
    return !this.#plan.oneShotBody || this.#plan.bodyFactory !== undefined || !this.#requestStarted;
  }

  #faultContext(error: unknown): FaultContext {
    const { idempotent } = this.#plan;
    const base: { method: string; idempotent?: boolean; phase?: 'connect'; bytesReceived?: number } = { method: this.#opts.method };
    if (idempotent !== undefined) base.idempotent = idempotent;
    // undici writes nothing before onRequestStart: an attempt that failed earlier never reached the server.
    if (!this.#requestStarted && !(error instanceof HttpStatusError) && !(error instanceof BreakerOpenError)) base.phase = 'connect';
    else if (!this.#responded && !(error instanceof HttpStatusError)) base.bytesReceived = 0;
    return base;
  }

  #gaveUp(error: unknown): void {
    if (this.#done) return;
    if (this.#abortReason !== null) {
      this.#deliverError(this.#abortReason);
      return;
    }
    if (error instanceof RetryError) {
      const cause: unknown = error.cause;
      // The last answer was a retryable status that may not be retried again: the caller gets that response.
      if (cause instanceof HttpStatusError) {
        this.#replay(cause);
        return;
      }
      if (cause instanceof BreakerOpenError) {
        this.#deliverError(cause);
        return;
      }
      if (error.reason === 'should-retry' && !this.#bodyAllowsRetry()) {
        this.#deliverError(new RetryError(error.fault, error.attempts, 'should-retry', cause, STREAM_BODY_DETAIL));
        return;
      }
    }
    this.#deliverError(error as Error);
  }

  #replay(response: HttpStatusError): void {
    this.#done = true;
    const handler = this.#handler;
    if (!this.#announced) {
      this.#announced = true;
      handler.onRequestStart?.(this, {});
    }
    handler.onResponseStart?.(this, response.statusCode, response.headers, response.statusMessage);
    if (response.body.length > 0 && !this.#abortReason) handler.onResponseData?.(this, response.body);
    if (!this.#abortReason) handler.onResponseEnd?.(this, {});
  }

  /** A response already reached the caller: no retry is possible, but the error still says what happened. */
  #afterResponseError(error: Error): Error {
    const fault = classify(error, { method: this.#opts.method, phase: 'response' });
    return new RetryError(
      fault,
      this.#attempt,
      'should-retry',
      error,
      'the response had already started reaching the caller, so the request was not repeated',
    );
  }

  #deliverError(error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#handler.onResponseError?.(this, error);
  }

  /** Ends a request waiting for its next attempt (the client is closing). */
  cancel(reason: Error): void {
    this.abort(reason);
  }
}
