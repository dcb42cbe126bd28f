import { afterEach, beforeEach, expect } from 'vitest';

/** Counts errors that escape to the process: none may, whatever the network does. */
export function watchProcess(): { readonly escaped: unknown[]; stop(): void } {
  const escaped: unknown[] = [];
  const onError = (error: unknown): void => {
    escaped.push(error);
  };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    escaped,
    stop() {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    },
  };
}

/** Sockets and timers still open, beyond what the test runner itself holds. */
export function openHandles(baseline: readonly string[]): string[] {
  const watched = new Set(['TCPSocketWrap', 'TCPServerWrap', 'Timeout']);
  const now = process.getActiveResourcesInfo().filter((r) => watched.has(r));
  const left = [...now];
  for (const r of baseline) {
    const i = left.indexOf(r);
    if (i >= 0) left.splice(i, 1);
  }
  return left;
}

/**
 * `openHandles` once sockets had the time to close: polled by hand for up to
 * `timeoutMs` (a loaded machine closes them late; a leak never goes away).
 * Not with vi.waitFor, whose own timers would be counted.
 */
export async function settledOpenHandles(baseline: readonly string[], timeoutMs = 2_000): Promise<string[]> {
  const until = Date.now() + timeoutMs;
  while (openHandles(baseline).length > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
  return openHandles(baseline);
}

/**
 * Per test: watches for errors escaping to the process, and after the test
 * runs `closeResources` (the test file's own servers, clients and proxies, in
 * the order they must close), then checks that nothing escaped.
 */
export function guardEachTest(closeResources: () => Promise<void>): void {
  let guard: ReturnType<typeof watchProcess>;
  beforeEach(() => {
    guard = watchProcess();
  });
  afterEach(async () => {
    try {
      await closeResources();
    } finally {
      guard.stop();
    }
    expect(guard.escaped).toEqual([]);
  });
}
