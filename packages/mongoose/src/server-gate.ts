/* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- a wait ends with the attempt signal's reason, whatever it is */
import { AttemptTimeoutError } from '@holdfast/core';

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

/**
 * Where operations wait while the server cannot be reached: open while it
 * can, closed from the first sign it cannot until it is seen again. Waiting
 * here instead of retrying into a server that is down is what keeps one
 * outage from becoming operations × driver retries × holdfast retries: the
 * handle's single probe finds the server back and opens the gate for all.
 *
 * A wait ends with the attempt's signal (the deadline, the attempt's time
 * limit, the caller's abort); an attempt cut short by its time limit while it
 * waited here never sent anything, and `wasWaiting()` says so to classify().
 */
export class ServerGate {
  #open = false;
  #failure: Error | undefined;
  readonly #waiters = new Set<Waiter>();
  // Time limits that ended a wait here: the operation was never sent. Weak: the retry loop drops them.
  readonly #unsent = new WeakSet<object>();

  get isOpen(): boolean {
    return this.#open;
  }

  /** Operations waiting now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  open(): void {
    this.#open = true;
    this.#failure = undefined;
    for (const waiter of this.#waiters) this.#release(waiter).resolve();
  }

  close(): void {
    this.#open = false;
  }

  /** Closes the gate and ends every wait, now and until `open()`, with `error` (the handle closed or gave up). */
  fail(error: Error): void {
    this.#open = false;
    this.#failure = error;
    for (const waiter of this.#waiters) this.#release(waiter).reject(error);
  }

  /** Resolves when the gate is open; rejects with the signal's reason, or the error given to `fail()`. */
  wait(signal: AbortSignal | undefined): Promise<void> {
    if (this.#open) return Promise.resolve();
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (signal?.aborted === true) return Promise.reject(this.#aborted(signal));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.#release(waiter);
          reject(this.#aborted(signal as AbortSignal));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  /** True when `error` is the time limit that ended an attempt while it waited here (so the operation was never sent). */
  wasWaiting(error: unknown): boolean {
    return typeof error === 'object' && error !== null && this.#unsent.has(error);
  }

  #aborted(signal: AbortSignal): unknown {
    const reason: unknown = signal.reason;
    if (reason instanceof AttemptTimeoutError) this.#unsent.add(reason);
    return reason;
  }

  #release(waiter: Waiter): Waiter {
    this.#waiters.delete(waiter);
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
    return waiter;
  }
}
