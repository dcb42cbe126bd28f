/**
 * The browser-style half of the surface (`addEventListener`, `onmessage`…),
 * so code written for a WebSocket or for reconnecting-websocket keeps
 * working: a thin layer over the socket's own events, which it listens to
 * once the first browser-style listener is added. Node listeners
 * (`on('message')`) are the fast path; event objects are built here only
 * when a browser-style listener exists.
 */
export type WebEventType = 'open' | 'message' | 'close' | 'error';

export interface WebEvent {
  readonly type: WebEventType;
  readonly target: unknown;
  readonly [field: string]: unknown;
}

export type WebListener = ((event: never) => void) | { handleEvent(event: never): void };

function reportListenerError(type: string, error: unknown): void {
  const detail = error instanceof Error ? error : new Error(String(error));
  process.emitWarning(`a '${type}' listener of a ReconnectingWebSocket threw: ${detail.message}`, {
    type: 'HoldfastListenerWarning',
    detail: detail.stack ?? '',
  });
}

export class WebListeners {
  readonly #listeners = new Map<WebEventType, Set<WebListener>>();
  readonly #handlers = new Map<WebEventType, (event: never) => void>();

  add(type: WebEventType, listener: WebListener): void {
    let set = this.#listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    set.add(listener);
  }

  remove(type: WebEventType, listener: WebListener): void {
    this.#listeners.get(type)?.delete(listener);
  }

  handler(type: WebEventType): ((event: never) => void) | null {
    return this.#handlers.get(type) ?? null;
  }

  setHandler(type: WebEventType, handler: ((event: never) => void) | null): void {
    if (typeof handler === 'function') this.#handlers.set(type, handler);
    else this.#handlers.delete(type);
  }

  wants(type: WebEventType): boolean {
    return this.#handlers.has(type) || (this.#listeners.get(type)?.size ?? 0) > 0;
  }

  /** Calls the `on<type>` handler, then every listener; a listener that throws becomes a warning, as in a browser. */
  dispatch(event: WebEvent): void {
    const call = (listener: WebListener): void => {
      try {
        if (typeof listener === 'function') (listener as (event: WebEvent) => void)(event);
        else (listener.handleEvent as (event: WebEvent) => void)(event);
      } catch (error) {
        reportListenerError(event.type, error);
      }
    };
    const handler = this.#handlers.get(event.type);
    if (handler !== undefined) call(handler);
    const set = this.#listeners.get(event.type);
    if (set !== undefined) for (const listener of [...set]) call(listener);
  }

  clear(): void {
    this.#listeners.clear();
    this.#handlers.clear();
  }
}
