import { createHook } from 'node:async_hooks';
import { afterAll, beforeAll, expect } from 'vitest';

/**
 * Watches timers and sockets created from now on, unref'd timers included
 * (which `process.getActiveResourcesInfo()` does not list): what is still
 * pending, neither fired nor cleared nor closed.
 */
export function watchHandles(): { timers(): number; stop(): void } {
  const live = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout') live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return { timers: () => live.size, stop: () => void hook.disable() };
}

/** Active TCP and TLS handles (sockets and servers) of this process. */
export function socketHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP') || r.startsWith('TLS') || r === 'PipeWrap').length;
}

/** Lets pending close callbacks and destroy hooks run. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

/**
 * Counts every 'uncaughtException' and 'unhandledRejection' while the file's
 * tests run and fails the file if there was any: a broken connection must
 * never crash the process.
 */
export function failOnEscapedErrors(): { readonly escaped: unknown[] } {
  const escaped: unknown[] = [];
  const record = (error: unknown): void => void escaped.push(error);
  beforeAll(() => {
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
  });
  afterAll(() => {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
    expect(escaped).toEqual([]);
  });
  return { escaped };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `predicate` holds, polling; rejects with `what` after `timeoutMs`. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
