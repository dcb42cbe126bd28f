/**
 * Counts what must never happen: an exception or rejection escaping to the
 * process. Installed per test file; `stop()` removes the listeners.
 */
export interface ProcessFaults {
  readonly uncaught: unknown[];
  readonly unhandled: unknown[];
  stop(): void;
}

export function watchProcessFaults(): ProcessFaults {
  const uncaught: unknown[] = [];
  const unhandled: unknown[] = [];
  const onUncaught = (error: unknown): void => void uncaught.push(error);
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandled);
  return {
    uncaught,
    unhandled,
    stop() {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUnhandled);
    },
  };
}

/** Sockets, servers and timers still open (process.getActiveResourcesInfo), minus vitest's own. */
export function openHandles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== 'CloseReq' && r !== 'PipeWrap' && r !== 'TTYWrap' && r !== 'FSReqCallback');
}

/** Waits until `open()` returns no more than the `baseline`, or gives up after `ms`. */
export async function settleHandles(baseline: readonly string[], ms = 2_000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const now = openHandles();
    const extra = subtract(now, baseline);
    if (extra.length === 0 || Date.now() > deadline) return extra;
    await new Promise((r) => setTimeout(r, 25));
  }
}

function subtract(now: readonly string[], baseline: readonly string[]): string[] {
  const left = [...baseline];
  const extra: string[] = [];
  for (const r of now) {
    const i = left.indexOf(r);
    if (i >= 0) left.splice(i, 1);
    else extra.push(r);
  }
  return extra;
}
