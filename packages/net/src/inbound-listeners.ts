type InboundListener<T> = (payload: T) => void;

const NONE: readonly never[] = [];

/**
 * Listeners for `'data'` and `'message'`, which fire once per received chunk
 * or frame. Kept apart from the lifecycle events because those also go to a
 * diagnostics channel (application payloads do not belong there) and because
 * this path must cost next to nothing: the array is replaced, never mutated,
 * so emitting needs no copy, and the usual single listener is also kept on
 * its own so that it is called without reading the array.
 */
export class InboundListeners<T> {
  #listeners: readonly InboundListener<T>[] = NONE;
  /** The listener when there is exactly one. */
  #single: InboundListener<T> | undefined;
  readonly #eventName: string;

  constructor(eventName: string) {
    this.#eventName = eventName;
  }

  get count(): number {
    return this.#listeners.length;
  }

  add(listener: InboundListener<T>): void {
    this.#set([...this.#listeners, listener]);
  }

  remove(listener: InboundListener<T>): void {
    const index = this.#listeners.indexOf(listener);
    if (index !== -1) this.#set(this.#listeners.filter((_, i) => i !== index));
  }

  clear(): void {
    this.#set(NONE);
  }

  emit(payload: T): void {
    const single = this.#single;
    if (single === undefined) {
      this.#emitAll(payload);
      return;
    }
    try {
      single(payload);
    } catch (error) {
      this.#warn(error);
    }
  }

  // Apart from emit() so that emit() stays small enough to be inlined into the decoder's loop.
  #emitAll(payload: T): void {
    const listeners = this.#listeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        (listeners[i] as InboundListener<T>)(payload);
      } catch (error) {
        this.#warn(error);
      }
    }
  }

  #set(listeners: readonly InboundListener<T>[]): void {
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
