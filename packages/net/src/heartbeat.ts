import { performance } from 'node:perf_hooks';

/**
 * Detects a half-open connection: the peer vanished (power loss, a NAT or
 * firewall forgot the flow, a proxy stalls) and TCP says nothing for minutes.
 * Any byte received proves the peer alive; after `intervalMs` without one a
 * ping is sent, and if nothing at all arrives within `timeoutMs` of it the
 * connection is declared dead. So a stall is detected at most
 * `intervalMs + timeoutMs` after the last byte received, and a busy
 * connection sends no pings at all.
 */
export class Heartbeat {
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #sendPing: () => void;
  readonly #onDead: (error: Error) => void;
  #lastReceivedAt = 0;
  #pingSentAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number, timeoutMs: number, sendPing: () => void, onDead: (error: Error) => void) {
    this.#intervalMs = intervalMs;
    this.#timeoutMs = timeoutMs;
    this.#sendPing = sendPing;
    this.#onDead = onDead;
  }

  start(): void {
    this.#lastReceivedAt = performance.now();
    this.#arm(this.#intervalMs);
  }

  /** Called for every chunk received; kept to one clock read because it runs on the hot path. */
  received(): void {
    this.#lastReceivedAt = performance.now();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delayMs: number): void {
    // Only waits: a heartbeat must never keep the process alive by itself.
    this.#timer = setTimeout(() => this.#check(), delayMs).unref();
  }

  #check(): void {
    this.#timer = undefined;
    const now = performance.now();
    if (this.#pingSentAt !== undefined) {
      if (this.#lastReceivedAt < this.#pingSentAt) {
        const silentMs = Math.round(now - this.#lastReceivedAt);
        this.#onDead(
          Object.assign(
            new Error(`heartbeat: nothing received for ${silentMs} ms (no answer ${this.#timeoutMs} ms after a ping); the connection is half-open`),
            { code: 'ETIMEDOUT' },
          ),
        );
        return;
      }
      this.#pingSentAt = undefined;
    }
    const idleMs = now - this.#lastReceivedAt;
    if (idleMs < this.#intervalMs) {
      this.#arm(this.#intervalMs - idleMs);
      return;
    }
    this.#pingSentAt = now;
    this.#arm(this.#timeoutMs);
    this.#sendPing();
  }
}
