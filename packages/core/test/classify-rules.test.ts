import { describe, expect, it } from 'vitest';
import {
  FAULT_KINDS,
  FAULT_PHASES,
  HoldfastError,
  RetryError,
  classify,
  classifyCloseCode,
  classifyResponse,
  parseRetryAfter,
  type Fault,
} from '@holdfast/core';

/** A Node system error of the shape libuv produces (for chain tests whose point is the chain, not the socket). */
const systemError = (code: string, syscall = 'read'): Error => Object.assign(new Error(`${syscall} ${code}`), { code, syscall, errno: -1 });

describe('classify: walking causes', () => {
  it('picks the innermost concrete code through wrappers', () => {
    const inner = systemError('ECONNRESET');
    const wrapped = new Error('request failed', { cause: new Error('socket problem', { cause: inner }) });
    expect(classify(wrapped)).toMatchObject({ kind: 'connection-reset', code: 'ECONNRESET', message: 'read ECONNRESET' });
  });

  it('a concrete code beats a deeper wrapper', () => {
    const chain = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:80'), {
      code: 'ECONNREFUSED',
      syscall: 'connect',
      cause: new TypeError('fetch failed'),
    });
    expect(classify(chain)).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('in an AggregateError, the refusal beats a local no-route (it says more about the peer)', () => {
    const aggregate = new AggregateError([systemError('ENETUNREACH', 'connect'), systemError('ECONNREFUSED', 'connect')], '');
    expect(classify(aggregate)).toMatchObject({ kind: 'connection-refused', code: 'ECONNREFUSED', phase: 'connect' });
  });

  it('cyclic causes terminate', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(classify(a)).toMatchObject({ kind: 'unknown', code: 'UNKNOWN' });
    const c = systemError('EPIPE', 'write') as Error & { cause?: unknown };
    c.cause = c;
    expect(classify(c)).toMatchObject({ kind: 'broken-pipe', code: 'EPIPE' });
  });

  it('depth is bounded: a code deeper than the bound is not found, and nothing hangs', () => {
    let deep: Error = systemError('ECONNRESET');
    for (let i = 0; i < 50; i++) deep = new Error(`level ${i}`, { cause: deep });
    expect(classify(deep).code).toBe('UNKNOWN');
    let shallow: Error = systemError('ECONNRESET');
    for (let i = 0; i < 5; i++) shallow = new Error(`level ${i}`, { cause: shallow });
    expect(classify(shallow).code).toBe('ECONNRESET');
  });

  it('an unrecognised code is kept as the code (innermost wins), kind unknown, not transient', () => {
    const error = new Error('outer', { cause: Object.assign(new Error('inner'), { code: 'ESOMETHING_NEW' }) });
    expect(classify(error)).toMatchObject({ kind: 'unknown', code: 'ESOMETHING_NEW', transient: false });
    expect(classify(Object.assign(new Error('x'), { code: 'EWHAT' }))).toMatchObject({ kind: 'unknown', code: 'EWHAT' });
    expect(classify(Object.assign(new Error('x'), { code: 42 }))).toMatchObject({ kind: 'unknown', code: '42' });
    expect(classify(new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'EODD' }) }))).toMatchObject({ code: 'EODD' });
    expect(classify(new TypeError('fetch failed'))).toMatchObject({ kind: 'unknown', code: 'FETCH_FAILED' });
  });

  it('code families: unknown TLS, llhttp and ws framing codes still get their kind', () => {
    expect(classify(Object.assign(new Error('x'), { code: 'ERR_SSL_SOMETHING_NEW' }))).toMatchObject({
      kind: 'tls',
      code: 'ERR_SSL_SOMETHING_NEW',
      transient: false,
    });
    expect(classify(Object.assign(new Error('x'), { code: 'HPE_INVALID_CHUNK_SIZE' }))).toMatchObject({
      kind: 'protocol',
      code: 'HPE_INVALID_CHUNK_SIZE',
    });
    expect(classify(Object.assign(new Error('x'), { code: 'WS_ERR_INVALID_OPCODE' }))).toMatchObject({
      kind: 'protocol',
      code: 'WS_ERR_INVALID_OPCODE',
    });
  });

  it('an error that carries a Fault returns it unchanged, also from inside a chain', () => {
    const fault = classifyResponse(503);
    const error = new RetryError(fault, 3, 'attempts-exhausted', new Error('x'));
    expect(classify(error)).toBe(fault);
    expect(classify(new Error('wrapped', { cause: error }))).toBe(fault);
    // Something merely called `fault` is not a Fault.
    expect(classify(Object.assign(systemError('ECONNRESET'), { fault: { kind: 'nope' } })).code).toBe('ECONNRESET');
    expect(new HoldfastError('x', fault).code).toBe('HTTP_503');
  });

  it('library errors with codes no loopback test reaches', () => {
    const shaped = (message: string, fields: object): Error => Object.assign(new Error(message), fields);
    expect(classify(shaped('Stream closed with error code NGHTTP2_REFUSED_STREAM', { code: 'ERR_HTTP2_STREAM_ERROR' }))).toMatchObject({
      kind: 'connection-refused',
      phase: 'connect',
      transient: true,
    });
    expect(classify(shaped('Stream closed with error code NGHTTP2_INTERNAL_ERROR', { code: 'ERR_HTTP2_STREAM_ERROR' }))).toMatchObject({
      kind: 'connection-reset',
      phase: 'unknown',
    });
    expect(classify(shaped('Network Error', { code: 'ERR_NETWORK', isAxiosError: true }))).toMatchObject({ code: 'ERR_NETWORK', transient: true });
    expect(classify(shaped('maxContentLength size of 10 exceeded', { code: 'ERR_BAD_RESPONSE', isAxiosError: true }))).toMatchObject({
      kind: 'protocol',
      transient: false,
    });
    // A got ReadError: the body stream failed; its cause says why, and it proves the response phase.
    const readError = shaped('read ECONNRESET', { name: 'ReadError', code: 'ERR_READING_RESPONSE_STREAM', cause: systemError('ECONNRESET') });
    expect(classify(readError)).toMatchObject({ kind: 'connection-reset', code: 'ECONNRESET', phase: 'response' });
    expect(classify(new TypeError('Failed to parse URL from x'))).toMatchObject({ kind: 'unknown' });
    expect(
      classify(
        shaped('Request failed', {
          name: 'HTTPError',
          code: 'ERR_NON_2XX_3XX_RESPONSE',
          response: { statusCode: 429, headers: { 'retry-after': '3' } },
        }),
      ),
    ).toMatchObject({
      code: 'HTTP_429',
      retryAfterMs: 3000,
    });
  });

  it('primitives and strings', () => {
    expect(classify('socket hang up')).toMatchObject({ kind: 'connection-reset', code: 'ECONNRESET', message: 'socket hang up' });
    expect(classify('Unexpected server response: 503')).toMatchObject({ kind: 'http-status', status: 503 });
    expect(classify('boom')).toMatchObject({ kind: 'unknown', message: 'boom' });
    expect(classify(404)).toMatchObject({ kind: 'unknown', message: '404' });
    expect(classify(undefined)).toMatchObject({ kind: 'unknown', code: 'UNKNOWN', message: '' });
    expect(classify(null)).toMatchObject({ kind: 'unknown', message: '' });
  });

  it('messages lose URL credentials and are bounded', () => {
    const error = systemError('ECONNRESET');
    error.message = 'GET https://bob:hunter2@api.example.com/x?token=abc failed';
    const fault = classify(error);
    expect(fault.message).not.toContain('hunter2');
    expect(fault.message).not.toContain('abc');
    expect(classify(Object.assign(new Error('y'.repeat(100_000)), { code: 'ECONNRESET' })).message.length).toBeLessThan(1100);
  });
});

describe('classify: phase from context', () => {
  const reset = systemError('ECONNRESET');
  it.each([
    [{}, 'unknown'],
    [{ bytesSent: 0 }, 'unknown'],
    [{ bytesSent: 10 }, 'request'],
    [{ bytesSent: 10, bytesReceived: 3 }, 'response'],
    [{ reusedConnection: true }, 'unknown'],
    [{ reusedConnection: true, bytesReceived: 0 }, 'idle'],
    [{ reusedConnection: true, bytesReceived: 0, bytesSent: 200 }, 'idle'],
    [{ reusedConnection: true, bytesReceived: 5 }, 'response'],
    [{ phase: 'request' }, 'request'],
    [{ phase: 'bogus' }, 'unknown'],
  ] as const)('a reset with %o is %s', (context, phase) => {
    expect(classify(reset, context as never).phase).toBe(phase);
  });

  it('the idle rule is for dropped connections only: a timeout on a reused connection is not idle', () => {
    expect(classify(systemError('ETIMEDOUT'), { reusedConnection: true, bytesReceived: 0 }).phase).toBe('unknown');
  });

  it('a connect-phase error stays connect whatever the byte counts say', () => {
    expect(classify(systemError('ECONNREFUSED', 'connect'), { bytesSent: 5, bytesReceived: 5, reusedConnection: true }).phase).toBe('connect');
  });
});

describe('classifyResponse', () => {
  it.each([408, 425, 429, 500, 502, 503, 504])('%i is transient', (status) => {
    expect(classifyResponse(status)).toMatchObject({ kind: 'http-status', code: `HTTP_${status}`, status, transient: true, phase: 'response' });
  });
  it.each([400, 401, 403, 404, 409, 413, 421, 422, 431, 501, 505, 511, 599, 418])('%i is not', (status) => {
    expect(classifyResponse(status).transient).toBe(false);
  });
  it('non-error and invalid statuses', () => {
    expect(classifyResponse(200)).toMatchObject({ kind: 'http-status', transient: false, hint: 'not an error status; nothing to retry' });
    expect(classifyResponse(99)).toMatchObject({ kind: 'protocol', code: 'HTTP_INVALID_STATUS' });
    expect(classifyResponse(503.5)).toMatchObject({ code: 'HTTP_INVALID_STATUS' });
    expect(classifyResponse(Number.NaN)).toMatchObject({ code: 'HTTP_INVALID_STATUS' });
  });
  it('reads Retry-After from every header shape', () => {
    const now = Date.now();
    expect(classifyResponse(503, { 'retry-after': '2' }).retryAfterMs).toBe(2000);
    expect(classifyResponse(503, { 'Retry-After': '3' }).retryAfterMs).toBe(3000);
    expect(classifyResponse(429, new Headers({ 'retry-after': '4' })).retryAfterMs).toBe(4000);
    expect(classifyResponse(429, ['content-type', 'text/plain', 'retry-after', '5']).retryAfterMs).toBe(5000);
    expect(classifyResponse(429, [Buffer.from('Retry-After'), Buffer.from('6')]).retryAfterMs).toBe(6000);
    expect(classifyResponse(503, new Map([['retry-after', '1']])).retryAfterMs).toBe(1000);
    expect(classifyResponse(503, { 'grpc-retry-pushback-ms': '250' }).retryAfterMs).toBe(250);
    const date = classifyResponse(503, { 'retry-after': new Date(now + 60_000).toUTCString() }).retryAfterMs!;
    expect(date).toBeGreaterThan(55_000);
    expect(date).toBeLessThanOrEqual(60_000);
    expect(classifyResponse(503, {}).retryAfterMs).toBeUndefined();
    expect('retryAfterMs' in classifyResponse(503)).toBe(false);
  });
  it('context phase and a message', () => {
    expect(classifyResponse(503, undefined, { phase: 'request' }).phase).toBe('request');
    expect(classifyResponse(503).message).toBe('HTTP 503 Service Unavailable');
  });
  it('never throws on hostile headers', () => {
    const hostile = new Proxy(
      {},
      {
        get: () => {
          throw new Error('trap');
        },
        ownKeys: () => {
          throw new Error('trap');
        },
      },
    );
    expect(classifyResponse(503, hostile)).toMatchObject({ code: 'HTTP_503' });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it.each([
    ['120', 120_000],
    [' 7 ', 7000],
    ['0', 0],
    ['1.5', 1500],
    [3, 3000],
    [['9', '1'], 9000],
    ['Thu, 01 Jan 2026 00:00:30 GMT', 30_000],
    ['Thursday, 01-Jan-26 00:00:30 GMT', 30_000],
    ['Thu Jan  1 00:00:30 2026', 30_000],
    ['Wed, 31 Dec 2025 23:00:00 GMT', 0],
  ] as const)('%o -> %i ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
  it.each([['-1'], ['abc'], [''], [-5], [Number.POSITIVE_INFINITY], [null], [{}], [[]], ['2026-01-01'], ['1e3'], ['9'.repeat(400)]])(
    '%o -> undefined',
    (value) => {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    },
  );
});

describe('classifyCloseCode', () => {
  it.each([
    [1000, 'closed', false],
    [1001, 'closed', true],
    [1002, 'protocol', false],
    [1003, 'protocol', false],
    [1005, 'closed', true],
    [1006, 'connection-reset', true],
    [1007, 'protocol', false],
    [1008, 'closed', false],
    [1009, 'protocol', false],
    [1010, 'protocol', false],
    [1011, 'closed', true],
    [1012, 'closed', true],
    [1013, 'closed', true],
    [1014, 'closed', true],
    [1015, 'tls', false],
    [3000, 'closed', false],
    [4000, 'closed', false],
    [4999, 'closed', false],
    [1004, 'protocol', false],
    [2000, 'protocol', false],
  ] as const)('%i: %s, transient %s', (code, kind, transient) => {
    expect(classifyCloseCode(code)).toMatchObject({ kind, transient, code: `WS_${code}` });
  });
  it('1009 hints at maxPayload; invalid codes; reasons as Buffer, redacted', () => {
    expect(classifyCloseCode(1009).hint).toContain('maxPayload');
    expect(classifyCloseCode(5000).code).toBe('WS_INVALID_CLOSE_CODE');
    expect(classifyCloseCode(-1).code).toBe('WS_INVALID_CLOSE_CODE');
    expect(classifyCloseCode(Number.NaN).code).toBe('WS_INVALID_CLOSE_CODE');
    expect(classifyCloseCode(1011, Buffer.from('db at mongodb://u:pw@db:27017 down')).message).not.toContain('pw@');
    expect(classifyCloseCode(1000, '').message).toBe('WebSocket closed with code 1000');
    expect(classifyCloseCode(1012, undefined, { phase: 'response' }).phase).toBe('response');
  });
});

describe('every hint', () => {
  it('is one line that names a cause and a fix, and every Fault is well formed', () => {
    const faults: Fault[] = [
      ...[1000, 1001, 1006, 1009, 1011, 4000].map((c) => classifyCloseCode(c)),
      ...[400, 404, 429, 503].map((s) => classifyResponse(s)),
      ...['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'CERT_HAS_EXPIRED', 'UND_ERR_SOCKET'].map((c) => classify(systemError(c))),
    ];
    for (const fault of faults) {
      expect(FAULT_KINDS).toContain(fault.kind);
      expect(FAULT_PHASES).toContain(fault.phase);
      expect(fault.hint).not.toContain('\n');
      expect(fault.hint).toMatch(/;/);
    }
  });
});
