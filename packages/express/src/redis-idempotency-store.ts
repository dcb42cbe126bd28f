import { createHash } from 'node:crypto';
import { checkOptions, rule } from '@holdfast/core/internal';
import { IdempotencyStoreError, type ClaimResult, type IdempotencyClaim, type IdempotencyStore, type StoredResponse } from './idempotency-store.js';

/**
 * The part of an `ioredis` client the store uses (a `Redis` or `Cluster`
 * instance fits). `status` lets the store fail at once while the client is
 * not connected, instead of waiting in ioredis' offline queue.
 */
export interface RedisClientLike {
  eval(script: string, numberOfKeys: number, ...args: (string | number)[]): Promise<unknown>;
  /** Used when present: the script by its SHA-1, sent whole only when Redis does not know it yet (NOSCRIPT). */
  evalsha?(sha1: string, numberOfKeys: number, ...args: (string | number)[]): Promise<unknown>;
  readonly status?: string;
}

export interface RedisIdempotencyStoreOptions {
  /** Prefix of every key. Default `'holdfast:idem:'`. */
  readonly prefix?: string;
  /** A command not answered in this long fails (the request gets 503). Default 1 000 ms. */
  readonly commandTimeoutMs?: number;
}

// One round trip each, atomic in Redis. An in-progress value is compared as a whole string: it holds the claim's token.
const CLAIM = `local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false`;

const COMPLETE = `local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const SHA1 = new Map([CLAIM, COMPLETE, RELEASE].map((script) => [script, createHash('sha1').update(script).digest('hex')]));

interface InProgressValue {
  readonly s: 'p';
  readonly f: string;
  readonly t: string;
}

interface DoneValue {
  readonly s: 'd';
  readonly f: string;
  readonly c: number;
  readonly h: Record<string, string | readonly string[]>;
  /** The body, base64. */
  readonly b: string;
}

const inProgress = (claim: IdempotencyClaim): string => JSON.stringify({ s: 'p', f: claim.fingerprint, t: claim.token } satisfies InProgressValue);

/**
 * Keys in Redis, shared by every instance of an app behind a balancer, so a
 * retry that lands on another instance is replayed there. Pass an `ioredis`
 * client you own (and close); each operation is one atomic script.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #client: RedisClientLike;
  readonly #prefix: string;
  readonly #timeoutMs: number;

  constructor(client: RedisClientLike, options: RedisIdempotencyStoreOptions = {}) {
    if (typeof (client as Partial<RedisClientLike> | null)?.eval !== 'function') {
      throw new TypeError('RedisIdempotencyStore: the first argument must be an ioredis client (new Redis(...))');
    }
    checkOptions('RedisIdempotencyStore', options, { prefix: rule.string(), commandTimeoutMs: rule.timerMs(1) });
    this.#client = client;
    this.#prefix = options.prefix ?? 'holdfast:idem:';
    this.#timeoutMs = options.commandTimeoutMs ?? 1_000;
  }

  async claim(key: string, claim: IdempotencyClaim, lockMs: number): Promise<ClaimResult> {
    const found = await this.#eval('claim', CLAIM, key, inProgress(claim), lockMs);
    if (typeof found !== 'string') return { state: 'claimed' };
    const value = JSON.parse(found) as InProgressValue | DoneValue;
    if (value.s === 'p') return { state: 'in-progress', fingerprint: value.f };
    return { state: 'done', fingerprint: value.f, response: { statusCode: value.c, headers: value.h, body: Buffer.from(value.b, 'base64') } };
  }

  async complete(key: string, claim: IdempotencyClaim, response: StoredResponse, ttlMs: number): Promise<void> {
    const done: DoneValue = { s: 'd', f: claim.fingerprint, c: response.statusCode, h: response.headers, b: response.body.toString('base64') };
    await this.#eval('complete', COMPLETE, key, inProgress(claim), JSON.stringify(done), ttlMs);
  }

  async release(key: string, claim: IdempotencyClaim): Promise<void> {
    await this.#eval('release', RELEASE, key, inProgress(claim));
  }

  #eval(operation: string, script: string, key: string, ...args: (string | number)[]): Promise<unknown> {
    const status = this.#client.status;
    if (status !== undefined && status !== 'ready') {
      return Promise.reject(new IdempotencyStoreError(operation, Object.assign(new Error(`redis client is ${status}`), { code: 'ECONNREFUSED' })));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new IdempotencyStoreError(operation, Object.assign(new Error(`no answer in ${this.#timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      }, this.#timeoutMs);
      timer.unref();
      this.#run(script, this.#prefix + key, args).then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(new IdempotencyStoreError(operation, error));
        },
      );
    });
  }

  async #run(script: string, key: string, args: (string | number)[]): Promise<unknown> {
    const client = this.#client;
    if (client.evalsha === undefined) return client.eval(script, 1, key, ...args);
    try {
      return await client.evalsha(SHA1.get(script) as string, 1, key, ...args);
    } catch (error) {
      if (!String((error as Error | undefined)?.message).startsWith('NOSCRIPT')) throw error;
      return client.eval(script, 1, key, ...args);
    }
  }
}
