import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { REDACTED, TypedEvents, redact, redactHeaders, redactText } from '@holdfast/core';

describe('redact', () => {
  it('strips URL userinfo and credential query values from text', () => {
    const text = 'GET https://alice:s3cret@api.example.com/x?token=abc&page=2 failed';
    const out = redactText(text);
    expect(out).not.toContain('s3cret');
    expect(out).not.toContain('alice');
    expect(out).not.toContain('abc');
    expect(out).toContain('page=2');
    expect(out).toContain(`https://${REDACTED}@api.example.com`);
  });

  it('leaves text without URLs untouched (same string)', () => {
    const text = 'connect ECONNREFUSED 127.0.0.1:9';
    expect(redactText(text)).toBe(text);
  });

  it('redacts secret headers in every header shape', () => {
    const shapes: unknown[] = [
      { Authorization: 'Bearer x', cookie: 'a=b', accept: '*/*' },
      [
        ['authorization', 'Bearer x'],
        ['cookie', 'a=b'],
        ['accept', '*/*'],
      ],
      ['authorization', 'Bearer x', 'cookie', 'a=b', 'accept', '*/*'],
      new Headers({ authorization: 'Bearer x', cookie: 'a=b', accept: '*/*' }),
    ];
    for (const headers of shapes) {
      const out = redactHeaders(headers);
      const values = Object.entries(out).map(([k, v]) => [k.toLowerCase(), v]);
      expect(Object.fromEntries(values)).toEqual({ authorization: REDACTED, cookie: REDACTED, accept: '*/*' });
    }
  });

  it('redacts nested payloads, survives cycles and throwing getters', () => {
    const payload: Record<string, unknown> = {
      url: new URL('http://u:p@h.test/path'),
      request: { headers: { 'proxy-authorization': 'Basic zz', 'x-id': '1' }, password: 'pw' },
    };
    payload.self = payload;
    Object.defineProperty(payload, 'bad', {
      enumerable: true,
      get: () => {
        throw new Error('boom');
      },
    });
    const out = redact(payload) as Record<string, any>;
    expect(out.url).toBe(`http://${REDACTED}@h.test/path`);
    expect(out.request.headers['proxy-authorization']).toBe(REDACTED);
    expect(out.request.headers['x-id']).toBe('1');
    expect(out.request.password).toBe(REDACTED);
    expect(out.self).toBe('[…]');
    expect('bad' in out).toBe(false);
  });
});

describe('TypedEvents', () => {
  interface Ev {
    ping: { n: number; url: string };
  }

  it('delivers to listeners and to the diagnostics channel, redacted', () => {
    const events = new TypedEvents<Ev>({ ping: 'test-ping' });
    const got: number[] = [];
    const off = events.on('ping', (p) => got.push(p.n));
    const published: unknown[] = [];
    const onMessage = (m: unknown): void => {
      published.push(m);
    };
    diagnosticsChannel.subscribe('holdfast:test-ping', onMessage);
    events.emit('ping', { n: 1, url: 'http://a:b@x.test/' });
    off();
    events.emit('ping', { n: 2, url: 'http://x.test/' });
    diagnosticsChannel.unsubscribe('holdfast:test-ping', onMessage);
    expect(got).toEqual([1]);
    expect(published).toEqual([
      { n: 1, url: `http://${REDACTED}@x.test/` },
      { n: 2, url: 'http://x.test/' },
    ]);
  });

  it('turns a throwing listener into a process warning, never a throw', async () => {
    const events = new TypedEvents<Ev>();
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    let second = 0;
    events.once('ping', () => {
      throw new Error('listener bug');
    });
    events.on('ping', () => {
      second++;
    });
    expect(() => events.emit('ping', { n: 1, url: '' })).not.toThrow();
    events.emit('ping', { n: 2, url: '' });
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    expect(second).toBe(2);
    expect(events.listenerCount('ping')).toBe(1);
    expect(warnings.map((w) => w.message)).toEqual([expect.stringContaining('listener bug')]);
    events.clear();
    expect(events.listenerCount('ping')).toBe(0);
  });
});
