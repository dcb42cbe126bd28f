export type Listener<T> = (payload: T) => void;

/**
 * Typed listeners by event name. Emitting never throws: a listener that
 * throws is the test's bug, and it must not take the proxy down with it, so
 * it becomes a process warning.
 */
export class Listeners<Events extends object> {
  #byName = new Map<keyof Events, Set<Listener<never>>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.#byName.get(name);
    if (set === undefined) {
      set = new Set();
      this.#byName.set(name, set);
    }
    set.add(listener);
    return () => this.off(name, listener);
  }

  off<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void {
    this.#byName.get(name)?.delete(listener);
  }

  clear(): void {
    this.#byName.clear();
  }

  emit<K extends keyof Events>(name: K, payload: Events[K]): void {
    const set = this.#byName.get(name);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        const detail = error instanceof Error ? error : new Error(String(error));
        process.emitWarning(`a listener for chaos proxy event '${String(name)}' threw: ${detail.message}`, {
          type: 'HoldfastListenerWarning',
          detail: detail.stack ?? '',
        });
      }
    }
  }
}
