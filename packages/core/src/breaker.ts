import Opossum from 'opossum';
import { classify } from './classify/index.js';
import { BreakerOpenError, HoldfastError } from './errors.js';
import { TypedEvents, type Listener } from './events.js';
import type { Fault } from './fault.js';
import { ports } from './breaker-port.js';
import { MAX_TIMER_MS, checkOptions, formatValue, optionError, rule, type OptionRule } from './options.js';

/**
 * A circuit breaker: it opens when the peer looks down, and then calls fail
 * fast with `BreakerOpenError` without touching the peer; after
 * `resetTimeoutMs` it lets one probe through (half-open), and closes again
 * when the probe succeeds. Optionally the wait grows after each failed probe
 * (`maxResetTimeoutMs`), and a busy caller probes sooner, after a number of
 * refused calls (`probeAfterRejections`).
 *
 * It opens on either of two signs that the peer is down rather than flaky
 * (docs/decisions/0005-flaky-or-down.md):
 * - `consecutiveFailures` calls failed in a row with no success between them
 *   (Finagle's failure accrual, Envoy's consecutive-5xx ejection): a dead peer
 *   gives an unbroken run at once, a flaky one that answers even every other
 *   call almost never does;
 * - more than `failureThresholdPercent` of the window's operations failed,
 *   counting each operation once by its final outcome: used with a retry
 *   policy (`RetryPolicy({ breaker })`), an operation that failed once and
 *   succeeded on its retry is a success, so flakiness that retries absorb
 *   never opens it. Used alone, each `execute()` is one operation.
 *
 * opossum keeps the rolling window and the reset timer underneath; holdfast
 * decides what counts as a failure (only faults that say something about the
 * peer: a caller's abort or a 404 does not), refuses calls while open, and
 * runs the probes.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Why the breaker opened. */
export type BreakerOpenReason = 'consecutive-failures' | 'failure-rate' | 'probe-failed';

export interface BreakerOptions {
  /** Shown in events and errors. Default `'breaker'`. */
  readonly name?: string;
  /** Opens after this many failed calls in a row, with no success between them. Default 20; `Infinity` turns the rule off. */
  readonly consecutiveFailures?: number;
  /** Opens when more than this share of the window's operations failed (by final outcome). Default 50 (%). */
  readonly failureThresholdPercent?: number;
  /** No failure-rate decision before this many operations in the window (opossum's `volumeThreshold`). Default 10. */
  readonly minimumRequests?: number;
  /** Length of the rolling window. Default 10 000 ms. */
  readonly windowMs?: number;
  /** The window moves in this many steps; `windowMs` must divide evenly by it. Default 10. */
  readonly windowBuckets?: number;
  /** How long the breaker stays open before it lets a probe through. Default 5 000 ms. */
  readonly resetTimeoutMs?: number;
  /**
   * Ceiling of a growing wait: each failed probe doubles the open time (drawn
   * between half and all of it, never below `resetTimeoutMs`) up to this; a
   * success starts again from `resetTimeoutMs`. Default `resetTimeoutMs`
   * (a fixed wait).
   */
  readonly maxResetTimeoutMs?: number;
  /**
   * While open, a probe is also let through once this many calls were refused
   * since the breaker (re)opened, though never sooner than `resetTimeoutMs`:
   * a busy caller notices a recovered peer within a few refused calls, and
   * probes stay at most one per this many calls. Default `Infinity` (only the
   * wait lets a probe through).
   */
  readonly probeAfterRejections?: number;
  /**
   * Whether a fault counts against the peer. Default: everything except
   * non-transient HTTP statuses (4xx other than 408/429: the peer answered).
   * An abort and `circuit-open` never count, whatever this says.
   */
  readonly isFailure?: (fault: Fault) => boolean;
}

interface BreakerEventBase<E extends string> {
  readonly event: E;
  readonly name: string;
}

export interface BreakerEvents {
  'state-change': BreakerEventBase<'state-change'> & { readonly from: BreakerState; readonly to: BreakerState };
  /** The breaker opened: `fault` is what tripped it, `reason` which rule, `retryAt` (epoch ms) when a probe will be let through. */
  open: BreakerEventBase<'open'> & { readonly fault: Fault | undefined; readonly reason: BreakerOpenReason; readonly retryAt: number };
  'half-open': BreakerEventBase<'half-open'>;
  close: BreakerEventBase<'close'>;
  /** A call failed fast with `BreakerOpenError`. */
  reject: BreakerEventBase<'reject'> & { readonly retryAt: number };
}

export interface BreakerStats {
  readonly state: BreakerState;
  /** Operations counted within the rolling window (by final outcome). */
  readonly windowRequests: number;
  /** Operations within the rolling window whose final outcome counted as a failure. */
  readonly windowFailures: number;
  /** Failed calls since the last success (the `consecutiveFailures` rule's count). */
  readonly consecutiveFailures: number;
  /** Since creation: calls (attempts) that resolved. */
  readonly successes: number;
  /** Since creation: calls whose fault counted against the peer. */
  readonly failures: number;
  /** Since creation: calls that rejected with a fault that did not count (aborts, 4xx, isFailure() false). */
  readonly ignored: number;
  /** Since creation: calls failed fast with `BreakerOpenError`. */
  readonly rejected: number;
}

type Action = () => Promise<unknown>;

/** The default `isFailure`: a peer that answered with a definitive 4xx is alive. */
export function countsAgainstPeer(fault: Fault): boolean {
  return !(fault.kind === 'http-status' && !fault.transient);
}

/** Faults that tell nothing about the peer: the caller gave up, or another breaker refused. */
const saysNothingAboutPeer = (fault: Fault): boolean => fault.kind === 'aborted' || fault.kind === 'circuit-open';

/**
 * The open time before probe number `failedProbes + 1`: `initialMs` first,
 * then doubled per failed probe up to `maxMs` and drawn between half and all
 * of that ceiling (never below `initialMs`), so breakers that opened together
 * do not probe together. `random` is uniform in [0, 1).
 */
export function breakerResetDelay(initialMs: number, maxMs: number, failedProbes: number, random: () => number): number {
  if (failedProbes <= 0 || maxMs <= initialMs) return initialMs;
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(failedProbes, 31));
  return Math.max(initialMs, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}

// An operation's final failure, reported to opossum's window only (its attempts were counted already).
class FinalOutcome extends Error {
  constructor(readonly error: unknown) {
    super('final outcome');
  }
}

const settledOk = (): Promise<void> => Promise.resolve();
const ignore = (): void => {};

const RULES: Record<keyof BreakerOptions, OptionRule> = {
  name: rule.string(),
  consecutiveFailures: rule.integerOrInfinity(1),
  failureThresholdPercent: {
    test: (v) => typeof v === 'number' && v >= 0 && v < 100,
    accepted: 'a number >= 0 and < 100 (the breaker opens when more than this share failed)',
  },
  minimumRequests: rule.integer(1),
  windowMs: {
    test: (v) => Number.isInteger(v) && (v as number) >= 10 && (v as number) <= MAX_TIMER_MS,
    accepted: `an integer from 10 to ${MAX_TIMER_MS}`,
  },
  windowBuckets: rule.integer(1, 1000),
  resetTimeoutMs: rule.integer(1, MAX_TIMER_MS),
  // Its range depends on resetTimeoutMs: checked once the defaults are known.
  maxResetTimeoutMs: { test: (v) => typeof v === 'number', accepted: 'a number of milliseconds' },
  probeAfterRejections: {
    test: (v) => v === Number.POSITIVE_INFINITY || (Number.isInteger(v) && (v as number) >= 1),
    accepted: 'an integer >= 1, or Infinity (only the wait lets a probe through)',
  },
  isFailure: rule.function('(fault) => boolean'),
};

/**
 * Checks breaker options as `new CircuitBreaker()` does, without making one:
 * for an object that takes them as a nested option (`path`, e.g. `'breaker'`),
 * so the error names the option the user wrote. Throws TypeError/RangeError.
 */
export function checkBreakerOptions(where: string, options: unknown, path?: string): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${where}: ${path === undefined ? 'options' : `option '${path}'`} must be an object, got ${formatValue(options)}`);
  }
  checkOptions(where, options, RULES, path === undefined ? {} : { path });
  const { windowMs = 10_000, windowBuckets = 10, resetTimeoutMs = 5000, maxResetTimeoutMs = resetTimeoutMs } = options as BreakerOptions;
  const prefix = path === undefined ? '' : `${path}.`;
  if (windowMs % windowBuckets !== 0 || windowMs / windowBuckets < 10) {
    throw optionError(
      where,
      `${prefix}windowBuckets`,
      windowBuckets,
      `an integer from 1 to 1000 that divides windowMs (${windowMs}) into buckets of at least 10 ms`,
    );
  }
  if (!Number.isInteger(maxResetTimeoutMs) || maxResetTimeoutMs < resetTimeoutMs || maxResetTimeoutMs > MAX_TIMER_MS) {
    throw optionError(
      where,
      `${prefix}maxResetTimeoutMs`,
      maxResetTimeoutMs,
      `an integer from resetTimeoutMs (${formatValue(resetTimeoutMs)}) to ${MAX_TIMER_MS}`,
    );
  }
}

export class CircuitBreaker {
  readonly name: string;
  readonly consecutiveFailures: number;
  readonly resetTimeoutMs: number;
  readonly maxResetTimeoutMs: number;
  readonly probeAfterRejections: number;

  readonly #opossum: Opossum<[Action]>;
  readonly #isFailure: (fault: Fault) => boolean;
  readonly #windowMs: number;
  readonly #events = new TypedEvents<BreakerEvents>({
    'state-change': 'breaker',
    open: 'breaker',
    'half-open': 'breaker',
    close: 'breaker',
    reject: 'breaker',
  });
  // opossum rejects with its own Error on a fail-fast; these are those errors, to be replaced by BreakerOpenError.
  readonly #ownRejections = new WeakSet<object>();
  #state: BreakerState = 'closed';
  #retryAt = 0;
  #tripFault: Fault | undefined;
  #openReason: BreakerOpenReason = 'failure-rate';
  #closed = false;
  // opossum half-opens after resetTimeoutMs; a longer (grown) wait holds the probe back with this timer.
  #probeTimer: NodeJS.Timeout | undefined;
  #failedProbes = 0;
  #probeAborted = false;
  #refusedSinceOpen = 0;
  #probing = false;
  #inARow = 0;
  // A call succeeded since the breaker was made or last opened.
  #answered = false;
  // Until then a failure is recent: operations are reported to the window whatever their outcome.
  #watchUntil = 0;
  #successes = 0;
  #failures = 0;
  #ignored = 0;
  #rejected = 0;

  constructor(options: BreakerOptions = {}) {
    checkBreakerOptions('CircuitBreaker', options);
    const {
      name = 'breaker',
      consecutiveFailures = 20,
      failureThresholdPercent = 50,
      minimumRequests = 10,
      windowMs = 10_000,
      windowBuckets = 10,
      resetTimeoutMs = 5000,
      maxResetTimeoutMs = resetTimeoutMs,
      probeAfterRejections = Number.POSITIVE_INFINITY,
      isFailure = countsAgainstPeer,
    } = options;
    this.name = name;
    this.consecutiveFailures = consecutiveFailures;
    this.resetTimeoutMs = resetTimeoutMs;
    this.maxResetTimeoutMs = maxResetTimeoutMs;
    this.probeAfterRejections = probeAfterRejections;
    this.#isFailure = isFailure;
    this.#windowMs = windowMs;
    this.#opossum = new Opossum<[Action]>((fn) => fn(), {
      name,
      errorThresholdPercentage: failureThresholdPercent,
      volumeThreshold: minimumRequests,
      rollingCountTimeout: windowMs,
      rollingCountBuckets: windowBuckets,
      resetTimeout: resetTimeoutMs,
      // Deadlines belong to the caller (AbortSignal, retry()); an opossum timeout would leave the call running.
      timeout: false,
      // Snapshots add an interval timer per breaker that nothing here reads; percentiles cost a sort per bucket.
      enableSnapshots: false,
      rollingPercentilesEnabled: false,
      errorFilter: (error: unknown) => !this.#countsInWindow(error),
    });
    this.#opossum.on('open', () => this.#onOpen());
    this.#opossum.on('halfOpen', () => this.#onHalfOpen());
    this.#opossum.on('close', () => this.#onClose());
    this.#opossum.on('reject', (error: Error) => this.#onReject(error));
    ports.set(this, {
      state: () => this.#state,
      alive: () => this.#state === 'closed' && this.#inARow < Math.ceil(this.consecutiveFailures / 2),
      answered: () => this.#answered,
      attempt: (fn) => this.#attempt(fn, false),
      succeeded: () => this.#attemptSucceeded(),
      failed: (error) => this.#attemptFailed(error),
      settle: (error) => this.#settle(error),
    });
  }

  get state(): BreakerState {
    return this.#state;
  }

  /**
   * Runs `fn` through the breaker as one operation. Resolves or rejects with
   * what `fn` does; while open (or while a half-open probe is in flight)
   * rejects at once with `BreakerOpenError` and `fn` is not called.
   */
  execute<T>(fn: () => Promise<T>): Promise<T> {
    if (typeof fn !== 'function') {
      return Promise.reject(new TypeError(`CircuitBreaker '${this.name}': execute() needs a function returning a Promise, got ${formatValue(fn)}`));
    }
    return this.#attempt(fn, true);
  }

  stats(): BreakerStats {
    const window = this.#opossum.stats;
    return {
      state: this.#state,
      windowRequests: window.fires,
      windowFailures: window.failures,
      consecutiveFailures: this.#inARow,
      successes: this.#successes,
      failures: this.#failures,
      ignored: this.#ignored,
      rejected: this.#rejected,
    };
  }

  /** Releases the breaker's timers; later `execute()` calls reject. Calls in flight still settle. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearProbeTimer();
    this.#opossum.shutdown();
    this.#events.clear();
  }

  /** Adds a listener; returns a function that removes it. Every event is also published on `holdfast:breaker`. */
  on<K extends keyof BreakerEvents>(name: K, listener: Listener<BreakerEvents[K]>): () => void {
    return this.#events.on(name, listener);
  }

  once<K extends keyof BreakerEvents>(name: K, listener: Listener<BreakerEvents[K]>): () => void {
    return this.#events.once(name, listener);
  }

  off<K extends keyof BreakerEvents>(name: K, listener: Listener<BreakerEvents[K]>): void {
    this.#events.off(name, listener);
  }

  /** One call through the breaker; `whole`: it is a whole operation, so its outcome also goes to the window. */
  #attempt<T>(fn: () => Promise<T>, whole: boolean): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError());
    // Refusals are decided here, so opossum never counts a refused call as a request of its window (they would
    // dilute the failure rate: after an outage's refusals a second outage would not open the breaker again).
    if (this.#state === 'open') {
      // Unless opossum is ready for a probe (resetTimeoutMs is over) and enough calls were refused: then this one probes now.
      if (!this.#opossum.halfOpen || this.#refusedSinceOpen < this.probeAfterRejections) return this.#refuse();
      this.#enterHalfOpen();
    }
    if (this.#state !== 'closed') {
      // One probe at a time; a 'state-change' listener may also have probed (and failed) while half-opening.
      if (this.#probing || this.#state === 'open') return this.#refuse();
      this.#probing = true;
      return this.#probe(fn);
    }
    if (whole) {
      return this.#opossum.fire(fn).then(
        (value) => {
          this.#attemptSucceeded();
          return value as T;
        },
        (error: unknown) => {
          if (this.#ownRejections.has(error as object)) throw new BreakerOpenError(this.name, this.#currentRetryAt(), this.#tripFault);
          // opossum counted it in the window (errorFilter); the run of failures is counted here.
          this.#attemptFailed(error);
          throw error;
        },
      );
    }
    let result: Promise<T>;
    try {
      result = fn();
    } catch (error) {
      this.#attemptFailed(error);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the caller's own error, unchanged
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(
      (value) => {
        this.#attemptSucceeded();
        return value;
      },
      (error: unknown) => {
        this.#attemptFailed(error);
        throw error;
      },
    );
  }

  /** The one call let through while half-open: its success closes the breaker, a failure opens it again. */
  #probe<T>(fn: () => Promise<T>): Promise<T> {
    let result: Promise<T>;
    try {
      result = fn();
    } catch (error) {
      this.#probeFailed(error);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the caller's own error, unchanged
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(
      (value) => {
        this.#successes++;
        this.#inARow = 0;
        this.#answered = true;
        this.#probing = false;
        if (!this.#closed) this.#opossum.close();
        return value;
      },
      (error: unknown) => {
        this.#probeFailed(error);
        throw error;
      },
    );
  }

  #probeFailed(error: unknown): void {
    this.#probing = false;
    const fault = classify(error);
    if (this.#closed) return;
    if (saysNothingAboutPeer(fault)) {
      this.#ignored++;
      // A probe the caller aborted proved nothing: rather than closing on no evidence, stay open for another reset timeout.
      this.#tripFault = fault;
      this.#probeAborted = true;
      this.#openReason = 'probe-failed';
      this.#opossum.open();
      return;
    }
    if (this.#counts(fault)) {
      this.#failures++;
      this.#tripFault = fault;
      this.#openReason = 'probe-failed';
      this.#opossum.open();
    } else {
      // The peer answered (a 404 says it is up): that is what the probe wanted to know.
      this.#ignored++;
      this.#inARow = 0;
      this.#opossum.close();
    }
  }

  #attemptSucceeded(): void {
    this.#successes++;
    this.#inARow = 0;
    this.#answered = true;
  }

  /** A failed call while closed: the run of failures grows, and opens the breaker at `consecutiveFailures`. */
  #attemptFailed(error: unknown): void {
    const fault = classify(error);
    if (saysNothingAboutPeer(fault)) {
      this.#ignored++;
      return;
    }
    if (!this.#counts(fault)) {
      this.#ignored++;
      // An answer (a 404) proves the peer is up.
      this.#inARow = 0;
      return;
    }
    this.#failures++;
    this.#tripFault = fault;
    this.#watchUntil = Date.now() + this.#windowMs;
    if (++this.#inARow >= this.consecutiveFailures && this.#state === 'closed' && !this.#closed) {
      this.#openReason = 'consecutive-failures';
      this.#opossum.open();
    }
  }

  /**
   * An operation is over. Counted in the window only while closed, and only
   * while a failure is recent: with no failure in the window a success
   * changes no decision, so a healthy peer's operations cost nothing here.
   */
  #settle(error: unknown): void {
    if (this.#state !== 'closed' || this.#closed) return;
    if (error === undefined) {
      if (Date.now() < this.#watchUntil) this.#opossum.fire(settledOk).then(ignore, ignore);
      return;
    }
    const final = new FinalOutcome(error);
    this.#opossum.fire(() => Promise.reject(final)).then(ignore, ignore);
  }

  /** opossum's errorFilter, negated: whether a failure counts in the window (and may open it on the failure rate). */
  #countsInWindow(error: unknown): boolean {
    const fault = classify(error instanceof FinalOutcome ? error.error : error);
    if (saysNothingAboutPeer(fault)) return false;
    const counts = this.#counts(fault);
    if (counts) {
      this.#tripFault = fault;
      this.#openReason = 'failure-rate';
      this.#watchUntil = Date.now() + this.#windowMs;
    }
    return counts;
  }

  #counts(fault: Fault): boolean {
    try {
      return this.#isFailure(fault);
    } catch {
      // A broken predicate must not turn into an unhandled error; count the fault, which is the safe side.
      return true;
    }
  }

  #closedError(): HoldfastError {
    const message = `circuit '${this.name}' was closed with close(); create a new breaker`;
    return new HoldfastError(message, {
      kind: 'closed',
      code: 'HOLDFAST_BREAKER_CLOSED',
      phase: 'connect',
      transient: false,
      hint: 'the breaker was shut down by the application; calls through it are refused',
      message,
    });
  }

  #onOpen(): void {
    this.#clearProbeTimer();
    this.#probing = false;
    this.#answered = false;
    // A failed probe makes the next wait longer; an aborted one proved nothing and keeps it.
    if (this.#state === 'closed') this.#failedProbes = 0;
    else if (this.#probeAborted) this.#probeAborted = false;
    else this.#failedProbes++;
    this.#refusedSinceOpen = 0;
    this.#retryAt = Date.now() + breakerResetDelay(this.resetTimeoutMs, this.maxResetTimeoutMs, this.#failedProbes, Math.random);
    // Only the reset timer leaves 'open', so no listener can have moved the breaker on.
    this.#moveTo('open');
    this.#events.emit('open', { event: 'open', name: this.name, fault: this.#tripFault, reason: this.#openReason, retryAt: this.#retryAt });
  }

  #onReject(error: Error): void {
    this.#ownRejections.add(error);
    this.#countRejection();
  }

  #refuse(): Promise<never> {
    this.#countRejection();
    return Promise.reject(new BreakerOpenError(this.name, this.#currentRetryAt(), this.#tripFault));
  }

  #countRejection(): void {
    this.#rejected++;
    this.#refusedSinceOpen++;
    this.#events.emit('reject', { event: 'reject', name: this.name, retryAt: this.#currentRetryAt() });
  }

  #clearProbeTimer(): void {
    if (this.#probeTimer === undefined) return;
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  /** While half-open a probe is in flight: the next call may go as soon as it settles. */
  #currentRetryAt(): number {
    return this.#state === 'half-open' ? Date.now() : this.#retryAt;
  }

  /**
   * opossum reports only real changes. Returns false when a listener already
   * moved the breaker on (a 'state-change' listener whose call failed at
   * once), so the event for the superseded state is not emitted.
   */
  #moveTo(to: BreakerState): boolean {
    const from = this.#state;
    this.#state = to;
    this.#events.emit('state-change', { event: 'state-change', name: this.name, from, to });
    return this.#state === to;
  }

  /** opossum's reset timer ran out (after resetTimeoutMs): probe now, or once the grown wait is over. */
  #onHalfOpen(): void {
    const wait = this.#retryAt - Date.now();
    // A few ms of difference is the two timers' start, not a grown wait.
    if (wait <= 2 || this.#refusedSinceOpen >= this.probeAfterRejections) return this.#enterHalfOpen();
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      if (this.#state === 'open' && this.#opossum.halfOpen) this.#enterHalfOpen();
    }, wait);
    this.#probeTimer.unref();
  }

  #enterHalfOpen(): void {
    this.#clearProbeTimer();
    if (this.#moveTo('half-open')) this.#events.emit('half-open', { event: 'half-open', name: this.name });
  }

  #onClose(): void {
    this.#clearProbeTimer();
    this.#probing = false;
    this.#failedProbes = 0;
    this.#inARow = 0;
    if (this.#moveTo('closed')) this.#events.emit('close', { event: 'close', name: this.name });
  }
}

/** A circuit breaker with holdfast's defaults; see `BreakerOptions`. */
export function createBreaker(options?: BreakerOptions): CircuitBreaker {
  return new CircuitBreaker(options);
}
