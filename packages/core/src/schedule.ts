import type { Fault } from './fault.js';
import { formatValue } from './options.js';

/**
 * Backoff schedules are plain immutable values: `next()` reads a context and
 * returns a delay, nothing is mutated, so one schedule can be shared by every
 * caller and tested without time passing. How many attempts to make is the
 * caller's option (retry, Supervisor), not the schedule's.
 */
export interface BackoffContext {
  /** 1 for the delay before the first retry (second attempt), 2 before the next… */
  readonly attempt: number;
  /** The delay this schedule returned last time (0 before the first retry). */
  readonly previousDelayMs: number;
  /** The fault that made the retry necessary, when there is one. */
  readonly fault?: Fault;
  /** Uniform in [0, 1); injectable so tests are deterministic. */
  readonly random: () => number;
}

export interface Schedule {
  /** Milliseconds to wait before the next attempt: finite and >= 0. */
  next(context: BackoffContext): number;
  /** A short description for events and error messages, e.g. `exponential(100ms x2 ≤30000ms, full jitter)`. */
  readonly description: string;
}

export type Jitter = 'full' | 'equal' | 'decorrelated' | 'none';

export interface ExponentialOptions {
  /** First delay (before jitter). Default 100 ms. */
  readonly initialMs?: number;
  /** Growth per attempt. Default 2. */
  readonly factor?: number;
  /** Ceiling for any single delay. Default 30 000 ms. */
  readonly maxMs?: number;
  /** Default `'full'` (AWS architecture blog: spreads a herd best for the least total wait). */
  readonly jitter?: Jitter;
}

function check(name: string, option: string, value: unknown, ok: boolean, accepted: string): void {
  if (!ok) throw new RangeError(`${name}: option '${option}' must be ${accepted}, got ${formatValue(value)}`);
}

const isNonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** `initialMs · factor^(attempt-1)`, capped at `maxMs`, then jittered. */
export function exponential(options: ExponentialOptions = {}): Schedule {
  const { initialMs = 100, factor = 2, maxMs = 30_000, jitter = 'full' } = options;
  check('exponential', 'initialMs', initialMs, isNonNegative(initialMs), 'a finite number >= 0');
  check('exponential', 'factor', factor, typeof factor === 'number' && Number.isFinite(factor) && factor >= 1, 'a finite number >= 1');
  check('exponential', 'maxMs', maxMs, isNonNegative(maxMs) && maxMs >= initialMs, `a finite number >= initialMs (${initialMs})`);
  check('exponential', 'jitter', jitter, ['full', 'equal', 'decorrelated', 'none'].includes(jitter), "'full', 'equal', 'decorrelated' or 'none'");
  const description = `exponential(${initialMs}ms x${factor} ≤${maxMs}ms, ${jitter === 'none' ? 'no' : jitter} jitter)`;
  return {
    description,
    next({ attempt, previousDelayMs, random }) {
      if (jitter === 'decorrelated') {
        // Each delay is drawn between the first delay and three times the previous one.
        const upper = Math.min(maxMs, Math.max(initialMs, previousDelayMs * 3));
        return Math.min(maxMs, initialMs + random() * (upper - initialMs));
      }
      const ceiling = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt - 1));
      switch (jitter) {
        case 'full':
          return random() * ceiling;
        case 'equal':
          return ceiling / 2 + (random() * ceiling) / 2;
        default:
          return ceiling;
      }
    },
  };
}

/** The same delay every time. */
export function constant(delayMs: number): Schedule {
  check('constant', 'delayMs', delayMs, isNonNegative(delayMs), 'a finite number >= 0');
  return { description: `constant(${delayMs}ms)`, next: () => delayMs };
}

/** `initialMs + stepMs · (attempt-1)`, capped at `maxMs`. */
export function linear(options: { initialMs?: number; stepMs?: number; maxMs?: number } = {}): Schedule {
  const { initialMs = 100, stepMs = 100, maxMs = 30_000 } = options;
  check('linear', 'initialMs', initialMs, isNonNegative(initialMs), 'a finite number >= 0');
  check('linear', 'stepMs', stepMs, isNonNegative(stepMs), 'a finite number >= 0');
  check('linear', 'maxMs', maxMs, isNonNegative(maxMs), 'a finite number >= 0');
  return {
    description: `linear(${initialMs}ms +${stepMs}ms ≤${maxMs}ms)`,
    next: ({ attempt }) => Math.min(maxMs, initialMs + stepMs * Math.max(0, attempt - 1)),
  };
}

/** Any schedule, never above `maxMs`. */
export function capped(schedule: Schedule, maxMs: number): Schedule {
  check('capped', 'maxMs', maxMs, isNonNegative(maxMs), 'a finite number >= 0');
  return { description: `${schedule.description} ≤${maxMs}ms`, next: (ctx) => Math.min(maxMs, schedule.next(ctx)) };
}

/**
 * `schedule`'s first step for the first `attempts` retries, then its growth
 * from there (attempt `attempts + 1` gets the schedule's second step). With
 * full jitter this is a plateau: a fleet that lost its peer at once keeps
 * drawing from the same window, so it comes back spread out, and a client
 * refused a few times during a short restart does not sit out a long wait.
 */
export function holdFirst(schedule: Schedule, attempts: number): Schedule {
  check('holdFirst', 'attempts', attempts, Number.isInteger(attempts) && attempts >= 1, 'an integer >= 1');
  const shift = attempts - 1;
  return {
    description: `${schedule.description}, first step held for ${attempts} attempts`,
    next: (context) => schedule.next({ ...context, attempt: Math.max(1, context.attempt - shift) }),
  };
}

/**
 * The peer's pushback wins over our own schedule: when the fault carries
 * `retryAfterMs` (Retry-After, gRPC pushback) that delay is used, up to
 * `capMs` (default 60 s). A Retry-After above the cap is clamped, and the
 * retry loop may still decide the deadline does not allow it.
 */
export function honorRetryAfter(schedule: Schedule, options: { capMs?: number } = {}): Schedule {
  const { capMs = 60_000 } = options;
  check('honorRetryAfter', 'capMs', capMs, isNonNegative(capMs), 'a finite number >= 0');
  return {
    description: `${schedule.description}, Retry-After ≤${capMs}ms`,
    next(ctx) {
      const pushback = ctx.fault?.retryAfterMs;
      if (pushback !== undefined && Number.isFinite(pushback) && pushback >= 0) return Math.min(capMs, pushback);
      return schedule.next(ctx);
    },
  };
}

/** The first `count` delays of a schedule, for tests, docs and `holdfast diagnose`. */
export function delays(schedule: Schedule, count: number, random: () => number = Math.random): number[] {
  const out: number[] = [];
  let previousDelayMs = 0;
  for (let attempt = 1; attempt <= count; attempt++) {
    previousDelayMs = schedule.next({ attempt, previousDelayMs, random });
    out.push(previousDelayMs);
  }
  return out;
}

/** Holdfast's default for request retries: full-jitter exponential from 100 ms, ≤ 10 s, honouring Retry-After ≤ 60 s. */
export const defaultRetrySchedule: Schedule = honorRetryAfter(exponential({ initialMs: 100, maxMs: 10_000 }));

/**
 * Holdfast's default for reconnecting long-lived connections (Supervisor,
 * `@holdfast/net`, `@holdfast/ws`): full jitter over 2 s for the first five
 * attempts, then x1.5 up to 30 s. In the net and ws herd benchmarks, 1000
 * clients through a 1 s server restart came back with about 10 % of them in
 * the busiest 100 ms and the last within 2 s; plain doubling from 1 s spread
 * them as well but left the last one out for 7.6 s (12.6 s in the worst round).
 */
export const defaultReconnectSchedule: Schedule = holdFirst(exponential({ initialMs: 2_000, factor: 1.5, maxMs: 30_000, jitter: 'full' }), 5);
