import http from 'node:http';
import { Agent, fetch, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChaosProxy, createChaosProxy } from '@holdfast/chaos';
import { classify, retryVerdict } from '@holdfast/core';
import { rejectionOf } from './fixtures/capture.js';
import { type TestServer, stallBody, stallServer, statusServer } from './fixtures/servers.js';

describe("classify: timeouts and the caller's abort, from real stalls", () => {
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

  it("undici bodyTimeout: UND_ERR_BODY_TIMEOUT, response phase (also inside fetch's `terminated`)", async () => {
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

  it("AbortSignal.timeout(): a DOMException TimeoutError is the caller's deadline, kind timeout, never retried", async () => {
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

describe('classify: headers and body timeouts through the chaos proxy, in front of a healthy server', () => {
  let origin: TestServer;
  let proxy: ChaosProxy;
  let agent: Agent;
  beforeAll(async () => {
    // 4 KiB of body, so that a sliced response still has chunks to wait for after its headers.
    origin = await statusServer(200, { 'content-type': 'text/plain', 'content-length': String(4096) }, '127.0.0.1', 'x'.repeat(4096));
    proxy = await createChaosProxy({ upstream: { host: origin.host, port: origin.port } });
    agent = new Agent();
  });
  afterAll(async () => {
    await agent.close();
    await proxy.close();
    await origin.close();
  });

  it('a `timeout` toxic (silent connection) on the reply: UND_ERR_HEADERS_TIMEOUT, request phase', async () => {
    const stall = proxy.addToxic({ type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } });
    try {
      const error = await rejectionOf(request(proxy.url(), { dispatcher: agent, headersTimeout: 150 }));
      expect(classify(error, { method: 'GET' })).toMatchObject({
        kind: 'timeout',
        code: 'UND_ERR_HEADERS_TIMEOUT',
        phase: 'request',
        transient: true,
      });
    } finally {
      proxy.removeToxic(stall);
    }
  });

  it('a `slicer` toxic that trickles the reply: the headers arrive, the body stalls between slices: UND_ERR_BODY_TIMEOUT', async () => {
    // Slices of 256 bytes, 1.5 s apart: the headers arrive in the first slice, the next body slice comes
    // long after bodyTimeout. (undici checks headers and body timeouts on a coarse ~0.5 s clock, and each
    // chunk restarts the count: slices 0.4 s apart never trip a 150 ms bodyTimeout.)
    const trickle = proxy.addToxic({ type: 'slicer', stream: 'downstream', attributes: { average_size: 256, size_variation: 0, delay: 1_500_000 } });
    try {
      const error = await rejectionOf(async () => {
        const res = await request(proxy.url(), { dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 150 });
        expect(res.statusCode).toBe(200);
        await res.body.text();
      });
      const fault = classify(error, { method: 'GET' });
      expect(fault).toMatchObject({ kind: 'timeout', code: 'UND_ERR_BODY_TIMEOUT', phase: 'response', transient: true });
      // The response had started: a POST in this state was certainly received.
      expect(retryVerdict(classify(error, { method: 'POST' }), { method: 'POST' })).toEqual({ retry: false, reason: 'outcome-unknown' });
    } finally {
      proxy.removeToxic(trickle);
    }
  });
});
