import { createHash, randomUUID } from 'node:crypto';
import { ServerResponse, type IncomingMessage } from 'node:http';
import { classify } from '@holdfast/core';
import { checkOptions, rule } from '@holdfast/core/internal';
import { createExpressEvents, debug, eventsRule, type ExpressEvents, type IdempotencyOutcome } from './events.js';
import { methodOf, pathOf, sharedResponseProto, type Method, type Middleware } from './http-types.js';
import { MemoryIdempotencyStore, type ClaimResult, type IdempotencyClaim, type IdempotencyStore, type StoredResponse } from './idempotency-store.js';

export interface IdempotencyOptions {
  /** Where keys live. Default a `MemoryIdempotencyStore` (one instance); a fleet shares a `RedisIdempotencyStore`. */
  readonly store?: IdempotencyStore;
  /** How long a finished request's response is replayed. Default 86 400 000 ms (24 h). */
  readonly ttlMs?: number;
  /** How long a claim holds without an answer (longer than the slowest handler; it frees the key if the process dies). Default 60 000 ms. */
  readonly lockMs?: number;
  /** Methods the header applies to. Default `['POST', 'PATCH']`. */
  readonly methods?: readonly string[];
  /** Answer 400 when a request with one of `methods` has no key. Default false. */
  readonly required?: boolean;
  /** Keys are unique within a scope: return the caller's identity (user, API key id) so two callers' keys never meet. Default: one scope. */
  readonly scope?: (req: IncomingMessage) => string;
  /** Responses with bodies larger than this are stored without the body (a replay sends status and headers only). Default 1 048 576. */
  readonly maxBodyBytes?: number;
  /** Where `'idempotency'` events go. Default: a new `createExpressEvents()`, exposed as `middleware.events`. */
  readonly events?: ExpressEvents;
}

export type IdempotencyMiddleware = Middleware & { readonly events: ExpressEvents; readonly store: IdempotencyStore };

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** Set on a replayed response. */
export const REPLAYED_HEADER = 'idempotent-replayed';

const RULES = {
  store: {
    test: (v: unknown) =>
      typeof v === 'object' && v !== null && ['claim', 'complete', 'release'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
    accepted: 'an IdempotencyStore (claim, complete, release)',
  },
  ttlMs: rule.timerMs(1),
  lockMs: rule.timerMs(1),
  methods: {
    test: (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((m) => typeof m === 'string' && /^[A-Za-z]+$/.test(m)),
    accepted: "a non-empty array of method names such as ['POST']",
  },
  required: rule.boolean(),
  scope: rule.function('(req) => string'),
  maxBodyBytes: rule.integer(0),
  events: eventsRule,
};

/** The IETF httpapi draft's key: a string; we take 1 to 255 visible ASCII characters, as @holdfast/http sends. */
const VALID_KEY = /^[\x21-\x7e]{1,255}$/;

/** Not replayed: they describe the original connection or moment, or hold a credential. */
const NOT_STORED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'content-length', 'set-cookie', 'upgrade', 'trailer']);

/**
 * Middleware for the `Idempotency-Key` header (IETF httpapi draft): the first
 * request with a key runs; a repeat with the same key and payload gets the
 * stored status, headers and body (with `Idempotent-Replayed: true`) and the
 * handler does not run; a repeat while the first still runs gets 409; the
 * key with another payload 422. The response is stored before it is sent,
 * so a client whose connection reset after the effect finds it on its retry.
 * A store that cannot answer fails closed: 503 with `Retry-After`, the
 * handler does not run. Mount it after the body parser: the fingerprint
 * covers the method, the path and the parsed body.
 */
export function idempotency(options: IdempotencyOptions = {}): IdempotencyMiddleware {
  checkOptions('idempotency', options, RULES);
  const store = options.store ?? new MemoryIdempotencyStore();
  const ttlMs = options.ttlMs ?? 86_400_000;
  const lockMs = options.lockMs ?? 60_000;
  const methods = new Set((options.methods ?? ['POST', 'PATCH']).map((m) => m.toUpperCase()));
  const required = options.required ?? false;
  const scope = options.scope;
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576;
  const events = options.events ?? createExpressEvents();

  const report = (req: IncomingMessage, key: string, outcome: IdempotencyOutcome, error?: unknown): void => {
    const method = req.method ?? 'GET';
    const path = pathOf(req);
    const fault = error === undefined ? undefined : classify(error);
    if (outcome !== 'claimed' && outcome !== 'stored') debug('idempotency %s %s key %s: %s', method, path, key, outcome);
    events.emit(
      'idempotency',
      fault === undefined ? { event: 'idempotency', method, path, key, outcome } : { event: 'idempotency', method, path, key, outcome, fault },
    );
  };

  const middleware: Middleware = (req, res, next) => {
    if (!methods.has(req.method ?? '')) return next();
    const header = req.headers[IDEMPOTENCY_KEY_HEADER];
    if (header === undefined) {
      if (required) problem(res, 400, `this endpoint needs an Idempotency-Key header`);
      else next();
      return;
    }
    const key = Array.isArray(header) ? '' : header;
    if (!VALID_KEY.test(key)) {
      report(req, key.slice(0, 64), 'invalid-key');
      problem(res, 400, 'Idempotency-Key must be one value of 1 to 255 visible ASCII characters');
      return;
    }
    const storeKey = scope === undefined ? key : `${scope(req)}\u0000${key}`;
    const claim: IdempotencyClaim = { fingerprint: fingerprintOf(req), token: randomUUID() };
    claimKey(store, storeKey, claim, lockMs).then(
      (found) => {
        if (found.state === 'claimed') {
          report(req, key, 'claimed');
          record(res, { store, storeKey, claim, ttlMs, maxBodyBytes, report: (outcome, error) => report(req, key, outcome, error) });
          next();
        } else if (found.fingerprint !== claim.fingerprint) {
          report(req, key, 'mismatch');
          problem(res, 422, 'this Idempotency-Key was used with a different request (method, path or body)');
        } else if (found.state === 'in-progress') {
          report(req, key, 'conflict');
          res.setHeader('retry-after', '1');
          problem(res, 409, 'a request with this Idempotency-Key is still being processed');
        } else {
          report(req, key, 'replayed');
          replay(res, found.response);
        }
      },
      (error: unknown) => {
        report(req, key, 'store-unavailable', error);
        res.setHeader('retry-after', '1');
        problem(res, 503, 'the idempotency store is unavailable; the request was not processed');
      },
    );
  };
  return Object.assign(middleware, { events, store });
}

/** The store's claim, with a store that throws instead of rejecting treated the same (fail closed). */
async function claimKey(store: IdempotencyStore, key: string, claim: IdempotencyClaim, lockMs: number): Promise<ClaimResult> {
  return store.claim(key, claim, lockMs);
}

/** SHA-256 of the method, the path and the parsed body (or raw body, when a parser left a Buffer or string). */
function fingerprintOf(req: IncomingMessage): string {
  const hash = createHash('sha256');
  hash.update(`${req.method ?? ''} ${pathOf(req)}\n`);
  const body = (req as { body?: unknown }).body;
  if (Buffer.isBuffer(body) || typeof body === 'string') hash.update(body);
  // Wrapped: JSON.stringify of a bare function or symbol gives undefined.
  else if (body !== undefined) hash.update(JSON.stringify({ body }));
  return hash.digest('base64url');
}

function problem(res: ServerResponse, status: number, detail: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/problem+json');
  res.end(JSON.stringify({ title: detail, status }));
}

function replay(res: ServerResponse, stored: StoredResponse): void {
  res.statusCode = stored.statusCode;
  for (const [name, value] of Object.entries(stored.headers)) res.setHeader(name, value);
  res.setHeader(REPLAYED_HEADER, 'true');
  res.end(stored.body);
}

interface Recording {
  readonly store: IdempotencyStore;
  readonly storeKey: string;
  readonly claim: IdempotencyClaim;
  readonly ttlMs: number;
  readonly maxBodyBytes: number;
  readonly report: (outcome: IdempotencyOutcome, error?: unknown) => void;
  readonly chunks: Buffer[];
  size: number;
  tooLarge: boolean;
  /** `end()` was called (the store is being written, or the key released). */
  settled: boolean;
}

type RecordingInit = Pick<Recording, 'store' | 'storeKey' | 'claim' | 'ttlMs' | 'maxBodyBytes' | 'report'>;

const kRecording = Symbol('holdfast.idempotencyRecording');
/** On a prototype: the write and end it had before `record` wrapped them. */
const kOriginals = Symbol('holdfast.idempotencyOriginals');

interface Originals {
  readonly write: Method;
  readonly end: Method;
}

type Recorded = ServerResponse & { [kRecording]?: Recording; [kOriginals]: Originals };

/** For plain node:http, whose ServerResponse.prototype is everyone's: one recording layer over it, set per keyed response. */
let nodeLayer: object | undefined;

/**
 * Captures what the handler sends and stores it before the last byte goes
 * out: `res.end()` waits for the store, so a client that sees a reset and
 * retries finds the record there. A handler that never ends its response, or
 * answers 5xx, releases the key: the retry runs.
 *
 * The wrapping `write`/`end` go once on Express's response prototype (as
 * `safeResponses()` does; shared by every app and sub-app, so a route in a
 * sub-app is recorded too) and pass straight through for a response with
 * nothing to record: own methods on each response cost far more than the
 * one symbol read (measured: tens of µs per request).
 */
function record(res: ServerResponse, init: RecordingInit): void {
  const r = res as Recorded;
  const state: Recording = {
    store: init.store,
    storeKey: init.storeKey,
    claim: init.claim,
    ttlMs: init.ttlMs,
    maxBodyBytes: init.maxBodyBytes,
    report: init.report,
    chunks: [],
    size: 0,
    tooLarge: false,
    settled: false,
  };
  if (!(kOriginals in r)) {
    const proto = sharedResponseProto(res);
    if (proto === undefined) {
      nodeLayer ??= recordingLayer(Object.create(ServerResponse.prototype) as object, ServerResponse.prototype as ServerResponse);
      Object.setPrototypeOf(res, nodeLayer);
    } else recordingLayer(proto, proto as ServerResponse);
  }
  r[kRecording] = state;
  res.on('close', recordClose);
}

/** Defines recording `write` and `end` on `target`, over the methods `source` resolves to now. */
function recordingLayer(target: object, source: ServerResponse): object {
  const originals: Originals = { write: methodOf(source, 'write'), end: methodOf(source, 'end') };
  Object.defineProperty(target, kOriginals, { value: originals, configurable: true });
  Object.defineProperty(target, 'write', { value: recordWrite, configurable: true, writable: true });
  Object.defineProperty(target, 'end', { value: recordEnd, configurable: true, writable: true });
  return target;
}

function capture(rec: Recording, chunk: unknown, encoding: unknown): void {
  if (rec.tooLarge || chunk === undefined || chunk === null || typeof chunk === 'function') return;
  const buffer =
    typeof chunk === 'string'
      ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
      : Buffer.from(chunk as Uint8Array);
  rec.size += buffer.length;
  if (rec.size > rec.maxBodyBytes) {
    rec.tooLarge = true;
    rec.chunks.length = 0;
  } else rec.chunks.push(buffer);
}

function recordWrite(this: Recorded, chunk: unknown, encoding: unknown, callback: unknown): boolean {
  const rec = this[kRecording];
  if (rec !== undefined && !rec.settled) capture(rec, chunk, encoding);
  return this[kOriginals].write.call(this, chunk, encoding, callback) as boolean;
}

function recordEnd(this: Recorded, chunk: unknown, encoding: unknown, callback: unknown): Recorded {
  const rec = this[kRecording];
  const end = this[kOriginals].end;
  if (rec === undefined) {
    end.call(this, chunk, encoding, callback);
    return this;
  }
  if (rec.settled) return this;
  rec.settled = true;
  capture(rec, chunk, encoding);
  const send = (): void => void end.call(this, chunk, encoding, callback);
  if (this.statusCode >= 500) {
    release(rec);
    send();
    return this;
  }
  const response: StoredResponse = {
    statusCode: this.statusCode,
    headers: storedHeaders(this),
    body: rec.tooLarge ? Buffer.alloc(0) : Buffer.concat(rec.chunks),
  };
  rec.store.complete(rec.storeKey, rec.claim, response, rec.ttlMs).then(
    () => {
      rec.report('stored');
      send();
    },
    (error: unknown) => {
      // The effect happened: the client gets its answer; only a lost answer would now run again.
      rec.report('store-unavailable', error);
      send();
    },
  );
  return this;
}

function recordClose(this: Recorded): void {
  const rec = this[kRecording];
  if (rec === undefined || rec.settled) return;
  rec.settled = true;
  release(rec);
}

function release(rec: Recording): void {
  rec.store.release(rec.storeKey, rec.claim).then(
    () => rec.report('released'),
    (error: unknown) => rec.report('store-unavailable', error),
  );
}

function storedHeaders(res: ServerResponse): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name of res.getHeaderNames()) {
    if (NOT_STORED.has(name)) continue;
    const value = res.getHeader(name);
    if (value !== undefined) out[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}
