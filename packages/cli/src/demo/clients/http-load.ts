import { OutcomeUnknownError } from '@holdfast/core';
import { pool } from '../servers/listen.js';

/** How a batch of requests ended, from the caller's side. */
export interface LoadResult {
  readonly succeeded: number;
  /** Failed with an error that says the request may have been applied (holdfast's OutcomeUnknownError). */
  readonly outcomeUnknown: number;
  /** Failed with an ordinary error: the caller believes nothing happened. */
  readonly failed: number;
  /** Request ids of the ordinary failures (to look up whether the server applied them anyway). */
  readonly failedIds: readonly string[];
}

/**
 * Sends `count` requests, `concurrency` at a time; `send` resolves when a
 * request succeeded (its answer read) and throws when it failed.
 */
export async function runLoad(
  count: number,
  concurrency: number,
  prefix: string,
  send: (id: string, index: number) => Promise<void>,
  onDone: () => void,
): Promise<LoadResult> {
  let succeeded = 0;
  let outcomeUnknown = 0;
  const failedIds: string[] = [];
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  await pool(ids, concurrency, async (id, index) => {
    try {
      await send(id, index);
      succeeded++;
    } catch (error) {
      if (error instanceof OutcomeUnknownError) outcomeUnknown++;
      else failedIds.push(id);
    } finally {
      onDone();
    }
  });
  return { succeeded, outcomeUnknown, failed: failedIds.length, failedIds };
}

/** Failed requests the server applied all the same: the caller was told "failed" and nothing more. */
export function appliedButFailed(result: LoadResult, effects: ReadonlyMap<string, number>): number {
  return result.failedIds.filter((id) => (effects.get(id) ?? 0) > 0).length;
}
