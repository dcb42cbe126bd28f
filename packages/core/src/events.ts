import diagnosticsChannel from 'node:diagnostics_channel';
import { redact } from './redact.js';

/**
 * Every holdfast event is published twice: to the object's own typed
 * listeners and, redacted, to `node:diagnostics_channel` as `holdfast:<name>`
 * (the convention undici and Node use), so an APM agent or a test can watch a
 * whole process without a handle on each object.
 */
export type Listener<T> = (payload: T) => void;

export const CHANNEL_PREFIX = 'holdfast:';

const channels = new Map<string, diagnosticsChannel.Channel>();

/** The diagnostics channel a holdfast event of this name is published on. */
export function channelFor(name: string): diagnosticsChannel.Channel {
  let ch = channels.get(name);
  if (ch === undefined) {
    ch = diagnosticsChannel.channel(CHANNEL_PREFIX + name);
    channels.set(name, ch);
  }
  return ch;
}

/** Publishes on `holdfast:<name>` only when someone listens; the payload is redacted first. */
export function publish(name: string, payload: unknown): void {
  const ch = channelFor(name);
  if (ch.hasSubscribers) ch.publish(redact(payload));
}

/**
 * A listener that throws is a bug in the application, but it must not break
 * the connection or retry loop that emitted the event: it becomes a process
 * warning instead.
 */
function reportListenerError(name: string, error: unknown): void {
  const detail = error instanceof Error ? error : new Error(String(error));
  process.emitWarning(`a listener for holdfast event '${name}' threw: ${detail.message}`, {
    type: 'HoldfastListenerWarning',
    detail: detail.stack ?? '',
  });
}

/**
 * Typed listeners keyed by event name. Payloads are plain objects; the same
 * payload goes to the diagnostics channel. Emitting never throws.
 */
export class TypedEvents<Events extends object> {
  #listeners = new Map<keyof Events, Set<Listener<never>>>();
  readonly #channelNames: { readonly [K in keyof Events]?: string };

  /**
   * @param channelNames diagnostics channel (without the `holdfast:` prefix) per event;
   *   an event not named here is published on `holdfast:<event name>`.
   */
  constructor(channelNames: { readonly [K in keyof Events]?: string } = {}) {
    this.#channelNames = channelNames;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(name);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    set.add(listener);
    return () => this.off(name, listener);
  }

  /** Like `on`, but the listener runs once. */
  once<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(name, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  off<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void {
    this.#listeners.get(name)?.delete(listener);
  }

  listenerCount(name: keyof Events): number {
    return this.#listeners.get(name)?.size ?? 0;
  }

  /** Removes every listener (used by `close()` of the owning object). */
  clear(): void {
    this.#listeners.clear();
  }

  emit<K extends keyof Events>(name: K, payload: Events[K]): void {
    const set = this.#listeners.get(name);
    if (set !== undefined && set.size > 0) {
      for (const listener of [...set]) {
        try {
          (listener as Listener<Events[K]>)(payload);
        } catch (error) {
          reportListenerError(String(name), error);
        }
      }
    }
    publish(this.#channelNames[name] ?? String(name), payload);
  }
}
