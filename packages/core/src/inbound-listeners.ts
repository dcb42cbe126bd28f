/** A listener of received data: the payload, and what the transport adds (ws: `isBinary`). */
export type InboundListener<T, X = undefined> = (payload: T, extra: X) => void;

const NONE: readonly never[] = [];

/**
 * Listeners for received data (`'data'`, `'message'`), which fire once per
 * chunk, frame or message: isolated like `TypedEvents` (a listener that
 * throws becomes a process warning; the next one still runs, the connection
 * carries on), but kept apart from the lifecycle events because those also go
 * to a diagnostics channel (application payloads do not belong there) and
 * because this path must cost next to nothing: the array is replaced, never
 * mutated, so emitting needs no copy, and the usual single listener is also
 * kept on its own so that it is called without reading the array.
 */
export class InboundListeners<T, X = undefined> {
  #listeners: readonly InboundListener<T, X>[] = NONE;
  /** The listener when there is exactly one. */
  #single: InboundListener<T, X> | undefined;
  readonly #eventName: string;

  constructor(eventName: string) {
    this.#eventName = eventName;
  }

  get count(): number {
    return this.#listeners.length;
  }

  /** Adds a listener (once: adding the same function again does nothing). */
  add(listener: InboundListener<T, X>): void {
    if (!this.#listeners.includes(listener)) this.#set([...this.#listeners, listener]);
  }

  remove(listener: InboundListener<T, X>): void {
    const index = this.#listeners.indexOf(listener);
    if (index !== -1) this.#set(this.#listeners.filter((_, i) => i !== index));
  }

  clear(): void {
    this.#set(NONE);
  }

  emit(payload: T, extra: X): void {
    const single = this.#single;
    if (single === undefined) {
      this.#emitAll(payload, extra);
      return;
    }
    try {
      single(payload, extra);
    } catch (error) {
      this.#warn(error);
    }
  }

  // Apart from emit() so that emit() stays small enough to be inlined into the decoder's loop.
  #emitAll(payload: T, extra: X): void {
    const listeners = this.#listeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        (listeners[i] as InboundListener<T, X>)(payload, extra);
      } catch (error) {
        this.#warn(error);
      }
    }
  }

  #set(listeners: readonly InboundListener<T, X>[]): void {
    this.#listeners = listeners;
    this.#single = listeners.length === 1 ? listeners[0] : undefined;
  }

  // A throwing listener is an application bug; it must not tear down the connection that delivered the data.
  #warn(error: unknown): void {
    const detail = error instanceof Error ? error : new Error(String(error));
    process.emitWarning(`a listener for holdfast event '${this.#eventName}' threw: ${detail.message}`, {
      type: 'HoldfastListenerWarning',
      detail: detail.stack ?? '',
    });
  }
}
