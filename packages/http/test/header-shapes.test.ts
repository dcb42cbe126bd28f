import { Agent, request, type Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { OutcomeUnknownError, createHttpClient, retryInterceptor, type HttpRetryOptions, type ResilientRequestOptions } from '@holdfast/http';
import { constant } from '@holdfast/core';
import { startEffectServer, type EffectServer, type Fault } from './support/effect-server.js';
import { guardEachTest } from './support/process-guard.js';

const fast: HttpRetryOptions = { schedule: constant(5), budget: false, breaker: false };

let server: EffectServer | undefined;
let agent: Agent | undefined;
guardEachTest(async () => {
  await agent?.close();
  await server?.close();
  agent = undefined;
  server = undefined;
});

type Pairs = [string, string | string[] | undefined][];

/**
 * The shapes undici's Request takes for headers: an object (any case), a flat
 * `[name, value, …]` array, and any other object with an iterator yielding
 * `[name, value]` pairs (Headers, Map, a hand-written iterable).
 */
const shapes: { readonly shape: string; readonly make: (pairs: Pairs) => unknown }[] = [
  { shape: 'a plain object', make: (pairs) => Object.fromEntries(pairs) },
  { shape: 'a flat [name, value, …] array', make: (pairs) => pairs.flat() },
  { shape: 'a Headers instance', make: (pairs) => new Headers(pairs.filter((p): p is [string, string] => typeof p[1] === 'string')) },
  { shape: 'a Map', make: (pairs) => new Map(pairs) },
  {
    shape: 'a hand-written iterable of pairs',
    make: (pairs) => ({
      *[Symbol.iterator]() {
        yield* pairs;
      },
    }),
  },
];

const spellings = ['idempotency-key', 'Idempotency-Key', 'IDEMPOTENCY-KEY'];

/** Each request's raw headers as the server got them, per arrival. */
function recordingServer(fault: (arrival: number) => Fault, seen: string[][]): Promise<EffectServer> {
  return startEffectServer((req, arrival) => {
    seen.push(req.rawHeaders);
    return fault(arrival);
  });
}

/** The header lines a caller chose: undici's own (host, connection, content-length) left out, names lower-cased. */
function callerLines(raw: string[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name !== 'host' && name !== 'connection' && name !== 'content-length') lines.push(`${name}: ${raw[i + 1]}`);
  }
  return lines;
}

function post(url: string, headers: unknown, holdfast?: ResilientRequestOptions): Promise<Dispatcher.ResponseData<unknown>> {
  agent ??= new Agent();
  const dispatcher = agent.compose(retryInterceptor(fast));
  return request(url, { dispatcher, method: 'POST', body: 'one order', headers, ...(holdfast === undefined ? {} : { holdfast }) } as Parameters<
    typeof request
  >[1]);
}

// The interceptor reads the headers on two paths: as they are (no per-request options) and while planning per-request options.
const paths: { readonly path: string; readonly holdfast: ResilientRequestOptions | undefined }[] = [
  { path: 'without per-request options', holdfast: undefined },
  { path: 'with per-request options', holdfast: { deadlineMs: 10_000 } },
];

describe.each(paths)("a caller's own Idempotency-Key, $path", ({ holdfast }) => {
  const cases = shapes.flatMap(({ shape, make }) => spellings.map((name) => ({ shape, name, make })));

  it.each(cases)('in $shape as $name: a POST reset after its effect is retried with the same key and applied once', async ({ name, make }) => {
    server = await startEffectServer((_req, arrival) => (arrival === 1 ? 'reset-after-effect' : 'none'));
    const res = await post(
      `${server.url}/orders`,
      make([
        ['x-request-id', 'order-1'],
        [name, 'key-1'],
      ]),
      holdfast,
    );
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('applied order-1 one order');
    expect(server.keys).toEqual(['key-1', 'key-1']);
    expect(server.effects.get('order-1')).toBe(1);
  });
});

describe('idempotencyKey: true', () => {
  // What a caller sends beside the key: a list value, mixed case, a name given twice (kept twice by the shapes that can),
  // and an undefined value undici leaves out.
  const pairs: Pairs = [
    ['x-request-id', 'order-2'],
    ['Content-Type', 'text/plain'],
    ['x-tag', ['a', 'b']],
    ['X-Tenant', 'acme'],
    ['x-via', 'proxy-a'],
    ['x-via', 'proxy-b'],
    ['x-trace', undefined],
  ];

  it.each(shapes)(
    "in $shape: the generated key is added, the same on every attempt, and the caller's other headers go as they would have gone",
    async ({ make }) => {
      const seen: string[][] = [];
      server = await recordingServer((arrival) => (arrival === 2 ? 'reset-after-effect' : 'none'), seen);
      // What undici sends for these headers without holdfast's key: the reference.
      const plain = await request(`${server.url}/orders`, {
        method: 'POST',
        body: 'one order',
        headers: make(pairs) as Record<string, string>,
        dispatcher: (agent ??= new Agent()),
      });
      await plain.body.dump();
      const res = await post(`${server.url}/orders`, make(pairs), { idempotencyKey: true });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      expect(seen).toHaveLength(3);
      const [reference, first, second] = seen.map(callerLines) as [string[], string[], string[]];
      expect(server.keys).toHaveLength(2);
      expect(server.keys[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect(server.keys[1]).toBe(server.keys[0]);
      for (const attempt of [first, second]) {
        expect(attempt.filter((line) => line.startsWith('idempotency-key:'))).toEqual([`idempotency-key: ${server.keys[0]}`]);
        expect(attempt.filter((line) => !line.startsWith('idempotency-key:'))).toEqual(reference);
      }
      // The reference request was applied too; the keyed one once, whatever the reset.
      expect(server.effects.get('order-2')).toBe(2);
    },
  );

  // As with the fetch face (Headers.set), the option wins over a key already in the headers.
  it.each(shapes)('in $shape that already carries a key: only the generated key goes, the same on every attempt', async ({ make }) => {
    const seen: string[][] = [];
    server = await recordingServer((arrival) => (arrival === 1 ? 'reset-after-effect' : 'none'), seen);
    const res = await post(
      `${server.url}/orders`,
      make([
        ['x-request-id', 'order-3'],
        ['Idempotency-Key', 'caller-key'],
      ]),
      { idempotencyKey: true },
    );
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(seen).toHaveLength(2);
    const keyLines = seen.map((raw) => callerLines(raw).filter((line) => line.startsWith('idempotency-key:')));
    expect(keyLines[0]).toHaveLength(1);
    expect(keyLines[0]![0]).toMatch(/^idempotency-key: [0-9a-f-]{36}$/);
    expect(keyLines[1]).toEqual(keyLines[0]);
    expect(server.effects.get('order-3')).toBe(1);
  });

  it('with createHttpClient().request and a key in a Headers instance, the key and the other headers reach the server', async () => {
    server = await startEffectServer((_req, arrival) => (arrival === 1 ? 'reset-after-effect' : 'none'));
    const client = createHttpClient(fast);
    try {
      const res = await client.request(`${server.url}/orders`, {
        method: 'POST',
        body: 'one order',
        headers: new Headers({ 'X-Request-Id': 'order-4' }) as unknown as Record<string, string>,
        idempotencyKey: 'client-key',
      });
      expect(await res.body.text()).toBe('applied order-4 one order');
      expect(server.keys).toEqual(['client-key', 'client-key']);
      expect(server.effects.get('order-4')).toBe(1);
    } finally {
      await client.close();
    }
  });
});

describe('a header holdfast sets itself', () => {
  it("a FormData body goes with one Content-Type, the one naming its boundary, in place of the caller's", async () => {
    const seen: string[][] = [];
    server = await recordingServer(() => 'none', seen);
    const client = createHttpClient(fast);
    try {
      const form = new FormData();
      form.set('item', 'one order');
      const res = await client.request(`${server.url}/orders`, {
        method: 'POST',
        body: form,
        headers: { 'Content-Type': 'multipart/form-data', 'x-request-id': 'order-8' },
      });
      expect(res.statusCode).toBe(200);
      const applied = await res.body.text();
      const types = callerLines(seen[0]!).filter((line) => line.startsWith('content-type:'));
      expect(types).toHaveLength(1);
      const boundary = /boundary=(.+)$/.exec(types[0]!)?.[1];
      expect(boundary).toBeDefined();
      expect(applied).toContain(`--${boundary}`);
      expect(applied).toContain('one order');
    } finally {
      await client.close();
    }
  });
});

describe('headers that carry no key', () => {
  // Headers cannot hold undefined; every other shape can, and undici then sends no such header.
  const cases = shapes
    .filter(({ shape }) => shape !== 'a Headers instance')
    .flatMap(({ shape, make }) => spellings.map((name) => ({ shape, name, make })));

  it.each(cases)('in $shape, an $name left undefined (undici sends none) does not make a POST repeatable', async ({ name, make }) => {
    server = await startEffectServer(() => 'reset-after-effect');
    const error = await post(
      `${server.url}/orders`,
      make([
        ['x-request-id', 'order-5'],
        [name, undefined],
      ]),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect(server.keys).toEqual([]);
    expect(server.effects.get('order-5')).toBe(1);
  });

  it("an array of [name, value] pairs, which undici itself refuses, fails with undici's error and sends nothing", async () => {
    server = await startEffectServer();
    const error = await post(`${server.url}/orders`, [
      ['x-request-id', 'order-6'],
      ['Idempotency-Key', 'key-6'],
    ]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(server.arrivals).toBe(0);
  });
});

describe('a one-shot iterator of pairs (map.entries())', () => {
  it.each<Dispatcher.HttpMethod>(['GET', 'POST'])('a %s carries every header, the key included, on every attempt', async (method) => {
    const seen: string[][] = [];
    server = await recordingServer((arrival) => (arrival === 1 ? 'reset-after-effect' : 'none'), seen);
    const headers = new Map([
      ['x-request-id', 'order-7'],
      ['Idempotency-Key', 'key-7'],
    ]).entries();
    agent = new Agent();
    const res = await request(`${server.url}/orders`, {
      dispatcher: agent.compose(retryInterceptor(fast)),
      method,
      headers,
      ...(method === 'POST' ? { body: 'one order' } : {}),
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(seen.map(callerLines)).toEqual([
      ['x-request-id: order-7', 'idempotency-key: key-7'],
      ['x-request-id: order-7', 'idempotency-key: key-7'],
    ]);
    expect(server.effects.get('order-7')).toBe(1);
  });
});
