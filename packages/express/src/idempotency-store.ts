import { HoldfastError, classify } from '@holdfast/core';
import { checkOptions, rule } from '@holdfast/core/internal';

/** A response kept for replays. */
export interface StoredResponse {
  readonly statusCode: number;
  /** Lower-case names; hop-by-hop headers, `date`, `content-length` and `set-cookie` are not kept. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: Buffer;
}

/** One request's hold on a key: what its payload hashes to, and a token no other request has. */
export interface IdempotencyClaim {
  readonly fingerprint: string;
  readonly token: string;
}

/** What `claim()` found under a key. */
export type ClaimResult =
  /** Nothing: the key is now held by this claim, the handler may run. */
  | { readonly state: 'claimed' }
  /** Claimed by a request that has not finished. */
  | { readonly state: 'in-progress'; readonly fingerprint: string }
  /** Finished: the stored response. */
  | { readonly state: 'done'; readonly fingerprint: string; readonly response: StoredResponse };

/**
 * Where `idempotency()` keeps keys: three operations, each atomic on its
 * own (a fleet of instances shares one store, so two instances must never
 * both get `'claimed'` for one key).
 *
 * - `claim(key, claim, lockMs)`: when the key is free, records it as in
 *   progress for `claim` (expiring after `lockMs`, in case the process
 *   dies) and returns `'claimed'`; otherwise returns what is there.
 * - `complete(key, claim, response, ttlMs)`: stores the response (with the
 *   claim's fingerprint) for `ttlMs`, if the key is still held by this claim
 *   (same token) or is gone (a store that lost it in a restart gets the
 *   record back); never over another request's claim.
 * - `release(key, claim)`: forgets the key if this claim still holds it, so
 *   a retry runs again.
 *
 * A store that cannot answer throws (or rejects): the middleware then
 * answers 503 without running the handler.
 */
export interface IdempotencyStore {
  claim(key: string, claim: IdempotencyClaim, lockMs: number): Promise<ClaimResult>;
  complete(key: string, claim: IdempotencyClaim, response: StoredResponse, ttlMs: number): Promise<void>;
  release(key: string, claim: IdempotencyClaim): Promise<void>;
}

/** The store could not answer (down, timed out); `fault` says how. */
export class IdempotencyStoreError extends HoldfastError {
  constructor(operation: string, cause: unknown) {
    const fault = classify(cause);
    super(`idempotency store: ${operation} failed (${fault.code}): ${fault.message}`, fault, { cause });
  }
}

interface MemoryEntry {
  readonly fingerprint: string;
  readonly token: string;
  readonly response: StoredResponse | undefined;
  readonly expiresAt: number;
}

export interface MemoryIdempotencyStoreOptions {
  /** Most keys kept; the oldest go first when full. Default 100 000. */
  readonly maxKeys?: number;
}

/** Expired entries removed per claim, from the oldest: amortised cleanup without a timer. */
const SWEEP_PER_CLAIM = 8;

/**
 * Keys in this process's memory: right for a single instance. A fleet behind
 * a balancer needs a shared store (`RedisIdempotencyStore`), or a retry
 * landing on another instance runs again.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #entries = new Map<string, MemoryEntry>();
  readonly #maxKeys: number;

  constructor(options: MemoryIdempotencyStoreOptions = {}) {
    checkOptions('MemoryIdempotencyStore', options, { maxKeys: rule.integer(1) });
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  /** Keys held now (expired ones may still count until swept). */
  get size(): number {
    return this.#entries.size;
  }

  claim(key: string, claim: IdempotencyClaim, lockMs: number): Promise<ClaimResult> {
    const now = Date.now();
    this.#sweep(now);
    const entry = this.#live(key, now);
    if (entry !== undefined) {
      return Promise.resolve(
        entry.response === undefined
          ? { state: 'in-progress', fingerprint: entry.fingerprint }
          : { state: 'done', fingerprint: entry.fingerprint, response: entry.response },
      );
    }
    this.#put(key, { fingerprint: claim.fingerprint, token: claim.token, response: undefined, expiresAt: now + lockMs });
    return Promise.resolve({ state: 'claimed' });
  }

  complete(key: string, claim: IdempotencyClaim, response: StoredResponse, ttlMs: number): Promise<void> {
    const now = Date.now();
    const entry = this.#live(key, now);
    if (entry === undefined || (entry.token === claim.token && entry.response === undefined)) {
      this.#put(key, { fingerprint: claim.fingerprint, token: claim.token, response, expiresAt: now + ttlMs });
    }
    return Promise.resolve();
  }

  release(key: string, claim: IdempotencyClaim): Promise<void> {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.token === claim.token && entry.response === undefined) this.#entries.delete(key);
    return Promise.resolve();
  }

  #live(key: string, now: number): MemoryEntry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.expiresAt > now) return entry;
    this.#entries.delete(key);
    return undefined;
  }

  #put(key: string, entry: MemoryEntry): void {
    // Re-inserted at the end, so the map stays roughly in expiry order for the sweep.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#maxKeys) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  #sweep(now: number): void {
    let n = 0;
    for (const [key, entry] of this.#entries) {
      if (n++ >= SWEEP_PER_CLAIM || entry.expiresAt > now) return;
      this.#entries.delete(key);
    }
  }
}
