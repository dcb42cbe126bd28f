import { describe, expect, it } from 'vitest';
import type { Fault, Schedule } from '@holdfast/core';
import {
  DEFAULT_SCHEDULE,
  capped,
  constant,
  defaultReconnectSchedule,
  defaultRetrySchedule,
  delays,
  exponential,
  holdFirst,
  honorRetryAfter,
  linear,
} from '@holdfast/core';
import { formatValue } from '@holdfast/core/internal';

// Pure schedule math: no time passes, `random` is injected.
const half = (): number => 0.5;
const zero = (): number => 0;
const almostOne = (): number => 0.999_999;

function faultWithRetryAfter(retryAfterMs: number | undefined): Fault {
  return {
    kind: 'http-status',
    code: 'HTTP_503',
    phase: 'response',
    transient: true,
    hint: 'the server is overloaded',
    status: 503,
    message: 'Service Unavailable',
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
}

describe('exponential', () => {
  it('doubles from initialMs and stays within [0, ceiling) with full jitter', () => {
    const schedule = exponential({ initialMs: 100, factor: 2, maxMs: 10_000 });
    expect(delays(schedule, 5, half)).toEqual([50, 100, 200, 400, 800]);
    expect(delays(schedule, 5, zero)).toEqual([0, 0, 0, 0, 0]);
    const top = delays(schedule, 5, almostOne);
    [100, 200, 400, 800, 1600].forEach((ceiling, i) => {
      expect(top[i]).toBeLessThan(ceiling);
      expect(top[i]).toBeGreaterThan(ceiling * 0.99);
    });
  });

  it('caps every delay at maxMs, however many attempts', () => {
    const schedule = exponential({ initialMs: 100, maxMs: 1000, jitter: 'none' });
    expect(delays(schedule, 8, half)).toEqual([100, 200, 400, 800, 1000, 1000, 1000, 1000]);
    // A huge attempt number must not overflow into Infinity or NaN.
    expect(schedule.next({ attempt: 5000, previousDelayMs: 0, random: half })).toBe(1000);
  });

  it('keeps half of the ceiling fixed with equal jitter', () => {
    const schedule = exponential({ initialMs: 100, jitter: 'equal' });
    expect(delays(schedule, 4, half)).toEqual([75, 150, 300, 600]);
    expect(delays(schedule, 4, zero)).toEqual([50, 100, 200, 400]);
  });

  it('draws each decorrelated delay between initialMs and three times the previous one', () => {
    const schedule = exponential({ initialMs: 100, maxMs: 1000, jitter: 'decorrelated' });
    expect(delays(schedule, 5, half)).toEqual([100, 200, 350, 550, 550]);
    expect(delays(schedule, 3, zero)).toEqual([100, 100, 100]);
    // The cap holds even when three times the previous delay is far above it.
    expect(schedule.next({ attempt: 9, previousDelayMs: 900, random: almostOne })).toBeLessThanOrEqual(1000);
  });

  it('uses a growth factor other than 2', () => {
    expect(delays(exponential({ initialMs: 10, factor: 3, jitter: 'none' }), 4, half)).toEqual([10, 30, 90, 270]);
  });

  it('uses the documented defaults: 100 ms, x2, 30 s, full jitter', () => {
    const schedule = exponential();
    expect(schedule.description).toBe('exponential(100ms x2 ≤30000ms, full jitter)');
    expect(schedule.next({ attempt: 20, previousDelayMs: 0, random: half })).toBe(15_000);
  });

  it('describes itself for events and messages', () => {
    expect(exponential({ initialMs: 5, maxMs: 50, jitter: 'none' }).description).toBe('exponential(5ms x2 ≤50ms, no jitter)');
    expect(exponential({ jitter: 'equal' }).description).toContain('equal jitter');
  });

  it.each([
    [{ initialMs: -1 }, "exponential: option 'initialMs' must be a finite number >= 0, got -1"],
    [{ initialMs: Number.NaN }, "option 'initialMs' must be a finite number >= 0, got NaN"],
    [{ factor: 0.5 }, "exponential: option 'factor' must be a finite number >= 1, got 0.5"],
    [{ factor: Number.POSITIVE_INFINITY }, "option 'factor' must be a finite number >= 1, got Infinity"],
    [{ initialMs: 500, maxMs: 100 }, "exponential: option 'maxMs' must be a finite number >= initialMs (500), got 100"],
    [{ jitter: 'random' }, `exponential: option 'jitter' must be 'full', 'equal', 'decorrelated' or 'none', got "random"`],
  ])('rejects %o at construction', (options, message) => {
    expect(() => exponential(options as never)).toThrow(RangeError);
    expect(() => exponential(options as never)).toThrow(message);
  });
});

describe('constant, linear, capped', () => {
  it('constant returns the same delay every time', () => {
    expect(delays(constant(250), 3)).toEqual([250, 250, 250]);
    expect(constant(0).description).toBe('constant(0ms)');
    expect(() => constant(-5)).toThrow("constant: option 'delayMs' must be a finite number >= 0, got -5");
  });

  it('linear adds stepMs per attempt up to maxMs', () => {
    expect(delays(linear({ initialMs: 100, stepMs: 50, maxMs: 300 }), 6)).toEqual([100, 150, 200, 250, 300, 300]);
    expect(delays(linear(), 3)).toEqual([100, 200, 300]);
    expect(linear().description).toBe('linear(100ms +100ms ≤30000ms)');
    expect(() => linear({ initialMs: -1 })).toThrow("linear: option 'initialMs'");
    expect(() => linear({ stepMs: Number.NaN })).toThrow("linear: option 'stepMs' must be a finite number >= 0, got NaN");
    expect(() => linear({ maxMs: -1 })).toThrow("linear: option 'maxMs'");
  });

  it('capped bounds any schedule', () => {
    const schedule = capped(exponential({ initialMs: 100, jitter: 'none' }), 250);
    expect(delays(schedule, 4)).toEqual([100, 200, 250, 250]);
    expect(schedule.description).toBe('exponential(100ms x2 ≤30000ms, no jitter) ≤250ms');
    expect(() => capped(constant(1), Number.POSITIVE_INFINITY)).toThrow("capped: option 'maxMs' must be a finite number >= 0, got Infinity");
  });
});

describe('honorRetryAfter', () => {
  const base = constant(100);
  const schedule = honorRetryAfter(base, { capMs: 5000 });
  const next = (fault?: Fault): number => schedule.next({ attempt: 1, previousDelayMs: 0, random: half, ...(fault ? { fault } : {}) });

  it("uses the peer's Retry-After instead of the schedule", () => {
    expect(next(faultWithRetryAfter(2000))).toBe(2000);
    expect(next(faultWithRetryAfter(0))).toBe(0);
  });

  it('clamps a Retry-After above the cap', () => {
    expect(next(faultWithRetryAfter(3_600_000))).toBe(5000);
  });

  it('falls back to the schedule without a usable Retry-After', () => {
    expect(next()).toBe(100);
    expect(next(faultWithRetryAfter(undefined))).toBe(100);
    expect(next(faultWithRetryAfter(-1))).toBe(100);
    expect(next(faultWithRetryAfter(Number.NaN))).toBe(100);
    expect(next(faultWithRetryAfter(Number.POSITIVE_INFINITY))).toBe(100);
  });

  it('has a 60 s cap by default and validates it', () => {
    const defaultCap = honorRetryAfter(base);
    expect(defaultCap.next({ attempt: 1, previousDelayMs: 0, random: half, fault: faultWithRetryAfter(120_000) })).toBe(60_000);
    expect(defaultCap.description).toBe('constant(100ms), Retry-After ≤60000ms');
    expect(() => honorRetryAfter(base, { capMs: -1 })).toThrow("honorRetryAfter: option 'capMs' must be a finite number >= 0, got -1");
  });
});

describe('defaultRetrySchedule', () => {
  it('is full-jitter exponential from 100 ms up to 10 s, honouring Retry-After up to 60 s', () => {
    const s: Schedule = defaultRetrySchedule;
    expect(delays(s, 9, almostOne).every((d, i) => d < Math.min(10_000, 100 * 2 ** i))).toBe(true);
    expect(s.next({ attempt: 30, previousDelayMs: 0, random: almostOne })).toBeLessThanOrEqual(10_000);
    expect(s.next({ attempt: 1, previousDelayMs: 0, random: half, fault: faultWithRetryAfter(30_000) })).toBe(30_000);
    expect(s.next({ attempt: 1, previousDelayMs: 0, random: half, fault: faultWithRetryAfter(90_000) })).toBe(60_000);
  });

  it('delays() feeds each delay back as previousDelayMs and uses Math.random by default', () => {
    const seen: number[] = [];
    const probe: Schedule = {
      description: 'probe',
      next: ({ attempt, previousDelayMs }) => {
        seen.push(previousDelayMs);
        return attempt * 10;
      },
    };
    expect(delays(probe, 3)).toEqual([10, 20, 30]);
    expect(seen).toEqual([0, 10, 20]);
    const random = delays(exponential({ initialMs: 1000 }), 50);
    expect(random.every((d) => d >= 0 && d < 30_000)).toBe(true);
    expect(new Set(random).size).toBeGreaterThan(1);
  });
});

describe('formatValue', () => {
  it('names rejected values without dumping objects', () => {
    expect(formatValue('x'.repeat(100))).toBe(JSON.stringify(`${'x'.repeat(60)}…`));
    expect(formatValue('abc')).toBe('"abc"');
    expect(formatValue(undefined)).toBe('undefined');
    expect(formatValue(null)).toBe('null');
    expect(formatValue(true)).toBe('true');
    expect(formatValue(() => 1)).toBe('a function');
    expect(formatValue([1])).toBe('an array');
    expect(formatValue({ password: 'x' })).toBe('object');
  });
});

describe('holdFirst and defaultReconnectSchedule', () => {
  it("holdFirst repeats the schedule's first step for `attempts` retries, then goes on from its second", () => {
    const held = holdFirst(exponential({ initialMs: 100, factor: 2, maxMs: 1_000, jitter: 'none' }), 3);
    expect(delays(held, 7)).toEqual([100, 100, 100, 200, 400, 800, 1_000]);
    expect(held.description).toContain('first step held for 3 attempts');
    expect(delays(holdFirst(constant(7), 1), 3)).toEqual([7, 7, 7]);
  });

  it('holdFirst validates attempts', () => {
    expect(() => holdFirst(constant(1), 0)).toThrow("holdFirst: option 'attempts' must be an integer >= 1, got 0");
    expect(() => holdFirst(constant(1), 1.5)).toThrow(RangeError);
  });

  it('defaultReconnectSchedule: full jitter within 2 s for five attempts, then a ceiling growing x1.5 to 30 s', () => {
    const top = delays(defaultReconnectSchedule, 14, () => 1);
    expect(top).toEqual([2_000, 2_000, 2_000, 2_000, 2_000, 3_000, 4_500, 6_750, 10_125, 15_187.5, 22_781.25, 30_000, 30_000, 30_000]);
    expect(delays(defaultReconnectSchedule, 5, () => 0)).toEqual([0, 0, 0, 0, 0]);
    expect(DEFAULT_SCHEDULE).toBe(defaultReconnectSchedule);
  });
});
