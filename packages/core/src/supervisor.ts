import { performance } from 'node:perf_hooks';
import { classify } from './classify/index.js';
import { TypedEvents, type Listener } from './events.js';
import type { Fault } from './fault.js';
import { formatValue } from './options.js';
import { defaultReconnectSchedule, type Schedule } from './schedule.js';

/**
 * The reconnect state machine behind every long-lived connection (net, ws,
 * mongoose, otlp). The transport supplies `connect()` and reports `lost()`;
 * the supervisor decides when to try again, resets the backoff only after a
 * connection proved stable, and makes `close()` final.
 *
 * ```
 * idle → connecting → open → lost → waiting → connecting → …
 *             └──────(connect failed)─────┘
 * any state → closed   (close(), or give-up after maxAttempts / shouldReconnect)
 * ```
 */
export type SupervisorState = 'idle' | 'connecting' | 'open' | 'lost' | 'waiting' | 'closed';

export interface ConnectAttempt {
  /** 1 for the first attempt since start or since the last stable connection, then 2, 3… */
  readonly attempt: number;
  /** Aborted when the attempt times out or the supervisor closes: stop connecting and release the socket. */
  readonly signal: AbortSignal;
}

export interface SupervisorOptions<C> {
  /** Opens one connection; resolves once it is usable, rejects (or throws) when it cannot be. */
  readonly connect: (attempt: ConnectAttempt) => Promise<C>;
  /**
   * Releases a connection the supervisor no longer wants: the current one on
   * `lost()` and `close()`, and one that `connect()` delivered after its
   * attempt was abandoned (timed out or closed). Errors are reported as warnings.
   */
  readonly dispose?: (connection: C) => void | Promise<void>;
  /** Delay before each reconnect. Default `defaultReconnectSchedule` (full jitter over 2 s for five attempts, then x1.5 up to 30 s). */
  readonly schedule?: Schedule;
  /** A connection that stays open this long resets the backoff and the attempt count. Default 5 000 ms. */
  readonly minUptimeMs?: number;
  /** Give up after this many attempts without a stable connection. Default Infinity. */
  readonly maxAttempts?: number;
  /** Abort an attempt (and count it as a failure) after this long. Default 10 000 ms; Infinity disables. */
  readonly connectTimeoutMs?: number;
  /**
   * Asked after every failure (`attempt` = attempts since the last stable
   * connection, 0 right after one was lost); false gives up. Default: always
   * reconnect, even on faults that are not transient, see `DEFAULT_SCHEDULE`.
   */
  readonly shouldReconnect?: (fault: Fault, attempt: number) => boolean;
  /** Shown in events, to tell supervisors apart. Default `'supervisor'`. */
  readonly name?: string;
  /** Uniform in [0, 1), for the schedule's jitter. Default `Math.random`. */
  readonly random?: () => number;
}

interface SupervisorEventBase<E extends string> {
  readonly event: E;
  readonly name: string;
}

export interface SupervisorEvents {
  state: SupervisorEventBase<'state'> & { readonly from: SupervisorState; readonly to: SupervisorState };
  connecting: SupervisorEventBase<'connecting'> & { readonly attempt: number };
  /** The connection is up; read it from `supervisor.connection`. */
  open: SupervisorEventBase<'open'> & { readonly attempt: number };
  lost: SupervisorEventBase<'lost'> & { readonly fault: Fault; readonly uptimeMs: number };
  /** A reconnect is scheduled: `attempt` is the number of the coming attempt, `fault` why it is needed. */
  reconnecting: SupervisorEventBase<'reconnecting'> & { readonly attempt: number; readonly delayMs: number; readonly fault: Fault };
  'give-up': SupervisorEventBase<'give-up'> & {
    readonly attempts: number;
    readonly fault: Fault;
    readonly reason: 'max-attempts' | 'should-reconnect';
  };
  closed: SupervisorEventBase<'closed'> & { readonly reason: 'close' | 'give-up' };
}

/**
 * `defaultReconnectSchedule`: full jitter over 2 s for five attempts, then
 * x1.5 up to 30 s. A restarting server is back within seconds, a fleet of
 * clients that lost it at once spreads its reconnects over 2 s instead of
 * arriving together, and a long outage costs one attempt per client every
 * ~15 s on average. Faults that are not transient (a bad certificate, an
 * unknown host) are retried too by default: for a long-lived connection they
 * are usually fixed by an operator, and the process should heal without a
 * restart. `shouldReconnect` changes that.
 */
export const DEFAULT_SCHEDULE: Schedule = defaultReconnectSchedule;

// setTimeout fires at once (with a warning) above 2^31-1 ms.
const MAX_TIMER_MS = 2_147_483_647;
// A schedule that throws or returns nonsense must neither stop reconnecting nor make it spin.
const FALLBACK_DELAY_MS = 1000;

const CLOSED_FAULT: Fault = {
  kind: 'closed',
  code: 'HOLDFAST_CONNECTION_CLOSED',
  phase: 'idle',
  transient: true,
  hint: 'the connection was closed without an error (the peer or the network ended it); reconnecting',
  message: 'connection closed',
};

function check(option: string, value: unknown, ok: boolean, accepted: string): void {
  if (!ok) throw new RangeError(`Supervisor: option '${option}' must be ${accepted}, got ${formatValue(value)}`);
}

const isNonNegative = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value) && value >= 0;

function warn(message: string, error: unknown): void {
  const detail = error instanceof Error ? error : new Error(String(error));
  process.emitWarning(`${message}: ${detail.message}`, { type: 'HoldfastWarning', detail: detail.stack });
}

// One object for every supervisor: each long-lived connection owns one.
const CHANNELS = {
  state: 'reconnect',
  connecting: 'reconnect',
  open: 'reconnect',
  lost: 'reconnect',
  reconnecting: 'reconnect',
  'give-up': 'reconnect',
  closed: 'reconnect',
} as const satisfies { readonly [K in keyof SupervisorEvents]: string };

interface PendingAttempt {
  readonly attempt: number;
  readonly controller: AbortController;
  timer: NodeJS.Timeout | undefined;
}

export class Supervisor<C> {
  readonly name: string;

  readonly #connect: (attempt: ConnectAttempt) => Promise<C>;
  readonly #dispose: ((connection: C) => void | Promise<void>) | undefined;
  readonly #schedule: Schedule;
  readonly #minUptimeMs: number;
  readonly #maxAttempts: number;
  readonly #connectTimeoutMs: number;
  readonly #shouldReconnect: ((fault: Fault, attempt: number) => boolean) | undefined;
  readonly #random: () => number;
  readonly #events = new TypedEvents<SupervisorEvents>(CHANNELS);

  #state: SupervisorState = 'idle';
  // Bumped on every transition: a step that emitted an event checks it to learn whether a listener moved the machine on.
  #step = 0;
  #connection: C | undefined;
  #openedAt = 0;
  /** Connect attempts since start or since the last stable connection. */
  #attempt = 0;
  /** Waits scheduled since then: the schedule's `attempt`. */
  #waits = 0;
  #previousDelayMs = 0;
  #waitTimer: NodeJS.Timeout | undefined;
  #pending: PendingAttempt | undefined;
  // Every connect() not yet settled (current or abandoned) and every dispose() not yet done: close() waits for them.
  readonly #unsettled = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;

  constructor(options: SupervisorOptions<C>) {
    check('options', options, typeof options === 'object' && (options as unknown) !== null, 'an object');
    const {
      connect,
      dispose,
      schedule = DEFAULT_SCHEDULE,
      minUptimeMs = 5000,
      maxAttempts = Infinity,
      connectTimeoutMs = 10_000,
      shouldReconnect,
      name = 'supervisor',
      random = Math.random,
    } = options;
    check('connect', connect, typeof connect === 'function', 'a function returning a Promise of the connection');
    check('dispose', dispose, dispose === undefined || typeof dispose === 'function', 'a function');
    check(
      'schedule',
      schedule,
      typeof schedule === 'object' && (schedule as unknown) !== null && typeof (schedule as Partial<Schedule>).next === 'function',
      'a Schedule (exponential(), constant()…)',
    );
    check('minUptimeMs', minUptimeMs, isNonNegative(minUptimeMs), 'a finite number >= 0');
    check('maxAttempts', maxAttempts, (Number.isInteger(maxAttempts) && maxAttempts >= 1) || maxAttempts === Infinity, 'an integer >= 1 or Infinity');
    check(
      'connectTimeoutMs',
      connectTimeoutMs,
      (isNonNegative(connectTimeoutMs) && connectTimeoutMs > 0 && connectTimeoutMs <= MAX_TIMER_MS) || connectTimeoutMs === Infinity,
      `a number > 0 and <= ${MAX_TIMER_MS}, or Infinity`,
    );
    check('shouldReconnect', shouldReconnect, shouldReconnect === undefined || typeof shouldReconnect === 'function', 'a function');
    check('name', name, typeof name === 'string' && name.length > 0, 'a non-empty string');
    check('random', random, typeof random === 'function', 'a function returning a number in [0, 1)');
    this.#connect = connect;
    this.#dispose = dispose;
    this.#schedule = schedule;
    this.#minUptimeMs = minUptimeMs;
    this.#maxAttempts = maxAttempts;
    this.#connectTimeoutMs = connectTimeoutMs;
    this.#shouldReconnect = shouldReconnect;
    this.name = name;
    this.#random = random;
  }

  get state(): SupervisorState {
    return this.#state;
  }

  /** The open connection, or undefined in any other state. */
  get connection(): C | undefined {
    return this.#connection;
  }

  /** Makes the first attempt. Does nothing unless the supervisor is idle. */
  start(): void {
    if (this.#state === 'idle') this.#attemptConnect();
  }

  /**
   * The transport's report that the open connection died. Ignored unless the
   * supervisor is open, and ignored when `connection` is given and is not the
   * current one (a late report about an older connection). The connection is
   * disposed, and a reconnect is scheduled or the supervisor gives up.
   *
   * `fault`, when given, is what happened as the transport already knows it
   * (a WebSocket close code, a heartbeat timeout: things an error object
   * cannot say): it is used as it is in the events, the schedule and
   * `shouldReconnect`, and `error` is not classified.
   */
  lost(error?: unknown, connection?: C, fault?: Fault): void {
    if (this.#state !== 'open') return;
    if (connection !== undefined && connection !== this.#connection) return;
    const uptimeMs = performance.now() - this.#openedAt;
    fault ??= error === undefined ? CLOSED_FAULT : classify(error);
    const dead = this.#connection as C;
    this.#connection = undefined;
    void this.#release(dead);
    if (uptimeMs >= this.#minUptimeMs) {
      this.#attempt = 0;
      this.#waits = 0;
      this.#previousDelayMs = 0;
    }
    if (!this.#moveTo('lost')) return;
    const step = this.#step;
    this.#events.emit('lost', { event: 'lost', name: this.name, fault, uptimeMs });
    if (step === this.#step) this.#afterFailure(fault);
  }

  /** Skips the current backoff wait (for instance when the network is known to be back). Does nothing in other states. */
  reconnectNow(): void {
    if (this.#state !== 'waiting') return;
    clearTimeout(this.#waitTimer);
    this.#waitTimer = undefined;
    this.#attemptConnect();
  }

  /**
   * Final: cancels the wait, aborts an attempt in flight, disposes the open
   * connection, and never connects again. Resolves once every connect() still
   * running has settled (connect() must honour its signal) and every dispose()
   * has finished, so nothing is left behind. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) this.#finish('close');
    return this.#closing as Promise<void>;
  }

  /** Adds a listener; returns a function that removes it. Every event is also published on `holdfast:reconnect`. */
  on<K extends keyof SupervisorEvents>(name: K, listener: Listener<SupervisorEvents[K]>): () => void {
    return this.#events.on(name, listener);
  }

  once<K extends keyof SupervisorEvents>(name: K, listener: Listener<SupervisorEvents[K]>): () => void {
    return this.#events.once(name, listener);
  }

  off<K extends keyof SupervisorEvents>(name: K, listener: Listener<SupervisorEvents[K]>): void {
    this.#events.off(name, listener);
  }

  #attemptConnect(): void {
    const attempt = ++this.#attempt;
    const pending: PendingAttempt = { attempt, controller: new AbortController(), timer: undefined };
    this.#pending = pending;
    if (!this.#moveTo('connecting')) return;
    const step = this.#step;
    this.#events.emit('connecting', { event: 'connecting', name: this.name, attempt });
    if (step !== this.#step) return;
    if (this.#connectTimeoutMs !== Infinity) {
      pending.timer = setTimeout(() => this.#onTimeout(pending), this.#connectTimeoutMs).unref();
    }
    // The async wrapper turns a connect() that throws synchronously into a rejection like any other.
    const result = (async () => this.#connect({ attempt, signal: pending.controller.signal }))();
    void this.#track(
      result.then(
        (connection) => this.#onConnected(pending, connection),
        (error: unknown) => this.#onConnectFailed(pending, error),
      ),
      'handling a connect() result',
    );
  }

  #onConnected(pending: PendingAttempt, connection: C): Promise<void> | undefined {
    clearTimeout(pending.timer);
    if (pending !== this.#pending) return this.#release(connection);
    this.#pending = undefined;
    this.#connection = connection;
    this.#openedAt = performance.now();
    if (!this.#moveTo('open')) return undefined;
    this.#events.emit('open', { event: 'open', name: this.name, attempt: pending.attempt });
    return undefined;
  }

  #onConnectFailed(pending: PendingAttempt, error: unknown): void {
    clearTimeout(pending.timer);
    // An abandoned attempt (timed out, or closed) was already accounted for.
    if (pending !== this.#pending) return;
    this.#pending = undefined;
    this.#afterFailure(classify(error, { phase: 'connect' }));
  }

  // Runs only while `pending` is current: every way out of an attempt clears this timer.
  #onTimeout(pending: PendingAttempt): void {
    this.#pending = undefined;
    const error = Object.assign(new Error(`${this.name}: connect attempt ${pending.attempt} timed out after ${this.#connectTimeoutMs} ms`), {
      code: 'ETIMEDOUT',
    });
    pending.controller.abort(error);
    this.#afterFailure(classify(error, { phase: 'connect' }));
  }

  #afterFailure(fault: Fault): void {
    if (this.#attempt >= this.#maxAttempts) {
      this.#giveUp(fault, 'max-attempts');
    } else if (!this.#wantsReconnect(fault)) {
      this.#giveUp(fault, 'should-reconnect');
    } else {
      this.#wait(fault);
    }
  }

  #wantsReconnect(fault: Fault): boolean {
    if (this.#shouldReconnect === undefined) return true;
    try {
      return this.#shouldReconnect(fault, this.#attempt);
    } catch (error) {
      warn(`Supervisor '${this.name}': shouldReconnect threw, reconnecting anyway`, error);
      return true;
    }
  }

  #wait(fault: Fault): void {
    this.#waits++;
    const delayMs = this.#nextDelay(fault);
    this.#previousDelayMs = delayMs;
    if (!this.#moveTo('waiting')) return;
    this.#waitTimer = setTimeout(() => {
      this.#waitTimer = undefined;
      this.#attemptConnect();
    }, delayMs).unref();
    this.#events.emit('reconnecting', { event: 'reconnecting', name: this.name, attempt: this.#attempt + 1, delayMs, fault });
  }

  #nextDelay(fault: Fault): number {
    let delayMs: number;
    try {
      delayMs = this.#schedule.next({ attempt: this.#waits, previousDelayMs: this.#previousDelayMs, fault, random: this.#random });
    } catch (error) {
      warn(`Supervisor '${this.name}': the schedule threw, waiting ${FALLBACK_DELAY_MS} ms`, error);
      return FALLBACK_DELAY_MS;
    }
    if (typeof delayMs !== 'number' || Number.isNaN(delayMs) || delayMs < 0) return FALLBACK_DELAY_MS;
    return Math.min(delayMs, MAX_TIMER_MS);
  }

  #giveUp(fault: Fault, reason: 'max-attempts' | 'should-reconnect'): void {
    this.#events.emit('give-up', { event: 'give-up', name: this.name, attempts: this.#attempt, fault, reason });
    if (this.#closing === undefined) this.#finish('give-up');
  }

  /** Moves to `closed` for good and releases everything; `#closing` settles once nothing is left running. */
  #finish(reason: 'close' | 'give-up'): void {
    clearTimeout(this.#waitTimer);
    this.#waitTimer = undefined;
    const pending = this.#pending;
    if (pending !== undefined) {
      this.#pending = undefined;
      clearTimeout(pending.timer);
      pending.controller.abort(Object.assign(new Error(`${this.name}: closed while connecting`), { name: 'AbortError', code: 'ABORT_ERR' }));
    }
    const connection = this.#connection;
    if (this.#state === 'open') {
      this.#connection = undefined;
      void this.#release(connection as C);
    }
    this.#closing = this.#settleAll();
    this.#moveTo('closed');
    this.#events.emit('closed', { event: 'closed', name: this.name, reason });
    this.#events.clear();
  }

  async #settleAll(): Promise<void> {
    while (this.#unsettled.size > 0) await Promise.all(this.#unsettled);
  }

  #moveTo(to: SupervisorState): boolean {
    const from = this.#state;
    this.#state = to;
    const step = ++this.#step;
    this.#events.emit('state', { event: 'state', name: this.name, from, to });
    return step === this.#step;
  }

  /** Disposes a connection; the returned promise never rejects and is awaited by close(). */
  #release(connection: C): Promise<void> | undefined {
    const dispose = this.#dispose;
    if (dispose === undefined) return undefined;
    return this.#track((async () => dispose(connection))(), 'dispose');
  }

  #track(work: Promise<unknown>, what: string): Promise<void> {
    const settled = work.then(
      () => undefined,
      (error: unknown) => warn(`Supervisor '${this.name}': ${what} failed`, error),
    );
    this.#unsettled.add(settled);
    void settled.then(() => this.#unsettled.delete(settled));
    return settled;
  }
}
