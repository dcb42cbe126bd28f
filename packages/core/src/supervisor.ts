import { performance } from 'node:perf_hooks';
import { classify } from './classify/index.js';
import { numberLike } from './deprecation.js';
import { TypedEvents, type Listener } from './events.js';
import type { Fault } from './fault.js';
import type { ReconnectGiveUpEvent, ReconnectContext, ReconnectingEvent, ReconnectGiveUpReason, StateEvent } from './lifecycle-events.js';
import { checkOptions, MAX_TIMER_MS, optionError, rule, type OptionRules } from './options.js';
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

/**
 * The reconnect options every long-lived object takes, with the same names,
 * defaults and checks (`reconnectOptionRules`): the Supervisor's, passed on.
 */
export interface ReconnectOptions {
  /** Delay before each reconnect. Default `defaultReconnectSchedule` (full jitter over 2 s for five attempts, then x1.5 up to 30 s). */
  readonly schedule?: Schedule;
  /** A connection that stays open this long resets the backoff and the attempt count. Default 5 000 ms. */
  readonly minUptimeMs?: number;
  /** Give up after this many attempts without a stable connection. Default Infinity. */
  readonly maxAttempts?: number;
  /** Abort an attempt (and count it as a failure) after this long. Default 10 000 ms; Infinity disables. */
  readonly connectTimeoutMs?: number;
  /**
   * Asked after every failure: right after an open connection was lost
   * (`context.attempt` 0) and after every failed attempt (1, 2…); false gives
   * up. Default: always reconnect, even on faults that are not transient (for
   * a long-lived connection they are usually fixed by an operator, and the
   * process should heal without a restart). A transport may have its own
   * default (ws: the close-code policy).
   */
  readonly shouldReconnect?: (fault: Fault, context: ReconnectContext) => boolean;
  /** Uniform in [0, 1), for the schedule's jitter. Default `Math.random`. */
  readonly random?: () => number;
}

/** The checks of `ReconnectOptions`, for an object that takes them among its own options. */
export const reconnectOptionRules: OptionRules = {
  schedule: rule.schedule(),
  minUptimeMs: rule.number(0, MAX_TIMER_MS),
  maxAttempts: rule.integerOrInfinity(1),
  connectTimeoutMs: rule.timerMsOrInfinity(),
  shouldReconnect: rule.function('(fault, { attempt, closeCode? }) => boolean'),
  random: rule.function('returning a number in [0, 1)'),
};

/** Where a supervisor's `state`, `reconnecting` and `give-up` events go when it belongs to another object. */
export interface SupervisorEventSink {
  emit<K extends 'state' | 'reconnecting' | 'give-up'>(name: K, payload: SupervisorEvents[K]): void;
}

export interface SupervisorOptions<C> extends ReconnectOptions {
  /** Opens one connection; resolves once it is usable, rejects (or throws) when it cannot be. */
  readonly connect: (attempt: ConnectAttempt) => Promise<C>;
  /**
   * Releases a connection the supervisor no longer wants: the current one on
   * `lost()` and `close()`, and one that `connect()` delivered after its
   * attempt was abandoned (timed out or closed). Errors are reported as warnings.
   */
  readonly dispose?: (connection: C) => void | Promise<void>;
  /** Shown in events, to tell supervisors apart. Default `'supervisor'`. */
  readonly name?: string;
  /**
   * The events of the object that owns this supervisor (a ReconnectingSocket's
   * `TypedEvents`): its `state`, `reconnecting` and `give-up` events are
   * emitted there too, as the owner's, after the supervisor's own listeners.
   * Then the supervisor publishes nothing on a diagnostics channel itself, so
   * that each event is published once, on the owner's channel.
   */
  readonly forwardTo?: SupervisorEventSink;
}

interface SupervisorEventBase<E extends string> {
  readonly event: E;
  readonly name: string;
}

export interface SupervisorEvents {
  state: StateEvent<SupervisorState>;
  connecting: SupervisorEventBase<'connecting'> & { readonly attempt: number };
  /** The connection is up; read it from `supervisor.connection`. */
  open: SupervisorEventBase<'open'> & { readonly attempt: number };
  /** The open connection died. `willReconnect` is already decided: false means a give-up follows. */
  lost: SupervisorEventBase<'lost'> & { readonly fault: Fault; readonly uptimeMs: number; readonly willReconnect: boolean };
  /** A reconnect is scheduled: `attempt` is the number of the coming attempt, `fault` why it is needed. */
  reconnecting: ReconnectingEvent;
  'give-up': ReconnectGiveUpEvent;
  closed: SupervisorEventBase<'closed'> & { readonly reason: 'close' | 'give-up' };
}

/**
 * The same schedule as `defaultReconnectSchedule` (full jitter over 2 s for
 * five attempts, then x1.5 up to 30 s), under its old name: deprecated, use
 * `defaultReconnectSchedule`. It stays the identical object for one release.
 */
export const DEFAULT_SCHEDULE: Schedule = defaultReconnectSchedule;

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

const CONNECT_RULE = rule.function('({ attempt, signal }) => Promise of the connection');

const SUPERVISOR_RULES: OptionRules = {
  ...reconnectOptionRules,
  connect: CONNECT_RULE,
  dispose: rule.function('(connection) => void or a Promise'),
  name: rule.string(),
  forwardTo: rule.object('an object with emit(name, payload) (a TypedEvents)'),
};

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

/**
 * `shouldReconnect`'s second argument was the attempt number; it is now a
 * context object. One that is still compared or added as a number keeps
 * working, with a deprecation warning.
 */
function reconnectContext(attempt: number, closeCode: number | undefined): ReconnectContext {
  const context = closeCode === undefined ? { attempt } : { attempt, closeCode };
  return numberLike(
    context,
    attempt,
    'HOLDFAST_DEP001',
    'shouldReconnect(fault, attempt) is now shouldReconnect(fault, context): read the attempt number from context.attempt (the context also carries closeCode); using the context as a number works for one more release',
  );
}

export class Supervisor<C> {
  readonly name: string;

  readonly #connect: (attempt: ConnectAttempt) => Promise<C>;
  readonly #dispose: ((connection: C) => void | Promise<void>) | undefined;
  readonly #schedule: Schedule;
  readonly #minUptimeMs: number;
  readonly #maxAttempts: number;
  readonly #connectTimeoutMs: number;
  readonly #shouldReconnect: ((fault: Fault, context: ReconnectContext) => boolean) | undefined;
  readonly #random: () => number;
  readonly #events: TypedEvents<SupervisorEvents>;
  readonly #forwardTo: SupervisorEventSink | undefined;

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
    checkOptions('Supervisor', options, SUPERVISOR_RULES);
    const {
      connect,
      dispose,
      schedule = defaultReconnectSchedule,
      minUptimeMs = 5000,
      maxAttempts = Infinity,
      connectTimeoutMs = 10_000,
      shouldReconnect,
      name = 'supervisor',
      random = Math.random,
      forwardTo,
    } = options;
    if (typeof connect !== 'function') throw optionError('Supervisor', 'connect', connect, CONNECT_RULE.accepted);
    this.#connect = connect;
    this.#dispose = dispose;
    this.#schedule = schedule;
    this.#minUptimeMs = minUptimeMs;
    this.#maxAttempts = maxAttempts;
    this.#connectTimeoutMs = connectTimeoutMs;
    this.#shouldReconnect = shouldReconnect;
    this.name = name;
    this.#random = random;
    this.#forwardTo = forwardTo;
    this.#events = new TypedEvents<SupervisorEvents>(forwardTo === undefined ? CHANNELS : false);
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
  lost(error?: unknown, connection?: C, fault?: Fault, details?: { readonly closeCode?: number }): void {
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
    // Decided before 'lost' is emitted, so the event can say whether a reconnect follows.
    const giveUp = this.#decide(fault, details?.closeCode);
    if (!this.#moveTo('lost')) return;
    const step = this.#step;
    this.#events.emit('lost', { event: 'lost', name: this.name, fault, uptimeMs: Math.round(uptimeMs), willReconnect: giveUp === undefined });
    if (step === this.#step) this.#act(fault, giveUp);
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
    this.#act(fault, this.#decide(fault, undefined));
  }

  /** Why to give up after this fault, or undefined to reconnect. */
  #decide(fault: Fault, closeCode: number | undefined): ReconnectGiveUpReason | undefined {
    if (this.#attempt >= this.#maxAttempts) return 'max-attempts';
    return this.#wantsReconnect(fault, closeCode) ? undefined : 'should-reconnect';
  }

  #act(fault: Fault, giveUp: ReconnectGiveUpReason | undefined): void {
    if (giveUp === undefined) this.#wait(fault);
    else this.#giveUp(fault, giveUp);
  }

  #wantsReconnect(fault: Fault, closeCode: number | undefined): boolean {
    if (this.#shouldReconnect === undefined) return true;
    try {
      return this.#shouldReconnect(fault, reconnectContext(this.#attempt, closeCode));
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
    this.#emitShared('reconnecting', { event: 'reconnecting', name: this.name, attempt: this.#attempt + 1, delayMs, fault });
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
    // Whole milliseconds: what setTimeout waits anyway, and what the event reports.
    return Math.min(Math.round(delayMs), MAX_TIMER_MS);
  }

  #giveUp(fault: Fault, reason: ReconnectGiveUpReason): void {
    this.#emitShared('give-up', { event: 'give-up', name: this.name, attempts: this.#attempt, reason, fault });
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
    this.#emitShared('state', { event: 'state', name: this.name, from, to });
    return step === this.#step;
  }

  /** An event the owner (`forwardTo`) shares: the supervisor's listeners first, then the owner's, which publishes it. */
  #emitShared<K extends 'state' | 'reconnecting' | 'give-up'>(name: K, payload: SupervisorEvents[K]): void {
    this.#events.emit(name, payload);
    this.#forwardTo?.emit(name, payload);
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
