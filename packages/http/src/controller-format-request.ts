import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { errors, type Dispatcher } from 'undici';
import type { OriginGuards } from './origin-guards.js';
import type { ResolvedRetryOptions } from './retry-interceptor-options.js';
import { RetryingRequest, type ActiveRetries, type Dispatch, type KeptResponse, type RequestPlan } from './retrying-request.js';

/**
 * The controller the caller holds for the whole request: attempts come and
 * go underneath, each with undici's own controller, so pausing reaches the
 * attempt of the moment and aborting ends the request, not one attempt.
 */
class RequestController implements Dispatcher.DispatchController {
  readonly #request: RetryingRequest;
  #paused = false;
  /** undici's controller for the attempt being read; none while replaying a kept response. */
  attempt: Dispatcher.DispatchController | null = null;
  rawHeaders: Dispatcher.DispatchController['rawHeaders'] = null;
  rawTrailers: Dispatcher.DispatchController['rawTrailers'] = null;

  constructor(request: RetryingRequest) {
    this.#request = request;
  }

  get aborted(): boolean {
    return this.#request.aborted;
  }

  get reason(): Error | null {
    return this.#request.abortReason;
  }

  get paused(): boolean {
    return this.#paused;
  }

  abort(reason?: Error): void {
    this.#request.abort(reason ?? new errors.RequestAbortedError());
  }

  pause(): void {
    this.#paused = true;
    this.attempt?.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.attempt?.resume();
  }
}

/**
 * A retrying request whose caller speaks undici's controller format (every
 * handler of undici 8, and interceptors written for it): it is dispatched in
 * that format too, which undici 8's Client calls natively and undici 7's
 * accepts; the headers undici parsed once are passed on as they are.
 */
export class ControllerFormatRequest extends RetryingRequest {
  readonly #handler: Dispatcher.DispatchHandler;
  readonly #controller: RequestController;

  constructor(
    dispatch: Dispatch,
    opts: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
    guards: OriginGuards,
    origin: string,
    options: ResolvedRetryOptions,
    plan: RequestPlan,
    active: ActiveRetries,
  ) {
    super(dispatch, opts, guards, origin, options, plan, active);
    this.#handler = handler;
    this.#controller = new RequestController(this);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#controller.attempt = controller;
    this.attemptStarted((reason?: Error) => controller.abort(reason ?? new errors.RequestAbortedError()), context);
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.upgraded();
    this.#controller.rawHeaders = controller.rawHeaders;
    this.#handler.onRequestUpgrade?.(this.#controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (!this.responseHead(statusCode, statusMessage ?? '', controller.rawHeaders, headers)) return;
    this.#controller.rawHeaders = controller.rawHeaders;
    this.#handler.onResponseStart?.(this.#controller, statusCode, headers, statusMessage);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.responseChunk(chunk)) this.#handler.onResponseData?.(this.#controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    if (!this.responseEnd()) return;
    this.#controller.rawTrailers = controller.rawTrailers;
    this.#handler.onResponseEnd?.(this.#controller, trailers);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    this.attemptError(error);
  }

  protected announce(context: unknown): void {
    this.#handler.onRequestStart?.(this.#controller, context);
  }

  protected failCaller(error: Error): void {
    this.#handler.onResponseError?.(this.#controller, error);
  }

  protected replayToCaller(kept: KeptResponse, body: Buffer): void {
    const controller = this.#controller;
    const handler = this.#handler;
    // The whole body is at hand, so a pause asked for by the caller has nothing to hold back.
    controller.attempt = null;
    controller.rawHeaders = kept.rawHeaders;
    handler.onResponseStart?.(controller, kept.statusCode, kept.headers ?? {}, kept.statusMessage);
    if (body.length > 0 && !this.aborted) handler.onResponseData?.(controller, body);
    controller.rawTrailers = [];
    if (!this.aborted) handler.onResponseEnd?.(controller, {});
  }
}
