import { TypedEvents, type Listener } from './events.js';
import type { Fault } from './fault.js';
import { checkOptions, formatValue, rule, type OptionRule } from './options.js';

/**
 * A token bucket shared by every caller of one client, so that an outage
 * never turns into a retry storm (gRPC retry throttling, Finagle's
 * RetryBudget): each request deposits `ratio` tokens, each retry withdraws
 * one, and a floor of `minRetriesPerSecond` lets a quiet client still retry.
 * Within any `ttlMs` window the retries allowed are at most
 * `ratio × requests + minRetriesPerSecond × ttlMs / 1000` (counted in full-cost retries).
 */
export interface RetryBudgetOptions {
  /** Tokens each request deposits: the share of traffic retries may add. Default 0.1 (10 %). */
  readonly ratio?: number;
  /** Retries per second allowed however little traffic there is. Default 10. */
  readonly minRetriesPerSecond?: number;
  /** How long a deposit (and a withdrawal) counts. Default 10 000 ms. */
  readonly ttlMs?: number;
  /**
   * Cost of a retry whose fault never reached the peer (`phase: 'connect'`):
   * it added no load there, so it is cheaper. Default 0.5; 1 treats it like any retry.
   */
  readonly connectPhaseCost?: number;
  /** Shown in events, to tell budgets apart. */
  readonly name?: string;
  /** Clock in milliseconds; injectable for tests. Default `Date.now`. */
  readonly now?: () => number;
}

export interface RetryBudgetExhaustedEvent {
  readonly event: 'exhausted';
  readonly name?: string;
  /** Tokens left (less than the cost). */
  readonly available: number;
  /** What the refused retry would have cost. */
  readonly cost: number;
  readonly fault?: Fault;
}

export interface RetryBudgetEvents {
  exhausted: RetryBudgetExhaustedEvent;
}

export interface RetryBudgetStats {
  /** Tokens available now (one full-cost retry needs 1). */
  readonly available: number;
  /** Requests recorded since construction. */
  readonly requests: number;
  /** Retries allowed since construction. */
  readonly retries: number;
  /** Retries refused since construction. */
  readonly refused: number;
  /** Tokens given back since construction by retries that proved not wasted (see `refund`). */
  readonly refunded: number;
}

// Integer milli-tokens: ten deposits of 0.1 must add up to exactly one retry.
const SCALE = 1000;
// The window is kept in this many buckets, so a deposit expires between 0.9 and 1 ttl after it was made.
const BUCKETS = 10;

const RULES: Record<keyof RetryBudgetOptions, OptionRule> = {
  ratio: { test: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1000, accepted: 'a finite number from 0 to 1000' },
  minRetriesPerSecond: { test: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0, accepted: 'a finite number >= 0' },
  ttlMs: rule.integer(10, 3_600_000),
  connectPhaseCost: rule.number(0, 1),
  name: { test: (v) => typeof v === 'string', accepted: 'a string' },
  now: rule.function('returning milliseconds'),
};

/**
 * Checks budget options as `new RetryBudget()` does, without making one: for
 * an object that takes them as a nested option (`path`, e.g. `'budget'`), so
 * the error names the option the user wrote. Throws TypeError/RangeError.
 */
export function checkBudgetOptions(where: string, options: unknown, path?: string): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${where}: ${path === undefined ? 'options' : `option '${path}'`} must be an object, got ${formatValue(options)}`);
  }
  checkOptions(where, options, RULES, path === undefined ? {} : { path });
}

export class RetryBudget {
  readonly ratio: number;
  readonly minRetriesPerSecond: number;
  readonly ttlMs: number;
  readonly connectPhaseCost: number;
  readonly name: string | undefined;

  readonly #events = new TypedEvents<RetryBudgetEvents>({ exhausted: 'budget' });
  readonly #now: () => number;
  readonly #deposit: number;
  readonly #reserve: number;
  readonly #connectCost: number;
  readonly #bucketMs: number;
  // Net milli-tokens (deposits minus withdrawals) per time bucket, in a ring; computed on access, so no timer.
  readonly #net = new Array<number>(BUCKETS).fill(0);
  #sum = 0;
  #bucket: number;
  #requests = 0;
  #retries = 0;
  #refused = 0;
  #refunded = 0;

  constructor(options: RetryBudgetOptions = {}) {
    checkBudgetOptions('RetryBudget', options);
    const { ratio = 0.1, minRetriesPerSecond = 10, ttlMs = 10_000, connectPhaseCost = 0.5, name, now = Date.now } = options;
    this.ratio = ratio;
    this.minRetriesPerSecond = minRetriesPerSecond;
    this.ttlMs = ttlMs;
    this.connectPhaseCost = connectPhaseCost;
    this.name = name;
    this.#now = now;
    this.#deposit = Math.round(ratio * SCALE);
    this.#reserve = Math.round(minRetriesPerSecond * (ttlMs / 1000) * SCALE);
    this.#connectCost = Math.round(connectPhaseCost * SCALE);
    this.#bucketMs = ttlMs / BUCKETS;
    const first = Math.floor(now() / this.#bucketMs);
    this.#bucket = Number.isFinite(first) ? first : 0;
  }

  /** Counts one request (not a retry of it): it funds `ratio` of a retry. */
  recordRequest(): void {
    this.#add(this.#deposit);
    this.#requests++;
  }

  /**
   * Takes the cost of one retry if the budget holds it. A fault in the
   * `connect` phase costs `connectPhaseCost`. Returns false, and emits
   * `exhausted`, when the retry must not happen.
   */
  tryWithdraw(fault?: Fault): boolean {
    const cost = fault?.phase === 'connect' ? this.#connectCost : SCALE;
    const balance = this.#balance();
    if (balance >= cost) {
      this.#add(-cost);
      this.#retries++;
      return true;
    }
    this.#refused++;
    this.#events.emit('exhausted', {
      event: 'exhausted',
      ...(this.name === undefined ? {} : { name: this.name }),
      available: balance / SCALE,
      cost: cost / SCALE,
      ...(fault === undefined ? {} : { fault }),
    });
    return false;
  }

  /** What a retry after `fault` costs, in tokens: `connectPhaseCost` for a fault that never reached the peer, else 1. */
  costOf(fault?: Fault): number {
    return (fault?.phase === 'connect' ? this.#connectCost : SCALE) / SCALE;
  }

  /**
   * Gives back tokens that retries withdrew, once they proved not wasted: the
   * operation succeeded after them (docs/decisions/0005-flaky-or-down.md). A
   * peer that is flaky but alive then never exhausts the budget; one that is
   * down keeps paying, because nothing succeeds.
   */
  refund(tokens: number): void {
    if (!(typeof tokens === 'number' && Number.isFinite(tokens) && tokens >= 0)) {
      throw new RangeError(`RetryBudget: refund() needs a finite number of tokens >= 0, got ${formatValue(tokens)}`);
    }
    const milliTokens = Math.round(tokens * SCALE);
    if (milliTokens === 0) return;
    this.#add(milliTokens);
    this.#refunded += milliTokens;
  }

  /** Tokens available now; a full-cost retry needs 1. */
  get available(): number {
    return this.#balance() / SCALE;
  }

  stats(): RetryBudgetStats {
    return { available: this.available, requests: this.#requests, retries: this.#retries, refused: this.#refused, refunded: this.#refunded / SCALE };
  }

  /** Adds a listener (`exhausted`); returns a function that removes it. Also published on `holdfast:budget`. */
  on<K extends keyof RetryBudgetEvents>(name: K, listener: Listener<RetryBudgetEvents[K]>): () => void {
    return this.#events.on(name, listener);
  }

  off<K extends keyof RetryBudgetEvents>(name: K, listener: Listener<RetryBudgetEvents[K]>): void {
    this.#events.off(name, listener);
  }

  #balance(): number {
    this.#advance();
    return this.#reserve + this.#sum;
  }

  #add(milliTokens: number): void {
    this.#advance();
    const slot = slotOf(this.#bucket);
    this.#net[slot] = (this.#net[slot] as number) + milliTokens;
    this.#sum += milliTokens;
  }

  /** Drops the buckets that have fallen out of the window since the last access. */
  #advance(): void {
    const bucket = this.#bucketAt(this.#now());
    // A clock that steps back (or breaks) keeps writing into the current bucket rather than resurrecting old ones.
    if (!(bucket > this.#bucket)) return;
    if (bucket - this.#bucket >= BUCKETS) {
      this.#net.fill(0);
      this.#sum = 0;
    } else {
      for (let b = this.#bucket + 1; b <= bucket; b++) {
        const slot = slotOf(b);
        this.#sum -= this.#net[slot] as number;
        this.#net[slot] = 0;
      }
    }
    this.#bucket = bucket;
  }

  #bucketAt(ms: number): number {
    const bucket = Math.floor(ms / this.#bucketMs);
    return Number.isFinite(bucket) ? bucket : this.#bucket;
  }
}

const slotOf = (bucket: number): number => ((bucket % BUCKETS) + BUCKETS) % BUCKETS;
