import { createHook } from 'node:async_hooks';
import { afterAll, beforeAll, expect } from 'vitest';

/** Active TCP and TLS handles (sockets and servers) of this process. */
export function socketHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP') || r.startsWith('TLS')).length;
}

/**
 * Watches timers created from now on, unref'd ones included (which
 * `process.getActiveResourcesInfo()` does not list): how many are still
 * pending, neither fired nor cleared.
 */
export function watchTimers(): { pending(): number; stop(): void } {
  const live = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout') live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return { pending: () => live.size, stop: () => void hook.disable() };
}

/** Lets pending close callbacks and destroy hooks run. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `predicate` holds, polling; rejects naming `what` after `timeoutMs`. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Records every 'uncaughtException' and 'unhandledRejection' while the
 * file's tests run and fails the file if there was any: a broken database
 * connection must never crash the process.
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

/** The rejection of `promise` (fails if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, got a result');
}
