import { describe, expect, it } from 'vitest';
import { type Fault, classify, classifyCloseCode, classifyResponse, isIdempotentMethod, isSafeToRetry, retryVerdict } from '@holdfast/core';

const fault = (over: Partial<Fault>): Fault => ({
  kind: 'connection-reset',
  code: 'ECONNRESET',
  phase: 'unknown',
  transient: true,
  hint: 'h; x',
  message: '',
  ...over,
});

describe('retryVerdict / isSafeToRetry', () => {
  it('a fault that cannot get better is not retried, whatever the method', () => {
    expect(retryVerdict(fault({ transient: false }), { method: 'GET' })).toEqual({ retry: false, reason: 'not-transient' });
    expect(retryVerdict(classifyResponse(404), { method: 'GET' })).toEqual({ retry: false, reason: 'not-transient' });
  });

  it('nothing reached the peer (connect) or a stale pooled connection (idle): any operation may be retried', () => {
    expect(retryVerdict(fault({ phase: 'connect' }), { method: 'POST' })).toEqual({ retry: true });
    expect(retryVerdict(fault({ phase: 'idle' }), { method: 'POST' })).toEqual({ retry: true });
    expect(retryVerdict(fault({ phase: 'connect' }))).toEqual({ retry: true });
  });

  it('after the request went out, only idempotent operations', () => {
    for (const phase of ['request', 'response', 'unknown'] as const) {
      expect(retryVerdict(fault({ phase }), { method: 'POST' })).toEqual({ retry: false, reason: 'outcome-unknown' });
      expect(retryVerdict(fault({ phase }), { method: 'PATCH' })).toEqual({ retry: false, reason: 'outcome-unknown' });
      expect(retryVerdict(fault({ phase }))).toEqual({ retry: false, reason: 'outcome-unknown' });
      expect(retryVerdict(fault({ phase }), { method: 'get' })).toEqual({ retry: true });
      expect(retryVerdict(fault({ phase }), { method: 'POST', idempotent: true })).toEqual({ retry: true });
      expect(retryVerdict(fault({ phase }), { method: 'POST', idempotencyKey: 'k-1' })).toEqual({ retry: true });
      expect(retryVerdict(fault({ phase }), { method: 'POST', idempotencyKey: true })).toEqual({ retry: true });
      expect(retryVerdict(fault({ phase }), { method: 'POST', idempotencyKey: '' })).toEqual({ retry: false, reason: 'outcome-unknown' });
      expect(retryVerdict(fault({ phase }), { method: 'POST', idempotencyKey: false })).toEqual({ retry: false, reason: 'outcome-unknown' });
    }
  });

  it("the caller's `idempotent: false` overrides an idempotent method", () => {
    expect(retryVerdict(fault({ phase: 'request' }), { method: 'PUT', idempotent: false })).toEqual({ retry: false, reason: 'outcome-unknown' });
  });

  it('425 and 429 mean the server did not process the request: safe even for POST; 503 is not', () => {
    expect(retryVerdict(classifyResponse(429), { method: 'POST' })).toEqual({ retry: true });
    expect(retryVerdict(classifyResponse(425), { method: 'POST' })).toEqual({ retry: true });
    expect(retryVerdict(classifyResponse(503), { method: 'POST' })).toEqual({ retry: false, reason: 'outcome-unknown' });
    expect(retryVerdict(classifyResponse(503), { method: 'GET' })).toEqual({ retry: true });
  });

  it("the caller's abort or deadline is never retried, even when it claims to be transient", () => {
    expect(retryVerdict(fault({ kind: 'aborted', transient: true, phase: 'connect' }), { idempotent: true })).toEqual({
      retry: false,
      reason: 'aborted',
    });
    expect(retryVerdict(classify(new DOMException('x', 'TimeoutError')), { idempotent: true })).toEqual({ retry: false, reason: 'aborted' });
    expect(retryVerdict(classify(new DOMException('x', 'AbortError')), { method: 'GET' })).toEqual({ retry: false, reason: 'aborted' });
  });

  it('isSafeToRetry is the verdict as a boolean', () => {
    expect(isSafeToRetry(fault({ phase: 'connect' }))).toBe(true);
    expect(isSafeToRetry(fault({ phase: 'request' }), { method: 'POST' })).toBe(false);
    expect(isSafeToRetry(classifyCloseCode(1006), { idempotent: true })).toBe(true);
  });

  it('verdicts are shared frozen values', () => {
    expect(retryVerdict(fault({ phase: 'connect' }))).toBe(retryVerdict(fault({ phase: 'idle' })));
    expect(Object.isFrozen(retryVerdict(fault({})))).toBe(true);
  });

  it('idempotent methods (RFC 9110 and QUERY), any case', () => {
    for (const m of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'QUERY', 'get', 'Put']) expect(isIdempotentMethod(m)).toBe(true);
    for (const m of ['POST', 'PATCH', 'CONNECT', 'post', '']) expect(isIdempotentMethod(m)).toBe(false);
  });
});
