import { afterEach, beforeEach, expect } from 'vitest';

/**
 * Per test: collects what the test opened (servers, proxies, agents) and
 * closes it afterwards, last opened first; fails the test if any error or
 * rejection escaped to the process meanwhile.
 */
export function guardEachTest(): { add<T extends { close(): Promise<unknown> }>(resource: T): T } {
  let resources: { close(): Promise<unknown> }[] = [];
  const escaped: unknown[] = [];
  const record = (error: unknown): void => void escaped.push(error);
  beforeEach(() => {
    escaped.length = 0;
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
  });
  afterEach(async () => {
    const opened = resources.reverse();
    resources = [];
    try {
      for (const resource of opened) await resource.close();
    } finally {
      process.off('uncaughtException', record);
      process.off('unhandledRejection', record);
    }
    expect(escaped).toEqual([]);
  });
  return {
    add(resource) {
      resources.push(resource);
      return resource;
    },
  };
}

/** Resolves once `predicate` holds, polling; rejects with `what` after `timeoutMs`. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
