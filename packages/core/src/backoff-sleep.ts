/* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- an abort rejects with the caller's own reason, whatever it is */
/**
 * Waits between attempts. Ends early, rejecting with the signal's reason,
 * the moment the caller aborts, and leaves no timer or listener behind either way.
 */
export function backoffSleep(ms: number, signal: AbortSignal | undefined, unref: boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (unref) timer.unref();
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
