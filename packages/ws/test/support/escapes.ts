import { afterAll, afterEach, beforeAll, expect } from 'vitest';

/**
 * Counts every 'uncaughtException' and 'unhandledRejection' in the calling
 * test file and expects none: a broken connection must never crash the
 * process. The count runs for the whole file, not only inside tests, because
 * an escape often comes from a timer or socket of a test that has already
 * finished; such a late one fails the next test, or the file. Call it first
 * in the file, so its check runs after the other cleanup hooks.
 */
export function failOnEscapes(): void {
  const errors: unknown[] = [];
  const onEscape = (error: unknown): void => {
    errors.push(error);
  };
  beforeAll(() => {
    process.on('uncaughtException', onEscape);
    process.on('unhandledRejection', onEscape);
  });
  afterEach(() => {
    expect(errors.splice(0)).toEqual([]);
  });
  afterAll(() => {
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
    expect(errors).toEqual([]);
  });
}
