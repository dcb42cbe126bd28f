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
 *
 * Kept small because every long-lived connection owns a few: the map is made
 * on the first `on()`, an event with one listener holds just that function,
 * and with more an array that is replaced (never mutated) on change, so
 * emitting needs no copy and a listener added or removed during an emit
 * takes effect from the next one.
 */
export class TypedEvents<Events extends object> {
  #listeners: Map<keyof Events, Listener<never> | readonly Listener<never>[]> | undefined;
  readonly #channelNames: { readonly [K in keyof Events]?: string | false } | false;

  /**
   * @param channelNames diagnostics channel (without the `holdfast:` prefix) per event;
   *   an event not named here is published on `holdfast:<event name>`, one named
   *   `false` is not published (an event forwarded from another holdfast object,
   *   which published it already; application data; an `Error` that a
   *   lifecycle event already describes). `false` for all of them: the events
   *   of a part whose owner publishes them as its own (a Supervisor inside a
   *   ReconnectingSocket), so that each is published once.
   */
  constructor(channelNames: { readonly [K in keyof Events]?: string | false } | false = {}) {
    this.#channelNames = channelNames;
  }

  /** Adds a listener (once: adding the same function again does nothing); returns a function that removes it. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    const listeners = (this.#listeners ??= new Map<keyof Events, Listener<never> | readonly Listener<never>[]>());
    const current = listeners.get(name);
    const added = listener as Listener<never>;
    if (current === undefined) listeners.set(name, added);
    else if (typeof current === 'function') {
      if (current !== added) listeners.set(name, [current, added]);
    } else if (!current.includes(added)) listeners.set(name, [...current, added]);
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
    const listeners = this.#listeners;
    const current = listeners?.get(name);
    if (listeners === undefined || current === undefined) return;
    if (typeof current === 'function') {
      if (current === listener) listeners.delete(name);
      return;
    }
    const rest = current.filter((l) => l !== listener);
    listeners.set(name, rest.length === 1 ? (rest[0] as Listener<never>) : rest);
  }

  listenerCount(name: keyof Events): number {
    const current = this.#listeners?.get(name);
    return current === undefined ? 0 : typeof current === 'function' ? 1 : current.length;
  }

  /** Removes every listener of one event. */
  removeAll(name: keyof Events): void {
    this.#listeners?.delete(name);
  }

  /** Removes every listener (used by `close()` of the owning object). */
  clear(): void {
    this.#listeners = undefined;
  }

  emit<K extends keyof Events>(name: K, payload: Events[K]): void {
    const current = this.#listeners?.get(name) as Listener<Events[K]> | readonly Listener<Events[K]>[] | undefined;
    if (typeof current === 'function') call(current, payload, name);
    else if (current !== undefined) for (const listener of current) call(listener, payload, name);
    const channels = this.#channelNames;
    if (channels === false) return;
    const channel = channels[name];
    if (channel !== false) publish(channel ?? String(name), payload);
  }
}

function call<T>(listener: Listener<T>, payload: T, name: PropertyKey): void {
  try {
    listener(payload);
  } catch (error) {
    reportListenerError(String(name), error);
  }
}
