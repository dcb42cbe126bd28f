import { afterEach, describe, expect, it } from 'vitest';
import { Heartbeat, type HeartbeatHooks } from '@holdfast/core/internal';
import { settle, watchTimers } from './support/live-timers.js';

/** A connection's side of the heartbeat, counting what it was asked to do. */
class Probe implements HeartbeatHooks {
  pings = 0;
  deaths: Error[] = [];
  unconfirmed = false;
  ping(): void {
    this.pings++;
  }
  dead(error: Error): void {
    this.deaths.push(error);
  }
  awaitingConfirmation(): boolean {
    return this.unconfirmed;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const running: Heartbeat[] = [];
afterEach(() => {
  for (const heartbeat of running.splice(0)) heartbeat.stop();
});

function start(intervalMs: number, timeoutMs: number, probe: Probe): Heartbeat {
  const heartbeat = new Heartbeat(intervalMs, timeoutMs, probe);
  running.push(heartbeat);
  heartbeat.start();
  return heartbeat;
}

/** Feeds the heartbeat as a busy peer would, every `everyMs`, for `forMs`. */
async function busy(heartbeat: Heartbeat, everyMs: number, forMs: number): Promise<void> {
  const until = performance.now() + forMs;
  while (performance.now() < until) {
    heartbeat.heard();
    await sleep(everyMs);
  }
}

describe('Heartbeat (the one timer net and ws share)', () => {
  it('a silent peer: one ping after intervalMs, then dead (ETIMEDOUT) once nothing arrived within timeoutMs of it', async () => {
    const probe = new Probe();
    const startedAt = performance.now();
    start(40, 40, probe);
    while (probe.deaths.length === 0) await sleep(5);
    const elapsed = performance.now() - startedAt;
    expect(probe.pings).toBe(1);
    expect(probe.deaths).toHaveLength(1);
    expect(probe.deaths[0]).toMatchObject({ code: 'ETIMEDOUT' });
    expect(probe.deaths[0]!.message).toMatch(/nothing received for \d+ ms/);
    // At least interval + timeout; timers on a loaded machine may only be late.
    expect(elapsed).toBeGreaterThanOrEqual(75);
  });

  it('a peer that keeps sending needs no ping and never dies', async () => {
    const probe = new Probe();
    const heartbeat = start(50, 50, probe);
    await busy(heartbeat, 5, 300);
    expect(probe.pings).toBe(0);
    expect(probe.deaths).toEqual([]);
  });

  it('while sent data waits for a pong, a ping goes out every intervalMs even though data arrives', async () => {
    const probe = new Probe();
    probe.unconfirmed = true;
    const heartbeat = start(50, 50, probe);
    await busy(heartbeat, 5, 320);
    // Six intervals fit; counted loosely for a loaded machine.
    expect(probe.pings).toBeGreaterThanOrEqual(3);
    expect(probe.pings).toBeLessThanOrEqual(7);
    expect(probe.deaths).toEqual([]);
  });

  it('a pong ends the wait for it: while confirmation is wanted, the next ping follows intervalMs later, not timeoutMs', async () => {
    const probe = new Probe();
    probe.unconfirmed = true;
    const heartbeat = start(20, 10_000, probe);
    const answering = (async () => {
      let answered = 0;
      while (answered < 4) {
        await sleep(2);
        if (probe.pings > answered) {
          answered = probe.pings;
          heartbeat.answered();
        }
      }
    })();
    await answering;
    // Four pings in well under one timeoutMs: each answer re-armed the interval.
    expect(probe.pings).toBeGreaterThanOrEqual(4);
    expect(probe.deaths).toEqual([]);
  });

  it('an answer to the ping keeps the connection; stop() leaves no timer and no later call', async () => {
    const timers = watchTimers();
    try {
      const probe = new Probe();
      const heartbeat = start(30, 60, probe);
      while (probe.pings === 0) await sleep(2);
      heartbeat.heard(); // the pong
      await sleep(100);
      expect(probe.deaths).toEqual([]);
      heartbeat.stop();
      const pings = probe.pings;
      await sleep(120);
      await settle();
      expect(probe.pings).toBe(pings);
      expect(timers.count()).toBe(0);
    } finally {
      timers.stop();
    }
  });
});
