import { createHook } from 'node:async_hooks';

/**
 * Watches the timers created from now on, including unref'd ones (which
 * `process.getActiveResourcesInfo()` does not list): `count()` is how many
 * are still pending, neither fired nor cleared.
 */
export function watchTimers(): { count(): number; stop(): void } {
  const live = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout') live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return {
    count: () => live.size,
    stop: () => void hook.disable(),
  };
}

/** Active TCP handles (sockets and servers) of this process. */
export function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;
}

/** Lets pending destroy hooks and close callbacks run. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
