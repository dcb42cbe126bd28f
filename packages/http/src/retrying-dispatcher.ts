import { Dispatcher, type Agent } from 'undici';
import type { RetryInterceptor } from './retry-interceptor.js';

/**
 * The client's dispatcher: the retry interceptor in front of its own Agent,
 * without `compose`. compose wraps every handler and converts headers between
 * undici's two handler formats on each request; here undici's `request`
 * handler reaches the interceptor as it is, and the interceptor's handler
 * reaches the Agent as it is.
 */
export class RetryingDispatcher extends Dispatcher {
  readonly #agent: Agent;
  readonly #interceptor: RetryInterceptor;
  readonly #dispatch: Dispatcher.Dispatch;

  constructor(agent: Agent, interceptor: RetryInterceptor) {
    super();
    this.#agent = agent;
    this.#interceptor = interceptor;
    this.#dispatch = interceptor(agent.dispatch.bind(agent));
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#dispatch(opts, handler);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    // Requests sleeping out a backoff have no connection for the Agent to wait for: they end now, as with client.close().
    this.#interceptor.close();
    if (callback === undefined) return this.#agent.close();
    this.#agent.close(callback);
  }

  override destroy(error?: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null, callback: () => void): void;
  override destroy(errorOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    this.#interceptor.close(typeof errorOrCallback === 'function' || errorOrCallback == null ? undefined : errorOrCallback);
    if (typeof errorOrCallback === 'function') return this.#agent.destroy(errorOrCallback);
    if (callback !== undefined) return this.#agent.destroy(errorOrCallback ?? null, callback);
    return this.#agent.destroy(errorOrCallback ?? null);
  }
}
