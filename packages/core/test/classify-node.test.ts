import dns from 'node:dns';
import http from 'node:http';
import net from 'node:net';
import { finished } from 'node:stream';
import { Agent, fetch, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify, type Fault } from '@holdfast/core';
import { errorEventOf, httpGetError, rejectionOf } from './fixtures/capture.js';
import {
  type TestServer,
  closeOnRequest,
  closedPort,
  expectHandlesBackTo,
  openNetworkHandles,
  resetAfterHeaders,
  resetOnRequest,
  resetOnReuse,
  tcpServer,
} from './fixtures/servers.js';

const IDLE_HINT =
  "the server's keep-alive timeout is shorter than the client's idle timeout; lower the client's keep-alive timeout below the server's";

/** A lookup that answers like a dual-stack `localhost` (::1 first), whatever /etc/hosts says. */
const dualStackLookup = ((_host: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
  const all = [
    { address: '::1', family: 6 },
    { address: '127.0.0.1', family: 4 },
  ];
  if (options.all === true) callback(null, all);
  else callback(null, all[0]!.address, all[0]!.family);
}) as unknown as net.LookupFunction;

function expectValidFault(fault: Fault): void {
  expect(typeof fault.hint).toBe('string');
  expect(fault.hint.length).toBeGreaterThan(20);
  expect(fault.hint).not.toContain('\n');
}

describe('classify: Node system errors from real sockets', () => {
  let agent: Agent;
  let handlesBefore: number;
  beforeAll(() => {
    handlesBefore = openNetworkHandles();
    agent = new Agent();
  });
  afterAll(async () => {
    await agent.close();
    // Every server and client socket of this file is gone again.
    await expectHandlesBackTo(handlesBefore);
  });

  describe('a server that resets the connection (RST) on the request', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await resetOnRequest();
    });
    afterAll(() => server.close());

    it('node:http: read ECONNRESET is a transient connection-reset of unknown phase', async () => {
      const error = await httpGetError({ host: server.host, port: server.port });
      expect(error).toMatchObject({ code: 'ECONNRESET', syscall: 'read' });
      const fault = classify(error);
      expect(fault).toMatchObject({ kind: 'connection-reset', code: 'ECONNRESET', phase: 'unknown', transient: true, message: 'read ECONNRESET' });
      expectValidFault(fault);
    });

    it('the request phase when the caller says bytes were sent, response when bytes came back', async () => {
      const error = await httpGetError({ host: server.host, port: server.port });
      expect(classify(error, { bytesSent: 80 }).phase).toBe('request');
      expect(classify(error, { bytesSent: 80, bytesReceived: 10 }).phase).toBe('response');
      expect(classify(error, { phase: 'connect' }).phase).toBe('connect');
    });

    it('undici.request rejects with the same ECONNRESET', async () => {
      const error = await rejectionOf(request(server.url, { dispatcher: agent }));
      expect(classify(error)).toMatchObject({ kind: 'connection-reset', code: 'ECONNRESET', transient: true });
    });

    it("fetch's TypeError('fetch failed') is looked through to its cause", async () => {
      const error = await rejectionOf(fetch(server.url, { dispatcher: agent }));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toBe('fetch failed');
      const fault = classify(error);
      expect(fault).toMatchObject({ kind: 'connection-reset', code: 'ECONNRESET', transient: true, message: 'read ECONNRESET' });
    });
  });

  it('a reset on a reused keep-alive connection before any response byte is the idle phase, with the keep-alive hint', async () => {
    const server = await resetOnReuse();
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await new Promise<http.IncomingMessage>((resolve, reject) => {
        http.get({ host: server.host, port: server.port, agent: keepAlive }, resolve).on('error', reject);
      });
      first.resume();
      await new Promise((resolve) => first.on('end', resolve));
      const { error, reused } = await new Promise<{ error: unknown; reused: boolean }>((resolve) => {
        const req = http.get({ host: server.host, port: server.port, agent: keepAlive }, () => {});
        req.on('error', (e) => resolve({ error: e, reused: req.reusedSocket }));
      });
      expect(reused).toBe(true);
      const fault = classify(error, { reusedConnection: reused, bytesReceived: 0, method: 'POST' });
      expect(fault).toMatchObject({ kind: 'connection-reset', code: 'ECONNRESET', phase: 'idle', transient: true, hint: IDLE_HINT });
      // Without the caller's word the same error proves nothing about the phase.
      expect(classify(error).phase).toBe('unknown');
      // A fresh connection is no keep-alive race.
      expect(classify(error, { reusedConnection: false, bytesReceived: 0 }).phase).toBe('unknown');
    } finally {
      keepAlive.destroy();
      await server.close();
    }
  });

  describe('a server that closes (FIN) without answering', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await closeOnRequest();
    });
    afterAll(() => server.close());

    it("node:http's `socket hang up` (ECONNRESET, no syscall) gets the hang-up hint", async () => {
      const error = await httpGetError({ host: server.host, port: server.port });
      expect(error).toMatchObject({ code: 'ECONNRESET', message: 'socket hang up' });
      expect((error as { syscall?: string }).syscall).toBeUndefined();
      const fault = classify(error);
      expect(fault).toMatchObject({ kind: 'connection-reset', code: 'ECONNRESET', transient: true, message: 'socket hang up' });
      expect(fault.hint).toContain('without answering');
      expect(classify(error, { reusedConnection: true, bytesReceived: 0 })).toMatchObject({ phase: 'idle', hint: IDLE_HINT });
    });

    it("undici's UND_ERR_SOCKET `other side closed` is a transient `closed`", async () => {
      const error = await rejectionOf(request(server.url, { dispatcher: agent }));
      expect(error).toMatchObject({ code: 'UND_ERR_SOCKET' });
      expect(classify(error)).toMatchObject({ kind: 'closed', code: 'UND_ERR_SOCKET', transient: true, message: 'other side closed' });
      expect(classify(error, { reusedConnection: true, bytesReceived: 0 })).toMatchObject({ phase: 'idle', hint: IDLE_HINT });
    });

    it('fetch reports it as fetch failed with the SocketError as cause', async () => {
      const error = await rejectionOf(fetch(server.url, { dispatcher: agent }));
      expect(classify(error)).toMatchObject({ kind: 'closed', code: 'UND_ERR_SOCKET' });
    });
  });

  describe('a response cut short by a reset', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await resetAfterHeaders();
    });
    afterAll(() => server.close());

    it("node:http's response `aborted` error is in the response phase", async () => {
      const error = await new Promise<unknown>((resolve) => {
        const req = http.get({ host: server.host, port: server.port, agent: false }, (res) => {
          res.on('error', resolve);
          res.resume();
        });
        // The request reports the same reset as `read ECONNRESET`; the response's error is the one under test.
        req.on('error', () => {});
      });
      expect(error).toMatchObject({ code: 'ECONNRESET', message: 'aborted' });
      const fault = classify(error);
      expect(fault).toMatchObject({ kind: 'connection-reset', phase: 'response', transient: true });
      // The error proves a response had started, whatever the caller counted.
      expect(classify(error, { reusedConnection: true, bytesReceived: 0 }).phase).toBe('response');
    });

    it("fetch's `terminated` while reading the body is in the response phase", async () => {
      const error = await rejectionOf(async () => {
        const res = await fetch(server.url, { dispatcher: agent });
        await res.text();
      });
      expect((error as Error).message).toBe('terminated');
      expect(classify(error)).toMatchObject({ kind: 'connection-reset', code: 'ECONNRESET', phase: 'response', transient: true });
    });
  });

  describe('a closed port', () => {
    it('ECONNREFUSED is a transient connect-phase fault', async () => {
      const port = await closedPort();
      const socket = net.connect({ host: '127.0.0.1', port });
      const error = await errorEventOf(socket);
      const fault = classify(error, { bytesSent: 0 });
      expect(fault).toMatchObject({ kind: 'connection-refused', code: 'ECONNREFUSED', phase: 'connect', transient: true });
      expect(fault.message).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
      // The connect phase stands even against a caller who counted bytes: nothing reached the peer.
      expect(classify(error, { bytesSent: 100, bytesReceived: 5 }).phase).toBe('connect');
    });

    it("Node's happy-eyeballs AggregateError (localhost -> ::1 and 127.0.0.1) is looked through", async () => {
      const port = await closedPort();
      const socket = net.connect({ host: 'localhost', port, autoSelectFamily: true, lookup: dualStackLookup });
      const error = await errorEventOf(socket);
      expect(error).toBeInstanceOf(AggregateError);
      expect((error as AggregateError).errors).toHaveLength(2);
      const fault = classify(error);
      expect(fault).toMatchObject({ kind: 'connection-refused', code: 'ECONNREFUSED', phase: 'connect', transient: true });
      expect(fault.message).toMatch(/^connect ECONNREFUSED (::1|127\.0\.0\.1):\d+$/);
    });

    it('fetch to a dual-stack localhost: fetch failed -> AggregateError -> ECONNREFUSED', async () => {
      const port = await closedPort();
      const dualStack = new Agent({ connect: { lookup: dualStackLookup, autoSelectFamily: true } });
      try {
        const error = await rejectionOf(fetch(`http://localhost:${port}/`, { dispatcher: dualStack }));
        expect((error as Error).cause).toBeInstanceOf(AggregateError);
        expect(classify(error)).toMatchObject({ kind: 'connection-refused', code: 'ECONNREFUSED', phase: 'connect' });
      } finally {
        await dualStack.close();
      }
    });

    it('node:http to a closed port', async () => {
      const port = await closedPort();
      expect(classify(await httpGetError({ host: '127.0.0.1', port }))).toMatchObject({ kind: 'connection-refused', phase: 'connect' });
    });
  });

  it('a reset during the handshake (connect ECONNRESET) is the connect phase', async () => {
    const server = await tcpServer((socket) => socket.resetAndDestroy());
    try {
      const error = await rejectionOf(request(server.url, { dispatcher: agent }));
      const code = (error as { code?: string }).code;
      expect(code).toBe('ECONNRESET');
      const fault = classify(error);
      expect(fault.kind).toBe('connection-reset');
      // The kernel reports this reset on connect() or on the first read, depending on timing.
      expect(fault.phase).toBe((error as { syscall?: string }).syscall === 'connect' ? 'connect' : 'unknown');
    } finally {
      await server.close();
    }
  });

  it('EPIPE: writing after the server closed the connection', async () => {
    const server = await tcpServer((socket) => socket.destroy());
    try {
      const socket = net.connect({ host: server.host, port: server.port, allowHalfOpen: true });
      socket.on('end', () => {
        socket.write('a');
        setTimeout(() => socket.destroyed || socket.write('b'), 50).unref();
        setTimeout(() => socket.destroyed || socket.write('c'), 150).unref();
      });
      const error = await errorEventOf(socket);
      expect(error).toMatchObject({ code: 'EPIPE', syscall: 'write' });
      expect(classify(error)).toMatchObject({ kind: 'broken-pipe', code: 'EPIPE', phase: 'request', transient: true });
      // A write to a pooled connection the server had already closed: the keep-alive race.
      expect(classify(error, { reusedConnection: true, bytesReceived: 0 })).toMatchObject({ phase: 'idle', hint: IDLE_HINT });
    } finally {
      await server.close();
    }
  });

  it('ERR_STREAM_PREMATURE_CLOSE: a socket destroyed before it ended', async () => {
    const server = await tcpServer(() => {});
    try {
      const socket = net.connect({ host: server.host, port: server.port });
      await new Promise((resolve) => socket.once('connect', resolve));
      const error = await new Promise<unknown>((resolve) => {
        finished(socket, resolve);
        socket.destroy();
      });
      expect(error).toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
      expect(classify(error)).toMatchObject({ kind: 'closed', code: 'ERR_STREAM_PREMATURE_CLOSE', transient: true });
    } finally {
      await server.close();
    }
  });

  it('EADDRNOTAVAIL: a local address this host does not have', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: 9, localAddress: '192.0.2.55' });
    const error = await errorEventOf(socket);
    expect(error).toMatchObject({ code: 'EADDRNOTAVAIL' });
    const fault = classify(error);
    expect(fault).toMatchObject({ kind: 'network-unreachable', code: 'EADDRNOTAVAIL', phase: 'connect', transient: true });
    expect(fault.hint).toContain('ephemeral ports');
  });
});

/**
 * Codes no loopback socket can produce on demand (they need a lost route, a
 * silent remote host or a failing resolver). These are the shapes Node gives
 * them (code, errno, syscall, message), checked against the rule table.
 */
describe('classify: system errors loopback cannot produce', () => {
  const systemError = (message: string, code: string, syscall: string): Error => Object.assign(new Error(message), { code, syscall, errno: -1 });
  it.each([
    ['connect ETIMEDOUT 10.0.0.1:80', 'ETIMEDOUT', 'connect', 'timeout', 'connect', true],
    ['read ETIMEDOUT', 'ETIMEDOUT', 'read', 'timeout', 'unknown', true],
    ['connect ENETUNREACH 2001:db8::1:80', 'ENETUNREACH', 'connect', 'network-unreachable', 'connect', true],
    ['connect EHOSTUNREACH 10.0.0.1:80', 'EHOSTUNREACH', 'connect', 'network-unreachable', 'connect', true],
    ['read ECONNABORTED', 'ECONNABORTED', 'read', 'connection-reset', 'unknown', true],
    ['getaddrinfo EAI_AGAIN db.internal', 'EAI_AGAIN', 'getaddrinfo', 'dns', 'connect', true],
    ['getaddrinfo EAI_FAIL db.internal', 'EAI_FAIL', 'getaddrinfo', 'dns', 'connect', false],
    ['connect EMFILE', 'EMFILE', 'connect', 'unknown', 'connect', true],
  ] as const)('%s', (message, code, syscall, kind, phase, transient) => {
    expect(classify(systemError(message, code, syscall))).toMatchObject({ kind, code, phase, transient, message });
  });
});
