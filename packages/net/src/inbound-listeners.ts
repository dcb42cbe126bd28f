/**
 * Listeners for `'data'` and `'message'`, which fire once per received chunk
 * or frame. Kept apart from the lifecycle events because those also go to a
 * diagnostics channel (application payloads do not belong there) and because
 * this path must cost next to nothing: the array is replaced, never mutated,
 * so emitting needs no copy.
 */
export class InboundListeners<T> {
  #listeners: readonly ((payload: T) => void)[] = [];
  readonly #eventName: string;

  constructor(eventName: string) {
    this.#eventName = eventName;
  }

  get count(): number {
    return this.#listeners.length;
  }

  add(listener: (payload: T) => void): void {
    this.#listeners = [...this.#listeners, listener];
  }

  remove(listener: (payload: T) => void): void {
    const index = this.#listeners.indexOf(listener);
    if (index !== -1) this.#listeners = this.#listeners.filter((_, i) => i !== index);
  }

  clear(): void {
    this.#listeners = [];
  }

  emit(payload: T): void {
    const listeners = this.#listeners;
    // The usual case, one listener, without a loop.
    if (listeners.length === 1) {
      try {
        (listeners[0] as (payload: T) => void)(payload);
      } catch (error) {
        this.#warn(error);
      }
      return;
    }
    for (let i = 0; i < listeners.length; i++) {
      try {
        (listeners[i] as (payload: T) => void)(payload);
      } catch (error) {
        this.#warn(error);
      }
    }
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
