import { describe, expect, it } from 'vitest';
import { constant } from '@holdfast/core';
import { deprecatedSchedule, numberLike, warnDeprecated, withDeprecatedField } from '@holdfast/core/internal';

/** Runs `run` and collects the warnings it emitted (they are delivered on a later tick). */
async function collect<T>(run: () => T): Promise<{ result: T; warnings: (Error & { code?: string })[] }> {
  const warnings: (Error & { code?: string })[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning);
  process.on('warning', onWarning);
  try {
    const result = run();
    await new Promise((resolve) => setImmediate(resolve));
    return { result, warnings };
  } finally {
    process.off('warning', onWarning);
  }
}

describe('deprecated aliases', () => {
  it('warn once per code, as a DeprecationWarning with that code', async () => {
    const seen = await collect(() => {
      warnDeprecated('HOLDFAST_TEST_A', 'old name a');
      warnDeprecated('HOLDFAST_TEST_A', 'old name a');
      warnDeprecated('HOLDFAST_TEST_B', 'old name b');
    });
    expect(seen.warnings.map((w) => [w.name, w.code, w.message])).toEqual([
      ['DeprecationWarning', 'HOLDFAST_TEST_A', 'old name a'],
      ['DeprecationWarning', 'HOLDFAST_TEST_B', 'old name b'],
    ]);
  });

  it('a schedule, a payload field and a number that became a record keep working under the old name', async () => {
    const seen = await collect(() => {
      const schedule = deprecatedSchedule(constant(7), 'HOLDFAST_TEST_S', 'old schedule');
      const delay = schedule.next({ attempt: 1, previousDelayMs: 0, random: Math.random });
      const payload = withDeprecatedField({ event: 'close', gaveUp: true }, 'reason', 'give-up', 'HOLDFAST_TEST_F', 'old field');
      const dropped = numberLike({ total: 3, overflow: 3 }, 3, 'HOLDFAST_TEST_N', 'old number');
      return { delay, payload, dropped, read: (payload as { reason?: string }).reason, sum: (dropped as unknown as number) + 1 };
    });
    expect(seen.result.delay).toBe(7);
    expect(seen.result.read).toBe('give-up');
    expect(seen.result.sum).toBe(4);
    // Copies (the diagnostics channel's, spreads, JSON) carry only the new names.
    expect({ ...seen.result.payload }).toEqual({ event: 'close', gaveUp: true });
    expect(JSON.stringify(seen.result.dropped)).toBe('{"total":3,"overflow":3}');
    expect(seen.warnings.map((w) => w.code)).toEqual(['HOLDFAST_TEST_S', 'HOLDFAST_TEST_F', 'HOLDFAST_TEST_N']);
  });
});
