import http from 'node:http';
import { Agent, fetch, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify, retryVerdict } from '@holdfast/core';
import { rejectionOf } from './fixtures/capture.js';
import { type TestServer, stallBody, stallServer } from './fixtures/servers.js';

describe('classify: timeouts and the caller\'s abort, from real stalls', () => {
  let stall: TestServer;
  let stallingBody: TestServer;
  let agent: Agent;
  beforeAll(async () => {
    stall = await stallServer();
    stallingBody = await stallBody();
    agent = new Agent();
  });
  afterAll(async () => {
    await agent.close();
    await stall.close();
    await stallingBody.close();
  });

  it('undici headersTimeout: UND_ERR_HEADERS_TIMEOUT, transient, request phase', async () => {
    const error = await rejectionOf(request(stall.url, { dispatcher: agent, headersTimeout: 100 }));
    const fault = classify(error);
    expect(fault).toMatchObject({ kind: 'timeout', code: 'UND_ERR_HEADERS_TIMEOUT', phase: 'request', transient: true });
    // Sent but unanswered: a POST may have been applied.
    expect(retryVerdict(fault, { method: 'POST' })).toEqual({ retry: false, reason: 'outcome-unknown' });
    expect(retryVerdict(fault, { method: 'GET' })).toEqual({ retry: true });
  });

  it('undici bodyTimeout: UND_ERR_BODY_TIMEOUT, response phase (also inside fetch\'s `terminated`)', async () => {
    const error = await rejectionOf(async () => {
      const res = await request(stallingBody.url, { dispatcher: agent, bodyTimeout: 100 });
      await res.body.text();
    });
    expect(classify(error)).toMatchObject({ kind: 'timeout', code: 'UND_ERR_BODY_TIMEOUT', phase: 'response', transient: true });
    const slowBody = new Agent({ bodyTimeout: 100 });
    try {
      const viaFetch = await rejectionOf(async () => {
        const res = await fetch(stallingBody.url, { dispatcher: slowBody });
        await res.text();
      });
      expect((viaFetch as Error).message).toBe('terminated');
      expect(classify(viaFetch)).toMatchObject({ kind: 'timeout', code: 'UND_ERR_BODY_TIMEOUT', phase: 'response' });
    } finally {
      await slowBody.close();
    }
  });

  it('undici connect timeout (a TLS handshake nobody answers): UND_ERR_CONNECT_TIMEOUT, connect phase', async () => {
    const connecting = new Agent({ connect: { timeout: 100 } });
    try {
      const error = await rejectionOf(request(`https://${stall.host}:${stall.port}/`, { dispatcher: connecting }));
      expect(classify(error)).toMatchObject({ kind: 'timeout', code: 'UND_ERR_CONNECT_TIMEOUT', phase: 'connect', transient: true });
    } finally {
      await connecting.close();
    }
  });

  it('AbortSignal.timeout(): a DOMException TimeoutError is the caller\'s deadline, kind timeout, never retried', async () => {
    const error = await rejectionOf(fetch(stall.url, { dispatcher: agent, signal: AbortSignal.timeout(50) }));
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('TimeoutError');
    const fault = classify(error);
    expect(fault).toMatchObject({ kind: 'timeout', code: 'TIMEOUT_ERR', transient: false });
    expect(retryVerdict(fault, { method: 'GET', idempotent: true })).toEqual({ retry: false, reason: 'aborted' });
  });

  it('a plain abort: DOMException AbortError is kind aborted, never retried', async () => {
    const controller = new AbortController();
    const pending = rejectionOf(request(stall.url, { dispatcher: agent, signal: controller.signal }));
    setTimeout(() => controller.abort(), 30);
    const fault = classify(await pending);
    expect(fault).toMatchObject({ kind: 'aborted', code: 'ABORT_ERR', transient: false });
    expect(retryVerdict(fault, { idempotent: true })).toEqual({ retry: false, reason: 'aborted' });
  });

  it("node:http with a signal: Node's AbortError (code ABORT_ERR) and, for a deadline, its TimeoutError cause", async () => {
    const aborted = await new Promise<unknown>((resolve) => {
      const controller = new AbortController();
      http.get({ host: stall.host, port: stall.port, agent: false, signal: controller.signal }).on('error', resolve);
      setTimeout(() => controller.abort(), 30);
    });
    expect(aborted).toMatchObject({ code: 'ABORT_ERR', name: 'AbortError' });
    expect(classify(aborted)).toMatchObject({ kind: 'aborted', code: 'ABORT_ERR', transient: false });

    const deadline = await new Promise<unknown>((resolve) => {
      http.get({ host: stall.host, port: stall.port, agent: false, signal: AbortSignal.timeout(30) }).on('error', resolve);
    });
    expect(deadline).toMatchObject({ code: 'ABORT_ERR' });
    expect(classify(deadline)).toMatchObject({ kind: 'timeout', code: 'TIMEOUT_ERR', transient: false });
  });
});
