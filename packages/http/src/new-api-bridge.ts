import type { Duplex } from 'node:stream';
import { util, type Dispatcher } from 'undici';
import type { CoreHandler } from './core-handler.js';

/** The controller a newer-format handler holds: pausing is answered through the core format's return values. */
class BridgeController implements Dispatcher.DispatchController {
  readonly #abort: (reason?: Error) => void;
  #aborted = false;
  #reason: Error | null = null;
  #paused = false;
  resumeAttempt: (() => void) | null = null;

  constructor(abort: (reason?: Error) => void) {
    this.#abort = abort;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): Error | null {
    return this.#reason;
  }

  get paused(): boolean {
    return this.#paused;
  }

  abort(reason: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#abort(reason);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.resumeAttempt?.();
  }
}

const noAbort = (): void => {};

/**
 * Lets a handler that speaks only undici's newer format (an interceptor
 * composed outside ours that wraps the handler its own way) receive what the
 * retrying request sends in the core format. Only such handlers pay for the
 * header parsing; undici's own `request`, `stream` and `fetch` handlers do not.
 */
export class NewApiBridge implements CoreHandler {
  readonly #handler: Dispatcher.DispatchHandler;
  #controller: BridgeController | null = null;

  constructor(handler: Dispatcher.DispatchHandler) {
    this.#handler = handler;
  }

  #current(): BridgeController {
    return (this.#controller ??= new BridgeController(noAbort));
  }

  onConnect(abort: (reason?: Error) => void, context?: unknown): void {
    this.#controller = new BridgeController(abort);
    this.#handler.onRequestStart?.(this.#controller, context);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage: string): boolean {
    const controller = this.#current();
    controller.resumeAttempt = resume;
    this.#handler.onResponseStart?.(controller, statusCode, util.parseHeaders(rawHeaders), statusMessage);
    return !controller.paused;
  }

  onData(chunk: Buffer): boolean {
    const controller = this.#current();
    this.#handler.onResponseData?.(controller, chunk);
    return !controller.paused;
  }

  onComplete(rawTrailers: Buffer[] | string[] | null): void {
    this.#handler.onResponseEnd?.(this.#current(), util.parseHeaders(rawTrailers ?? []));
  }

  onError(error: Error): void {
    this.#handler.onResponseError?.(this.#current(), error);
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    this.#handler.onRequestUpgrade?.(this.#current(), statusCode, util.parseHeaders(rawHeaders ?? []), socket);
  }
}
