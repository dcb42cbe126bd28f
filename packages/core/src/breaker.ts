import Opossum from 'opossum';
import { classify } from './classify/index.js';
import { BreakerOpenError, HoldfastError } from './errors.js';
import { TypedEvents, type Listener } from './events.js';
import type { Fault } from './fault.js';
import { formatValue } from './options.js';

/**
 * A circuit breaker: after too many failures in a rolling window it opens and
 * calls fail fast with `BreakerOpenError` without touching the peer; after
 * `resetTimeoutMs` it lets one probe through (half-open), and closes again
 * when the probe succeeds. Optionally the wait grows after each failed probe
 * (`maxResetTimeoutMs`), and a busy caller probes sooner, after a number of
 * refused calls (`probeAfterRejections`). opossum does the bookkeeping underneath; holdfast
 * decides what counts as a failure: only faults that say something about the
 * peer (a caller's abort or a 404 does not).
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Shown in events and errors. Default `'breaker'`. */
  readonly name?: string;
  /** Opens when more than this share of the window's calls failed. Default 50 (%). */
  readonly failureThresholdPercent?: number;
  /** No decision before this many calls in the window (opossum's `volumeThreshold`). Default 10. */
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
  /** The breaker opened: `fault` is what tripped it, `retryAt` (epoch ms) when a probe will be let through. */
  open: BreakerEventBase<'open'> & { readonly fault: Fault | undefined; readonly retryAt: number };
  'half-open': BreakerEventBase<'half-open'>;
  close: BreakerEventBase<'close'>;
  /** A call failed fast with `BreakerOpenError`. */
  reject: BreakerEventBase<'reject'> & { readonly retryAt: number };
}

export interface BreakerStats {
  readonly state: BreakerState;
  /** Calls started within the rolling window. */
  readonly windowRequests: number;
  /** Failures counted within the rolling window. */
  readonly windowFailures: number;
  /** Since creation: calls that resolved. */
  readonly successes: number;
  /** Since creation: calls whose fault counted against the peer. */
  readonly failures: number;
  /** Since creation: calls that rejected with a fault that did not count (aborts, 4xx, isFailure() false). */
  readonly ignored: number;
  /** Since creation: calls failed fast with `BreakerOpenError`. */
  readonly rejected: number;
}

type Action = () => Promise<unknown>;

// setTimeout fires at once (with a warning) above 2^31-1 ms.
const MAX_TIMER_MS = 2_147_483_647;

function check(option: string, value: unknown, ok: boolean, accepted: string): void {
  if (!ok) throw new RangeError(`CircuitBreaker: option '${option}' must be ${accepted}, got ${formatValue(value)}`);
}

const isIntegerIn = (value: unknown, min: number, max: number): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

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

export class CircuitBreaker {
  readonly name: string;
  readonly resetTimeoutMs: number;
  readonly maxResetTimeoutMs: number;
  readonly probeAfterRejections: number;

  readonly #opossum: Opossum<[Action]>;
  readonly #isFailure: (fault: Fault) => boolean;
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
  #closed = false;
  // opossum half-opens after resetTimeoutMs; a longer (grown) wait holds the probe back with this timer.
  #probeTimer: NodeJS.Timeout | undefined;
  #failedProbes = 0;
  #probeAborted = false;
  #refusedSinceOpen = 0;
  #probing = false;
  #successes = 0;
  #failures = 0;
  #ignored = 0;
  #rejected = 0;

  constructor(options: BreakerOptions = {}) {
    check('options', options, typeof options === 'object' && (options as unknown) !== null, 'an object');
    const {
      name = 'breaker',
      failureThresholdPercent = 50,
      minimumRequests = 10,
      windowMs = 10_000,
      windowBuckets = 10,
      resetTimeoutMs = 5000,
      maxResetTimeoutMs = resetTimeoutMs,
      probeAfterRejections = Number.POSITIVE_INFINITY,
      isFailure = countsAgainstPeer,
    } = options;
    check('name', name, typeof name === 'string' && name.length > 0, 'a non-empty string');
    check(
      'failureThresholdPercent',
      failureThresholdPercent,
      typeof failureThresholdPercent === 'number' && failureThresholdPercent >= 0 && failureThresholdPercent < 100,
      'a number >= 0 and < 100 (the breaker opens when more than this share failed)',
    );
    check('minimumRequests', minimumRequests, isIntegerIn(minimumRequests, 1, Number.MAX_SAFE_INTEGER), 'an integer >= 1');
    check('windowMs', windowMs, isIntegerIn(windowMs, 10, MAX_TIMER_MS), `an integer from 10 to ${MAX_TIMER_MS}`);
    check(
      'windowBuckets',
      windowBuckets,
      isIntegerIn(windowBuckets, 1, 1000) && windowMs % windowBuckets === 0 && windowMs / windowBuckets >= 10,
      `an integer from 1 to 1000 that divides windowMs (${windowMs}) into buckets of at least 10 ms`,
    );
    check('resetTimeoutMs', resetTimeoutMs, isIntegerIn(resetTimeoutMs, 1, MAX_TIMER_MS), `an integer from 1 to ${MAX_TIMER_MS}`);
    check(
      'maxResetTimeoutMs',
      maxResetTimeoutMs,
      isIntegerIn(maxResetTimeoutMs, resetTimeoutMs, MAX_TIMER_MS),
      `an integer from resetTimeoutMs (${formatValue(resetTimeoutMs)}) to ${MAX_TIMER_MS}`,
    );
    check(
      'probeAfterRejections',
      probeAfterRejections,
      probeAfterRejections === Number.POSITIVE_INFINITY || isIntegerIn(probeAfterRejections, 1, Number.MAX_SAFE_INTEGER),
      'an integer >= 1, or Infinity (only the wait lets a probe through)',
    );
    check('isFailure', isFailure, typeof isFailure === 'function', 'a function (fault) => boolean');
    this.name = name;
    this.resetTimeoutMs = resetTimeoutMs;
    this.maxResetTimeoutMs = maxResetTimeoutMs;
    this.probeAfterRejections = probeAfterRejections;
    this.#isFailure = isFailure;
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
      errorFilter: (error: unknown) => !this.#counts(error),
    });
    this.#opossum.on('open', () => this.#onOpen());
    this.#opossum.on('halfOpen', () => this.#onHalfOpen());
    this.#opossum.on('close', () => this.#onClose());
    this.#opossum.on('reject', (error: Error) => this.#onReject(error));
  }

  get state(): BreakerState {
    return this.#state;
  }

  /**
   * Runs `fn` through the breaker. Resolves or rejects with what `fn` does;
   * while open (or while a half-open probe is in flight) rejects at once
   * with `BreakerOpenError` and `fn` is not called.
   */
  execute<T>(fn: () => Promise<T>): Promise<T> {
    if (typeof fn !== 'function') {
      return Promise.reject(new TypeError(`CircuitBreaker '${this.name}': execute() needs a function returning a Promise, got ${formatValue(fn)}`));
    }
    if (this.#closed) {
      const message = `circuit '${this.name}' was closed with close(); create a new breaker`;
      return Promise.reject(
        new HoldfastError(message, {
          kind: 'closed',
          code: 'HOLDFAST_BREAKER_CLOSED',
          phase: 'connect',
          transient: false,
          hint: 'the breaker was shut down by the application; calls through it are refused',
          message,
        }),
      );
    }
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
    }
    return this.#opossum.fire(fn).then(
      (value) => {
        this.#successes++;
        return value as T;
      },
      (error: unknown) => {
        throw this.#ownRejections.has(error as object) ? new BreakerOpenError(this.name, this.#currentRetryAt(), this.#tripFault) : error;
      },
    );
  }

  stats(): BreakerStats {
    const window = this.#opossum.stats;
    return {
      state: this.#state,
      windowRequests: window.fires,
      windowFailures: window.failures,
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

  /** Whether `error` counts as a failure of the peer; opossum's `errorFilter` is the negation. */
  #counts(error: unknown): boolean {
    const fault = classify(error);
    if (saysNothingAboutPeer(fault)) {
      this.#ignored++;
      // A probe the caller aborted proved nothing: rather than closing on no evidence, stay open for another reset timeout.
      if (this.#opossum.halfOpen) {
        this.#tripFault = fault;
        this.#probeAborted = true;
        this.#opossum.open();
      }
      return false;
    }
    let counts: boolean;
    try {
      counts = this.#isFailure(fault);
    } catch {
      // A broken predicate must not turn into an unhandled error inside opossum; count the fault, which is the safe side.
      counts = true;
    }
    if (counts) {
      this.#failures++;
      this.#tripFault = fault;
    } else {
      this.#ignored++;
    }
    return counts;
  }

  #onOpen(): void {
    this.#clearProbeTimer();
    this.#probing = false;
    // A failed probe makes the next wait longer; an aborted one proved nothing and keeps it.
    if (this.#state === 'closed') this.#failedProbes = 0;
    else if (this.#probeAborted) this.#probeAborted = false;
    else this.#failedProbes++;
    this.#refusedSinceOpen = 0;
    this.#retryAt = Date.now() + breakerResetDelay(this.resetTimeoutMs, this.maxResetTimeoutMs, this.#failedProbes, Math.random);
    // Only the reset timer leaves 'open', so no listener can have moved the breaker on.
    this.#moveTo('open');
    this.#events.emit('open', { event: 'open', name: this.name, fault: this.#tripFault, retryAt: this.#retryAt });
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
    if (this.#moveTo('closed')) this.#events.emit('close', { event: 'close', name: this.name });
  }
}

/** A circuit breaker with holdfast's defaults; see `BreakerOptions`. */
export function createBreaker(options?: BreakerOptions): CircuitBreaker {
  return new CircuitBreaker(options);
}
