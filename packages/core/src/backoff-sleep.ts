/* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- an abort rejects with the caller's own reason, whatever it is */
/**
 * Waits between attempts. Ends early, rejecting with the signal's reason,
 * the moment the caller aborts; ends early and resolves when a function it
 * put in `sleepers` is called (`RetryPolicy.wake()`). Leaves no timer,
 * listener or entry in `sleepers` behind, however it ends.
 */
export function backoffSleep(ms: number, signal: AbortSignal | undefined, unref: boolean, sleepers?: Set<() => void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(wake, ms);
    if (unref) timer.unref();
    function wake(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sleepers?.delete(wake);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(timer);
      sleepers?.delete(wake);
      reject(signal?.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    sleepers?.add(wake);
  });
}
