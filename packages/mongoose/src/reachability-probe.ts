/* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- a failed ping rejects with the driver's error as it is */
import { classify, type Fault, type Schedule } from '@holdfast/core';
import { isClosedClient } from './mongo-faults.js';

export interface ProbeListener {
  /** The server answered: it is reachable. */
  reachable(): void;
  /** A probe failed; the next runs after `delayMs` (`attempt` is its number). */
  failed(fault: Fault, attempt: number, delayMs: number): void;
  /** The client was closed outside the handle: no probe can succeed, probing stopped. */
  clientClosed(fault: Fault): void;
}

/**
 * One `ping` at a time while the server cannot be reached, on a backoff
 * schedule, until one succeeds: a single probe per handle however many
 * operations wait. Keeps probing on faults that are not transient too (a
 * revoked password is fixed by an operator, and the driver keeps monitoring
 * anyway); stops only when the client itself was closed. Its timers are
 * unref'd: a probe never keeps the process alive.
 */
export class ReachabilityProbe {
  readonly #ping: () => Promise<unknown>;
  readonly #schedule: Schedule;
  readonly #random: () => number;
  readonly #timeoutMs: () => number;
  readonly #listener: ProbeListener;
  #run = 0;
  #timer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #previousDelayMs = 0;
  /** Probes sent, in all. */
  sent = 0;

  constructor(options: {
    ping: () => Promise<unknown>;
    schedule: Schedule;
    random: () => number;
    /** Longest a ping may take before it counts as failed (the driver's own server selection normally ends it first). */
    timeoutMs: () => number;
    listener: ProbeListener;
  }) {
    this.#ping = options.ping;
    this.#schedule = options.schedule;
    this.#random = options.random;
    this.#timeoutMs = options.timeoutMs;
    this.#listener = options.listener;
  }

  get running(): boolean {
    return this.#run % 2 === 1;
  }

  /** Starts probing at once, unless it already is. */
  start(): void {
    if (this.running) return;
    this.#run++;
    this.#attempt = 0;
    this.#previousDelayMs = 0;
    this.#probe(this.#run);
  }

  /** Stops probing; a ping in flight is ignored when it settles. */
  stop(): void {
    if (!this.running) return;
    this.#run++;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #probe(run: number): void {
    this.#attempt++;
    this.sent++;
    void this.#pingWithin(this.#timeoutMs()).then(
      () => {
        if (run !== this.#run) return;
        this.stop();
        this.#listener.reachable();
      },
      (error: unknown) => {
        if (run !== this.#run) return;
        const fault = classify(error, { phase: 'connect' });
        if (isClosedClient(error)) {
          this.stop();
          this.#listener.clientClosed(fault);
          return;
        }
        const delayMs = this.#nextDelay(fault);
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          if (run === this.#run) this.#probe(run);
        }, delayMs).unref();
        this.#listener.failed(fault, this.#attempt + 1, delayMs);
      },
    );
  }

  #pingWithin(timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(Object.assign(new Error(`the reachability probe (ping) got no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, timeoutMs).unref();
      // A ping that settles after its time limit is ignored (the promise has settled); one that throws at once is a failure.
      new Promise<unknown>((inner) => inner(this.#ping())).then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #nextDelay(fault: Fault): number {
    const delayMs = this.#schedule.next({ attempt: this.#attempt, previousDelayMs: this.#previousDelayMs, fault, random: this.#random });
    const safe = Number.isFinite(delayMs) && delayMs >= 0 ? Math.round(delayMs) : 1000;
    this.#previousDelayMs = safe;
    return safe;
  }
}
