/**
 * The connect hook (`onConnect`) runs on every new connection before
 * anything queued is sent: a handshake, authentication, resubscribing. It
 * races two things the hook may not watch: the connection closing under it,
 * and the attempt being abandoned (connect timeout, `close()`). Either must
 * fail the attempt at once, or a hung hook would hold a dead connection, a
 * reconnect or `close()` for as long as it likes.
 */
export interface ConnectHookContext {
  /** 1 for the first attempt since start or since the last stable connection, then 2, 3… */
  readonly attempt: number;
  /** Aborted when this connection closes or the attempt is abandoned (connect timeout, `close()`): stop waiting on it. */
  readonly signal: AbortSignal;
}

/**
 * Settles with `work`, or rejects with the reason of the first of `signals`
 * to abort (at once if one already has). A synchronous throw of `work` and a
 * rejection that is not an Error become Errors.
 */
export function untilAborted<T>(work: () => T | Promise<T>, ...signals: readonly AbortSignal[]): Promise<T> {
  for (const signal of signals) if (signal.aborted) return Promise.reject(asError(signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = function (this: AbortSignal): void {
      done();
      reject(asError(this.reason));
    };
    const done = (): void => {
      for (const signal of signals) signal.removeEventListener('abort', onAbort);
    };
    for (const signal of signals) signal.addEventListener('abort', onAbort, { once: true });
    Promise.resolve()
      .then(work)
      .then(
        (value) => {
          done();
          resolve(value);
        },
        (error: unknown) => {
          done();
          reject(asError(error));
        },
      );
  });
}

/**
 * Runs `hook(context)` for a new connection. `closed` aborts when the
 * connection closes, `abandoned` when the attempt is given up; the hook's
 * `context.signal` should be the two together (`AbortSignal.any`). Rejects
 * as soon as either aborts, whether or not the hook watches its signal; the
 * caller then destroys the connection and the attempt fails (and is retried
 * with backoff).
 */
export function runConnectHook<X extends ConnectHookContext>(
  hook: (context: X) => void | Promise<void>,
  context: X,
  closed: AbortSignal,
  abandoned: AbortSignal,
): Promise<void> {
  return untilAborted(() => hook(context), closed, abandoned);
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
