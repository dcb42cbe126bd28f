import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import type { Fault, RetryBudgetExhaustedEvent } from '@holdfast/core';
import { RetryBudget } from '@holdfast/core';

// The budget's window is pure arithmetic over a clock, so these tests drive the clock by hand.
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const resetFault: Fault = {
  kind: 'connection-reset',
  code: 'ECONNRESET',
  phase: 'request',
  transient: true,
  hint: 'the peer reset the connection',
  message: 'read ECONNRESET',
};
const refusedFault: Fault = { ...resetFault, kind: 'connection-refused', code: 'ECONNREFUSED', phase: 'connect', message: 'connect ECONNREFUSED' };

/** Every request fails once and asks for a retry; returns how many retries the budget allowed. */
function failEvery(budget: RetryBudget, requests: number, fault: Fault = resetFault): number {
  let allowed = 0;
  for (let i = 0; i < requests; i++) {
    budget.recordRequest();
    if (budget.tryWithdraw(fault)) allowed++;
  }
  return allowed;
}

describe('RetryBudget', () => {
  it('refunds: a flaky peer whose retries succeed never exhausts it; a dead one, whose retries fail, does', () => {
    const clock = manualClock();
    const flaky = new RetryBudget({ now: clock.now });
    const dead = new RetryBudget({ now: clock.now });
    let flakyRefused = 0;
    let deadAllowed = 0;
    // Every request fails once: for the flaky peer the retry succeeds and its cost comes back.
    for (let i = 0; i < 5000; i++) {
      flaky.recordRequest();
      if (flaky.tryWithdraw(resetFault)) flaky.refund(flaky.costOf(resetFault));
      else flakyRefused++;
      dead.recordRequest();
      if (dead.tryWithdraw(resetFault)) deadAllowed++;
    }
    expect(flakyRefused).toBe(0);
    expect(flaky.stats()).toMatchObject({ retries: 5000, refused: 0, refunded: 5000 });
    expect(deadAllowed).toBe(600);
    expect(flaky.costOf(refusedFault)).toBe(0.5);
    expect(flaky.costOf(resetFault)).toBe(1);
    expect(() => flaky.refund(-1)).toThrow('RetryBudget: refund() needs a finite number of tokens >= 0, got -1');
  });

  it('rejects unknown options with a hint', () => {
    expect(() => new RetryBudget({ ttl: 5 } as never)).toThrow("RetryBudget: unknown option 'ttl' (did you mean ttlMs?)");
  });

  it('bounds retries under a burst of failures by ratio × requests + the floor', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ ratio: 0.1, minRetriesPerSecond: 10, ttlMs: 10_000, now: clock.now });
    // Floor: 10/s over a 10 s window = 100 retries; deposits: 0.1 × 5000 = 500.
    const allowed = failEvery(budget, 5000);
    expect(allowed).toBe(600);
    expect(budget.stats()).toEqual({ available: expect.any(Number), requests: 5000, retries: 600, refused: 4400, refunded: 0 });
    expect(budget.available).toBeLessThan(1);
  });

  it('lets a quiet client retry up to the floor, then refuses', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ minRetriesPerSecond: 2, ttlMs: 5000, now: clock.now });
    expect(budget.available).toBe(10);
    let allowed = 0;
    while (budget.tryWithdraw()) allowed++;
    expect(allowed).toBe(10);
    expect(budget.tryWithdraw()).toBe(false);
  });

  it('charges connect-phase retries connectPhaseCost (they never reached the peer)', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ ratio: 0.1, minRetriesPerSecond: 1, ttlMs: 10_000, now: clock.now });
    expect(failEvery(budget, 1000, refusedFault)).toBe(220); // (10 + 100) / 0.5
    const fullPrice = new RetryBudget({ ratio: 0.1, minRetriesPerSecond: 1, ttlMs: 10_000, connectPhaseCost: 1, now: clock.now });
    expect(failEvery(fullPrice, 1000, refusedFault)).toBe(110);
    const free = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0, connectPhaseCost: 0, now: clock.now });
    expect(free.tryWithdraw(refusedFault)).toBe(true);
    expect(free.tryWithdraw(resetFault)).toBe(false);
  });

  it('lets deposits expire after ttlMs, so an old surplus cannot fund a storm', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ ratio: 0.5, minRetriesPerSecond: 1, ttlMs: 10_000, now: clock.now });
    for (let i = 0; i < 10_000; i++) budget.recordRequest();
    expect(budget.available).toBe(5010);
    clock.advance(5000);
    expect(budget.available).toBe(5010);
    clock.advance(5000);
    expect(budget.available).toBe(10); // only the floor is left
    expect(failEvery(budget, 0)).toBe(0);
    let allowed = 0;
    while (budget.tryWithdraw(resetFault)) allowed++;
    expect(allowed).toBe(10);
  });

  it('returns the floor once withdrawals have aged out of the window', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 1, ttlMs: 2000, now: clock.now });
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    clock.advance(1000);
    expect(budget.tryWithdraw()).toBe(false);
    clock.advance(1000);
    expect(budget.available).toBe(2);
    // A long silence clears every bucket at once.
    expect(budget.tryWithdraw()).toBe(true);
    clock.advance(3_600_000);
    expect(budget.available).toBe(2);
  });

  it('holds the long-run retry rate to ratio × request rate + minRetriesPerSecond', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ ratio: 0.1, minRetriesPerSecond: 10, ttlMs: 10_000, now: clock.now });
    const perSecond: number[] = [];
    // 200 requests/s for 60 s, every one failing: a storm the budget must hold to about 20 + 10 retries/s.
    for (let second = 0; second < 60; second++) {
      let allowed = 0;
      for (let i = 0; i < 200; i++) {
        clock.advance(5);
        budget.recordRequest();
        if (budget.tryWithdraw(resetFault)) allowed++;
      }
      perSecond.push(allowed);
    }
    const steady = perSecond.slice(20).reduce((a, b) => a + b, 0) / 40;
    expect(steady).toBeGreaterThan(27);
    expect(steady).toBeLessThan(34);
    // Any 10 s window: at most 0.1 × 2000 deposits + 100 floor, plus what the bucketed expiry frees early (< 1 bucket).
    for (let start = 0; start + 10 <= 60; start++) {
      const windowTotal = perSecond.slice(start, start + 10).reduce((a, b) => a + b, 0);
      expect(windowTotal).toBeLessThanOrEqual(200 + 100 + 30);
    }
  });

  it("emits 'exhausted' to listeners and on holdfast:budget, and counts every refusal", () => {
    const clock = manualClock();
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 1, ttlMs: 1000, name: 'api', now: clock.now });
    const seen: RetryBudgetExhaustedEvent[] = [];
    const published: unknown[] = [];
    const onPublish = (message: unknown): void => {
      published.push(message);
    };
    diagnosticsChannel.subscribe('holdfast:budget', onPublish);
    const off = budget.on('exhausted', (event) => seen.push(event));
    try {
      expect(budget.tryWithdraw(resetFault)).toBe(true);
      expect(budget.tryWithdraw(resetFault)).toBe(false);
      expect(budget.tryWithdraw()).toBe(false);
      expect(budget.tryWithdraw(refusedFault)).toBe(false);
    } finally {
      diagnosticsChannel.unsubscribe('holdfast:budget', onPublish);
    }
    expect(seen).toEqual([
      { event: 'exhausted', name: 'api', available: 0, cost: 1, fault: resetFault },
      { event: 'exhausted', name: 'api', available: 0, cost: 1 },
      { event: 'exhausted', name: 'api', available: 0, cost: 0.5, fault: refusedFault },
    ]);
    expect(published).toEqual(seen);
    expect(budget.stats()).toEqual({ available: 0, requests: 0, retries: 1, refused: 3, refunded: 0 });
    off();
    const listener = (): void => {
      throw new Error('must not be called');
    };
    budget.on('exhausted', listener);
    budget.off('exhausted', listener);
    expect(budget.tryWithdraw()).toBe(false);
    const unnamed = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0, now: clock.now });
    const unnamedEvents: RetryBudgetExhaustedEvent[] = [];
    unnamed.on('exhausted', (event) => unnamedEvents.push(event));
    unnamed.tryWithdraw();
    expect(unnamedEvents).toEqual([{ event: 'exhausted', available: 0, cost: 1 }]);
  });

  it('survives a clock that steps back or breaks, without resurrecting expired tokens', () => {
    let t = 50_000;
    const budget = new RetryBudget({ ratio: 1, minRetriesPerSecond: 0, ttlMs: 1000, now: () => t });
    budget.recordRequest();
    t = 10_000; // the wall clock was set back
    expect(budget.available).toBe(1);
    budget.recordRequest();
    expect(budget.available).toBe(2);
    t = Number.NaN;
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.available).toBe(1);
    t = 52_000;
    expect(budget.available).toBe(0);
    const brokenFromStart = new RetryBudget({ ratio: 1, minRetriesPerSecond: 0, now: () => Number.NaN });
    brokenFromStart.recordRequest();
    expect(brokenFromStart.available).toBe(1);
    // Negative clocks (a monotonic source with an odd origin) still map to valid buckets.
    let negative = -123_456;
    const fromNegative = new RetryBudget({ ratio: 1, minRetriesPerSecond: 0, ttlMs: 1000, now: () => negative });
    fromNegative.recordRequest();
    negative += 500;
    fromNegative.recordRequest();
    expect(fromNegative.available).toBe(2);
    negative += 1000;
    expect(fromNegative.available).toBe(0);
  });

  it('uses the documented defaults and the real clock without leaving a handle', () => {
    const before = process.getActiveResourcesInfo().length;
    const budget = new RetryBudget();
    expect([budget.ratio, budget.minRetriesPerSecond, budget.ttlMs, budget.connectPhaseCost, budget.name]).toEqual([0.1, 10, 10_000, 0.5, undefined]);
    expect(budget.available).toBe(100);
    for (let i = 0; i < 50; i++) budget.recordRequest();
    expect(budget.available).toBeCloseTo(105, 6);
    expect(process.getActiveResourcesInfo().length).toBe(before);
  });

  it.each([
    [{ ratio: -0.1 }, "RetryBudget: option 'ratio' must be a finite number from 0 to 1000, got -0.1"],
    [{ ratio: Number.NaN }, "RetryBudget: option 'ratio' must be a finite number from 0 to 1000, got NaN"],
    [{ ratio: '0.1' }, `RetryBudget: option 'ratio' must be a finite number from 0 to 1000, got "0.1"`],
    [{ minRetriesPerSecond: -1 }, "RetryBudget: option 'minRetriesPerSecond' must be a finite number >= 0, got -1"],
    [{ ttlMs: 1.5 }, "RetryBudget: option 'ttlMs' must be an integer from 10 to 3600000, got 1.5"],
    [{ ttlMs: 5 }, "RetryBudget: option 'ttlMs' must be an integer from 10 to 3600000, got 5"],
    [{ connectPhaseCost: 2 }, "RetryBudget: option 'connectPhaseCost' must be a number from 0 to 1, got 2"],
    [{ name: 42 }, "RetryBudget: option 'name' must be a string, got 42"],
    [{ now: 0 }, "RetryBudget: option 'now' must be a function returning milliseconds, got 0"],
  ])('rejects %o at construction', (options, message) => {
    expect(() => new RetryBudget(options as never)).toThrow(RangeError);
    expect(() => new RetryBudget(options as never)).toThrow(message);
  });
});
