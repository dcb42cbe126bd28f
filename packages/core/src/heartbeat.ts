import { performance } from 'node:perf_hooks';
import { rule, type OptionRules } from './options.js';

/** The one heartbeat option shape (net adds its `ping` message, ws pings with protocol frames). */
export interface HeartbeatOptions {
  /** A ping goes out after this long without receiving anything. Default 10 000 ms. */
  readonly intervalMs?: number;
  /** The connection is declared dead when nothing at all arrives this long after a ping. Default 5 000 ms. */
  readonly timeoutMs?: number;
}

export const HEARTBEAT_DEFAULTS = Object.freeze({ intervalMs: 10_000, timeoutMs: 5_000 });

/** The rules of `HeartbeatOptions`, for `checkOptions(where, heartbeat, rules, { path: 'heartbeat' })`. */
export const heartbeatOptionRules: OptionRules = { intervalMs: rule.timerMs(), timeoutMs: rule.timerMs() };

/** What the heartbeat asks of its connection; called as methods of the object given, so one object can serve without a closure per hook. */
export interface HeartbeatHooks {
  /** Sends one ping now. */
  ping(): void;
  /** Nothing at all arrived within `timeoutMs` of a ping: end the connection (the error says so, with code ETIMEDOUT). */
  dead(error: Error): void;
  /**
   * True while something sent waits for a pong to confirm it (ws: a pong
   * proves the peer read everything sent before its ping). A ping is then due
   * every `intervalMs` even while data arrives. Without this hook, only
   * silence calls for a ping.
   */
  awaitingConfirmation?(): boolean;
}

/**
 * Detects a half-open connection: the peer vanished (power loss, a NAT or
 * firewall forgot the flow, a proxy stalls) and TCP says nothing for minutes.
 * One timer per connection, whatever the transport:
 *
 * - anything received proves the peer alive (`heard()`, one clock read);
 * - after `intervalMs` of silence a ping goes out, and if nothing at all
 *   arrives within `timeoutMs` of it the connection is dead. So a stall is
 *   detected at most `intervalMs + timeoutMs` after the last byte received,
 *   whenever in the cycle it starts, and a connection that keeps receiving
 *   needs no ping for liveness;
 * - while sent data waits for a confirmation only a pong gives
 *   (`awaitingConfirmation`), a ping also goes out every `intervalMs`.
 */
export class Heartbeat {
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #hooks: HeartbeatHooks;
  #lastHeardAt = 0;
  #lastPingAt = 0;
  #pingSentAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number, timeoutMs: number, hooks: HeartbeatHooks) {
    this.#intervalMs = intervalMs;
    this.#timeoutMs = timeoutMs;
    this.#hooks = hooks;
  }

  start(): void {
    const now = performance.now();
    this.#lastHeardAt = now;
    this.#lastPingAt = now;
    this.#arm(this.#intervalMs);
  }

  /** Anything received from the peer. Kept to one clock read: it runs for every chunk or message. */
  heard(): void {
    this.#lastHeardAt = performance.now();
  }

  /**
   * The answer to a ping (a pong): proof of life like `heard()`, and the end
   * of the wait for it, so the next ping (when one is due for a
   * confirmation) need not wait for `timeoutMs` to pass.
   */
  answered(): void {
    const now = performance.now();
    this.#lastHeardAt = now;
    if (this.#pingSentAt === undefined || this.#timer === undefined) return;
    this.#pingSentAt = undefined;
    clearTimeout(this.#timer);
    this.#next(now);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pingSentAt = undefined;
  }

  #arm(delayMs: number): void {
    // Only waits: a heartbeat must never keep the process alive by itself.
    this.#timer = setTimeout(Heartbeat.#fire, delayMs, this).unref();
  }

  // Shared by every heartbeat (the timer passes it its heartbeat): no closure per arm.
  static #fire(heartbeat: Heartbeat): void {
    heartbeat.#check();
  }

  #check(): void {
    this.#timer = undefined;
    const now = performance.now();
    if (this.#pingSentAt !== undefined) {
      if (this.#lastHeardAt < this.#pingSentAt) {
        const silentMs = Math.round(now - this.#lastHeardAt);
        this.#hooks.dead(
          Object.assign(
            new Error(`heartbeat: nothing received for ${silentMs} ms (no answer ${this.#timeoutMs} ms after a ping); the connection is half-open`),
            { code: 'ETIMEDOUT' },
          ),
        );
        return;
      }
      this.#pingSentAt = undefined;
    }
    this.#next(now);
  }

  /** Arms the timer for the next ping, or sends it now if it is due. */
  #next(now: number): void {
    let dueInMs = this.#intervalMs - (now - this.#lastHeardAt);
    if (this.#hooks.awaitingConfirmation?.() === true) dueInMs = Math.min(dueInMs, this.#intervalMs - (now - this.#lastPingAt));
    if (dueInMs > 0) {
      this.#arm(dueInMs);
      return;
    }
    this.#pingSentAt = now;
    this.#lastPingAt = now;
    this.#arm(this.#timeoutMs);
    this.#hooks.ping();
  }
}
