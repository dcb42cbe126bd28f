/* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- rejections pass through unchanged: the operation's error or the caller's abort reason */
import { AttemptTimeoutError } from './attempt-timeout-error.js';
import type { AttemptInfo, RetryableOperation } from './retry-options.js';

/**
 * Runs one attempt that must end by a time limit or on the caller's abort.
 * The attempt's own signal is aborted then, but the attempt is abandoned
 * whether or not the operation listens to it: a deadline is the caller's
 * promise, not the operation's. A late result or rejection of an abandoned
 * attempt is absorbed, never unhandled.
 */
export function runGuardedAttempt<T>(
  operation: RetryableOperation<T>,
  attempt: number,
  limitMs: number | undefined,
  limitIsDeadline: boolean,
  callerSignal: AbortSignal | undefined,
  unref: boolean,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (callerSignal?.aborted === true) {
      reject(callerSignal.reason);
      return;
    }
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const release = (): void => {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    };
    function onCallerAbort(this: AbortSignal): void {
      release();
      const reason: unknown = this.reason;
      reject(reason);
      controller.abort(reason);
    }
    if (limitMs !== undefined) {
      timer = setTimeout(() => {
        release();
        const reason = new AttemptTimeoutError(attempt, limitMs, limitIsDeadline);
        reject(reason);
        controller.abort(reason);
      }, limitMs);
      if (unref) timer.unref();
    }
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    const info: AttemptInfo = { attempt, signal: controller.signal };
    let result: T | PromiseLike<T>;
    try {
      result = operation(info);
    } catch (error) {
      release();
      reject(error);
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        release();
        resolve(value);
      },
      (error: unknown) => {
        release();
        reject(error);
      },
    );
  });
}
