/* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- an attempt rejects with what undici or the caller gave, unchanged, for core to classify */
import type { IncomingHttpHeaders } from 'node:http';
import { BreakerOpenError, RetryError, classify, type AttemptInfo, type FaultContext, type OperationDescriptor } from '@holdfast/core';
import { errors, util, type Dispatcher } from 'undici';
import { expectConnection, type ConnectionWatcher } from './connection-reuse.js';
import { HttpStatusError } from './http-status-error.js';
import type { OriginGuard } from './origin-guard.js';
import type { OriginGuards } from './origin-guards.js';
import { STREAM_BODY_DETAIL } from './replayable-body.js';
import type { ResolvedRetryOptions } from './retry-interceptor-options.js';

/** The dispatch below the interceptor; the handler is a retrying request, in the format its caller's handler speaks. */
export type Dispatch = (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) => boolean;

/** A retryable status response is kept (to hand over if no retry follows) up to this size. */
const MAX_KEPT_BODY = 64 * 1024;

// Methods whose repetition has the same effect as one request (RFC 9110 §9.2.2, QUERY from the safe-method draft).
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'QUERY']);

/** A response with a retryable status, kept aside: if a retry follows the caller never sees it; if none does, it is handed over as it came. */
export interface KeptResponse {
  readonly statusCode: number;
  readonly statusMessage: string;
  /** The head as undici gave it: raw header buffers (the core format), or what the controller carried. */
  readonly rawHeaders: Dispatcher.DispatchController['rawHeaders'];
  /** Parsed headers, when undici gave them (the controller format); parsed from `rawHeaders` otherwise. */
  readonly headers: IncomingHttpHeaders | null;
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
 * One request through the retry interceptor: the handler undici calls for
 * each attempt. Until a response is handed to the caller, a failed attempt
 * can be replaced by another; from then on the caller's handler gets exactly
 * what undici gives.
 *
 * undici has two handler formats, and each major version's Client speaks one
 * natively (docs/decisions/0010-undici-7-and-8.md): this class holds what
 * both share, the retry decisions; `CoreFormatRequest` and
 * `ControllerFormatRequest` receive and deliver in one format each, the one
 * the caller's handler speaks, so a request that succeeds first time is
 * passed through with no conversion and no allocation besides this object.
 *
 * The retry decision itself is core's: after the first failure the request
 * enters `RetryPolicy.execute()`, whose first "attempt" replays that failure,
 * so core classifies it, asks `retryVerdict`, sleeps per the schedule, spends
 * the origin's budget and stops at the deadline.
 */
export abstract class RetryingRequest implements ConnectionWatcher {
  readonly #dispatch: Dispatch;
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #guards: OriginGuards;
  readonly #origin: string;
  // The origin's guard, if it failed lately; made on this request's first failure otherwise.
  #guard: OriginGuard | undefined;
  readonly #options: ResolvedRetryOptions;
  readonly #plan: RequestPlan;
  readonly #active: ActiveRetries;

  #abortAttempt: ((reason?: Error) => void) | null = null;
  #announced = false;
  #requestStarted = false;
  #reusedConnection = false;
  #responded = false;
  #kept: KeptResponse | null = null;
  #lastKept: KeptResponse | null = null;
  #attempt = 1;
  #settle: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  #retryAbort: AbortController | null = null;
  #abortReason: Error | null = null;
  #done = false;

  constructor(
    dispatch: Dispatch,
    opts: Dispatcher.DispatchOptions,
    guards: OriginGuards,
    origin: string,
    options: ResolvedRetryOptions,
    plan: RequestPlan,
    active: ActiveRetries,
  ) {
    this.#dispatch = dispatch;
    this.#opts = opts;
    this.#guards = guards;
    this.#origin = origin;
    this.#guard = guards.get(origin);
    this.#options = options;
    this.#plan = plan;
    this.#active = active;
  }

  start(): boolean {
    if (this.#guard?.guarded === true || this.#plan.deadline !== undefined) {
      this.#runRetries(null);
      return true;
    }
    return this.#dispatch(this.#opts, this as Dispatcher.DispatchHandler);
  }

  /** The caller aborted (or the client closed); read through a getter so a call in between is seen. */
  get aborted(): boolean {
    return this.#abortReason !== null;
  }

  /** Why the request was ended by its caller or the client, if it was. */
  get abortReason(): Error | null {
    return this.#abortReason;
  }

  /** Ends the request, whichever attempt it is in (the caller's abort, or the client closing). */
  abort(reason: Error): void {
    if (this.#done || this.#abortReason !== null) return;
    this.#abortReason = reason;
    this.#abortAttempt?.(reason);
    this.#retryAbort?.abort(reason);
  }

  /** Ends a request waiting for its next attempt (the client is closing). */
  cancel(reason: Error): void {
    this.abort(reason);
  }

  connectionChosen(reused: boolean): void {
    this.#reusedConnection = reused;
  }

  // --- what the caller's handler is told, in its own format ---

  /** The request has started: told once, at the first attempt that reached a connection (or at a replay). */
  protected abstract announce(context: unknown): void;

  /** The request failed, for good. */
  protected abstract failCaller(error: Error): void;

  /** No retry follows a kept retryable-status response: the caller gets it, whole, as it came. */
  protected abstract replayToCaller(kept: KeptResponse, body: Buffer): void;

  // --- one attempt's events, as the format subclasses receive them ---

  /** An attempt is being written; `abort` ends that attempt alone. */
  protected attemptStarted(abort: (reason?: Error) => void, context: unknown): void {
    if (this.#done || this.#abortReason !== null) {
      abort(this.#abortReason ?? new errors.RequestAbortedError());
      return;
    }
    this.#abortAttempt = abort;
    this.#requestStarted = true;
    if (!this.#announced) {
      this.#announced = true;
      // Once per request, and only here: the caller aborts the request, not one attempt of it.
      this.announce(context);
      if (this.aborted) return;
    }
    expectConnection(this);
  }

  /** A response head arrived: true when it goes to the caller, false when it is kept aside or comes too late. */
  protected responseHead(
    statusCode: number,
    statusMessage: string,
    rawHeaders: Dispatcher.DispatchController['rawHeaders'],
    headers: IncomingHttpHeaders | null,
  ): boolean {
    if (this.#done) return false;
    // 1xx answers are informational: the final response is still to come.
    if (statusCode < 200) return true;
    if (this.#options.statusCodes.has(statusCode) && this.#options.attempts > 1 && this.#abortReason === null) {
      this.#kept = { statusCode, statusMessage, rawHeaders, headers, chunks: [], size: 0 };
      return false;
    }
    this.#responded = true;
    const settle = this.#settle;
    if (settle !== null) {
      this.#settle = null;
      settle.resolve();
    } else {
      this.#guard?.budget?.recordRequest();
    }
    return true;
  }

  /** A chunk of the body arrived: true when it goes to the caller. */
  protected responseChunk(chunk: Buffer): boolean {
    const kept = this.#kept;
    if (kept !== null) {
      if (kept.size + chunk.length <= MAX_KEPT_BODY) {
        kept.chunks.push(chunk);
        kept.size += chunk.length;
      }
      return false;
    }
    return !this.#done;
  }

  /** The attempt's response ended: true when the caller is to be told (the request is done). */
  protected responseEnd(): boolean {
    const kept = this.#kept;
    if (kept !== null) {
      this.#kept = null;
      this.#lastKept = kept;
      const headers = kept.headers ?? util.parseHeaders(kept.rawHeaders as Buffer[]);
      this.#attemptFailed(new HttpStatusError(kept.statusCode, headers, kept.statusMessage, Buffer.concat(kept.chunks, kept.size)));
      return false;
    }
    if (this.#done) return false;
    this.#done = true;
    return true;
  }

  /** A CONNECT (or upgrade) got its answer: the socket is the caller's from now on. */
  protected upgraded(): void {
    this.#responded = true;
  }

  /** The attempt failed: retried if it may be, or the caller told (with what happened once a response had started). */
  protected attemptError(error: Error): void {
    if (this.#done) return;
    if (this.#responded) {
      this.#deliverError(this.#abortReason ?? this.#afterResponseError(error));
      return;
    }
    this.#attemptFailed(error);
  }

  // --- retries ---

  #attemptFailed(error: unknown): void {
    this.#guardNow().noteFailure();
    if (this.#abortReason !== null) {
      this.#deliverError(this.#abortReason);
      return;
    }
    if (this.#reusedConnection && this.#requestStarted && !(error instanceof HttpStatusError)) this.#noteStaleConnection(error);
    const settle = this.#settle;
    if (settle !== null) {
      this.#settle = null;
      settle.reject(error);
      return;
    }
    this.#runRetries({ error });
  }

  /** A reused keep-alive connection died before any byte of the answer: counted and reported, whatever follows. */
  #noteStaleConnection(error: unknown): void {
    const fault = classify(error, { method: this.#opts.method, reusedConnection: true, bytesReceived: 0 });
    if (fault.phase === 'idle') this.#guardNow().noteStaleConnection(this.#opts.method, fault, this.#mayRepeat());
  }

  #guardNow(): OriginGuard {
    return (this.#guard ??= this.#guards.for(this.#origin));
  }

  /** Hands the request to core's retry loop; `first` is the failure of a first attempt already made. */
  #runRetries(first: { readonly error: unknown } | null): void {
    const abort = new AbortController();
    this.#retryAbort = abort;
    this.#active.add(this);
    const guard = this.#guardNow();
    guard.enter();
    const { descriptor, deadline } = this.#plan;
    // The first "attempt" replays a failure already met outside the policy; the breaker and budget are core's.
    const operation = (info: AttemptInfo): Promise<void> =>
      first !== null && info.attempt === 1 ? Promise.reject(first.error) : this.#nextAttempt(info);
    guard.policy
      .execute(operation, {
        signal: abort.signal,
        operation: descriptor,
        context: (error) => this.#faultContext(error),
        shouldRetry: () => this.#bodyAllowsRetry(),
        ...(deadline === undefined ? {} : { deadline }),
      })
      .then(
        () => {
          guard.leave();
          this.#active.delete(this);
        },
        (error: unknown) => {
          guard.leave();
          this.#active.delete(this);
          this.#gaveUp(error);
        },
      );
  }

  #nextAttempt(info: AttemptInfo): Promise<void> {
    this.#attempt = info.attempt;
    this.#requestStarted = false;
    this.#reusedConnection = false;
    this.#abortAttempt = null;
    this.#kept = null;
    const factory = this.#plan.bodyFactory;
    if (factory !== undefined && info.attempt > 1) (this.#opts as { body?: unknown }).body = factory();
    return new Promise<void>((resolve, reject) => {
      const signal = info.signal;
      const onAbort = (): void => this.#abortAttempt?.(signal?.reason as Error);
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
        this.#dispatch(this.#opts, this as Dispatcher.DispatchHandler);
      } catch (error) {
        this.#settle = null;
        reject(error);
      }
    });
  }

  #bodyAllowsRetry(): boolean {
    return !this.#plan.oneShotBody || this.#plan.bodyFactory !== undefined || !this.#requestStarted;
  }

  /** Repeating the request is harmless: an idempotent method (or the caller says so), or a key the server deduplicates on. */
  #mayRepeat(): boolean {
    const { idempotent, descriptor } = this.#plan;
    if (idempotent !== undefined) return idempotent;
    return descriptor.idempotencyKey === true || IDEMPOTENT.has(this.#opts.method);
  }

  #faultContext(error: unknown): FaultContext {
    const { idempotent } = this.#plan;
    const base: { method: string; idempotent?: boolean; phase?: 'connect'; bytesReceived?: number; reusedConnection?: boolean } = {
      method: this.#opts.method,
    };
    if (idempotent !== undefined) base.idempotent = idempotent;
    if (error instanceof HttpStatusError || error instanceof BreakerOpenError) return base;
    // undici writes nothing before onConnect: an attempt that failed earlier never reached the server.
    if (!this.#requestStarted) base.phase = 'connect';
    else if (!this.#responded) {
      base.bytesReceived = 0;
      // A reset on a reused connection before any answer is most likely the keep-alive race, but the
      // server may have read the request first: it is the safe-to-repeat `idle` phase only for requests
      // that may be repeated anyway (docs/decisions/0002-http-stale-connection-resets.md).
      if (this.#reusedConnection && this.#mayRepeat()) base.reusedConnection = true;
    }
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
      if (cause instanceof HttpStatusError && this.#lastKept !== null) {
        this.#replay(this.#lastKept, cause.body);
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

  #replay(kept: KeptResponse, body: Buffer): void {
    if (!this.#announced) {
      this.#announced = true;
      this.announce({});
      if (this.aborted) {
        this.#deliverError(this.#abortReason ?? new errors.RequestAbortedError());
        return;
      }
    }
    this.#done = true;
    this.replayToCaller(kept, body);
  }

  /** A response already reached the caller: no retry is possible, but the error still says what happened. */
  #afterResponseError(error: Error): Error {
    const fault = classify(error, { method: this.#opts.method, phase: 'response' });
    return new RetryError(fault, this.#attempt, 'response-started', error);
  }

  #deliverError(error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.failCaller(error);
  }
}
