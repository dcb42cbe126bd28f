import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { errors } from 'undici';
import type { CoreHandler } from './core-handler.js';
import type { OriginGuards } from './origin-guards.js';
import type { ResolvedRetryOptions } from './retry-interceptor-options.js';
import { RetryingRequest, type ActiveRetries, type Dispatch, type KeptResponse, type RequestPlan } from './retrying-request.js';

const resumeNothing = (): void => {};

/**
 * A retrying request whose caller speaks undici's core format (undici 7's
 * own handlers): it is dispatched in that format too, which undici 7's
 * Client calls natively, so raw header buffers pass through unparsed.
 */
export class CoreFormatRequest extends RetryingRequest implements CoreHandler {
  readonly #handler: CoreHandler;
  #callerAbort: ((reason?: Error) => void) | null = null;

  constructor(
    dispatch: Dispatch,
    opts: Dispatcher.DispatchOptions,
    handler: CoreHandler,
    guards: OriginGuards,
    origin: string,
    options: ResolvedRetryOptions,
    plan: RequestPlan,
    active: ActiveRetries,
  ) {
    super(dispatch, opts, guards, origin, options, plan, active);
    this.#handler = handler;
  }

  onConnect(abort: (reason?: Error) => void, context?: unknown): void {
    this.attemptStarted(abort, context);
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    this.upgraded();
    this.#handler.onUpgrade?.(statusCode, rawHeaders, socket);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage: string): boolean {
    if (!this.responseHead(statusCode, statusMessage, rawHeaders, null)) return true;
    return this.#handler.onHeaders?.(statusCode, rawHeaders, resume, statusMessage) ?? true;
  }

  onData(chunk: Buffer): boolean {
    if (!this.responseChunk(chunk)) return true;
    return this.#handler.onData?.(chunk) ?? true;
  }

  onComplete(rawTrailers: Buffer[] | string[] | null): void {
    if (this.responseEnd()) this.#handler.onComplete?.(rawTrailers);
  }

  onError(error: Error): void {
    this.attemptError(error);
  }

  protected announce(context: unknown): void {
    this.#callerAbort ??= (reason?: Error) => this.abort(reason ?? new errors.RequestAbortedError());
    this.#handler.onConnect?.(this.#callerAbort, context);
  }

  protected failCaller(error: Error): void {
    this.#handler.onError?.(error);
  }

  protected replayToCaller(kept: KeptResponse, body: Buffer): void {
    const handler = this.#handler;
    // The whole body is at hand, so a pause asked for by the caller has nothing to hold back.
    handler.onHeaders?.(kept.statusCode, (kept.rawHeaders as Buffer[] | null) ?? [], resumeNothing, kept.statusMessage);
    if (body.length > 0 && !this.aborted) handler.onData?.(body);
    if (!this.aborted) handler.onComplete?.([]);
  }
}
