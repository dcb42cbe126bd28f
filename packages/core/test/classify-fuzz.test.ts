import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, FAULT_PHASES, type Fault, classify, classifyCloseCode, classifyResponse, parseRetryAfter, retryVerdict } from '@holdfast/core';
import { KNOWN_CODES } from '../src/classify/classify.js';

/** mulberry32: a small seeded PRNG, so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = [
  'Error',
  'TypeError',
  'AggregateError',
  'AbortError',
  'TimeoutError',
  'HTTPParserError',
  'HTTPError',
  'MongoNetworkError',
  'MongoServerError',
  'MongoServerSelectionError',
  'RequestError',
  'CanceledError',
  'Mongo',
  '',
];
const MESSAGES = [
  'fetch failed',
  'terminated',
  'socket hang up',
  'aborted',
  'Unexpected server response: 503',
  'Unexpected server response: x',
  'Opening handshake has timed out',
  'wrong version number',
  'https://u:p@h/x?token=1',
  '',
  'x'.repeat(5000),
];
const KEYS = [
  'code',
  'cause',
  'errors',
  'message',
  'name',
  'syscall',
  'response',
  'status',
  'statusCode',
  'headers',
  'event',
  'isAxiosError',
  'errorLabels',
  'fault',
  'rawPacket',
  'data',
  'config',
  'signal',
  'reason',
  'beforeHandshake',
  'codeName',
];

function generate(random: () => number): unknown {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const pool: object[] = [];

  const value = (depth: number): unknown => {
    const r = random();
    if (depth > 4 || r < 0.25) {
      return pick<unknown>([
        undefined,
        null,
        0,
        -1,
        503,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        true,
        10n,
        Symbol('s'),
        () => 1,
        pick(KNOWN_CODES),
        pick(MESSAGES),
        pick(NAMES),
        `E${Math.floor(random() * 1e6)}`,
        Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
        Uint8Array.from([0x15, 3, 1]),
        [pick(KNOWN_CODES), '1'],
        new Date(),
      ]);
    }
    if (r < 0.3 && pool.length > 0) return pick(pool); // a cycle or a shared node
    let node: Record<string, unknown>;
    const shape = random();
    if (shape < 0.3) node = new Error(pick(MESSAGES)) as unknown as Record<string, unknown>;
    else if (shape < 0.4) node = new AggregateError([], pick(MESSAGES)) as unknown as Record<string, unknown>;
    else if (shape < 0.45)
      node = new DOMException(pick(MESSAGES), pick(['AbortError', 'TimeoutError', 'Other'])) as unknown as Record<string, unknown>;
    else if (shape < 0.5) node = Object.create(null) as Record<string, unknown>;
    else if (shape < 0.55) node = [] as unknown as Record<string, unknown>;
    else node = {};
    pool.push(node);
    const count = Math.floor(random() * 6);
    for (let i = 0; i < count; i++) {
      const key = random() < 0.9 ? pick(KEYS) : String(Math.floor(random() * 3));
      const kind = random();
      try {
        if (kind < 0.1) {
          Object.defineProperty(node, key, {
            get: () => {
              throw new Error(`getter ${key} throws`);
            },
            configurable: true,
            enumerable: true,
          });
        } else if (key === 'errors' && kind < 0.6) {
          node[key] = Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
        } else {
          node[key] = value(depth + 1);
        }
      } catch {
        // DOMException and friends have read-only properties; skipping them is fine.
      }
    }
    const wrap = random();
    if (wrap < 0.08) {
      return new Proxy(node, {
        get: () => {
          throw new Error('get trap');
        },
        has: () => {
          throw new Error('has trap');
        },
        ownKeys: () => {
          throw new Error('ownKeys trap');
        },
        getPrototypeOf: () => {
          throw new Error('getPrototypeOf trap');
        },
      });
    }
    if (wrap < 0.12) {
      const { proxy, revoke } = Proxy.revocable(node, {});
      revoke();
      return proxy;
    }
    if (wrap < 0.2) return Object.freeze(node);
    return node;
  };
  return value(0);
}

function expectFault(fault: Fault): void {
  expect(FAULT_KINDS).toContain(fault.kind);
  expect(FAULT_PHASES).toContain(fault.phase);
  expect(typeof fault.code).toBe('string');
  expect(fault.code.length).toBeGreaterThan(0);
  expect(typeof fault.transient).toBe('boolean');
  expect(typeof fault.hint).toBe('string');
  expect(fault.hint.length).toBeGreaterThan(0);
  expect(typeof fault.message).toBe('string');
  expect(fault.message).not.toContain('u:p@');
  if (fault.status !== undefined) expect(Number.isInteger(fault.status)).toBe(true);
  if (fault.retryAfterMs !== undefined) expect(fault.retryAfterMs).toBeGreaterThanOrEqual(0);
}

describe('classify: fuzz', () => {
  it('never throws and always returns a well-formed Fault, for 3000 hostile values', () => {
    const random = prng(0x5eed);
    const contexts = [undefined, {}, { reusedConnection: true, bytesReceived: 0 }, { bytesSent: 5 }, { phase: 'idle' }, null];
    for (let i = 0; i < 3000; i++) {
      const input = generate(random);
      const context = contexts[i % contexts.length] as never;
      let fault: Fault;
      try {
        fault = classify(input, context);
      } catch (error) {
        throw new Error(`classify threw on case ${i}: ${String(error)}`);
      }
      expectFault(fault);
      expect(() => retryVerdict(fault, { method: 'GET' })).not.toThrow();
    }
  });

  it('a context whose getters throw still gets a Fault', () => {
    const context = new Proxy(
      {},
      {
        get: () => {
          throw new Error('trap');
        },
      },
    );
    expectFault(classify(Object.assign(new Error('x'), { code: 'ECONNRESET' }), context));
  });

  it('classifyResponse, classifyCloseCode and parseRetryAfter never throw on junk', () => {
    const random = prng(42);
    for (let i = 0; i < 500; i++) {
      const junk = generate(random);
      expectFault(classifyResponse(junk as number, junk));
      expectFault(classifyCloseCode(junk as number, junk as string));
      const ms = parseRetryAfter(junk);
      if (ms !== undefined) expect(ms).toBeGreaterThanOrEqual(0);
    }
  });
});
