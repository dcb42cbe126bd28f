import http2 from 'node:http2';
import tls from 'node:tls';
import { Agent, fetch, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '@holdfast/core';
import { errorEventOf, httpGetError, rejectionOf } from './fixtures/capture.js';
import { type TestCerts, testCerts } from './fixtures/certs.js';
import { type TestServer, bytesServer, http2OnlyServer, http2SecureOnlyServer, statusServer, tlsServer } from './fixtures/servers.js';

/** What an OpenSSL-based TLS server (nginx, Java) answers to plain text: a fatal alert record. */
const TLS_ALERT = Uint8Array.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]);

describe('classify: protocol mismatches', () => {
  let certs: TestCerts;
  let agent: Agent;
  const servers: TestServer[] = [];
  const serve = async (made: Promise<TestServer>): Promise<TestServer> => {
    const server = await made;
    servers.push(server);
    return server;
  };
  beforeAll(async () => {
    certs = await testCerts();
    agent = new Agent();
  });
  afterAll(async () => {
    await agent.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  describe('HTTP/1.1 to an HTTP/2-only (h2c / gRPC) port', () => {
    it("node:http's Parse Error: the answer's bytes are an HTTP/2 SETTINGS frame, so the hint says HTTP/2", async () => {
      const server = await serve(http2OnlyServer());
      const error = await httpGetError({ host: server.host, port: server.port });
      expect(error).toMatchObject({ code: 'HPE_INVALID_CONSTANT' });
      expect((error as Error).message).toContain('Expected HTTP/');
      const fault = classify(error);
      expect(fault).toMatchObject({ kind: 'protocol', code: 'HPE_INVALID_CONSTANT', phase: 'connect', transient: false });
      expect(fault.hint).toContain('HTTP/2-only');
    });

    it("undici's HTTPParserError (no code) and fetch's cause get the same hint", async () => {
      const server = await serve(http2OnlyServer());
      const error = await rejectionOf(request(server.url, { dispatcher: agent }));
      expect((error as Error).name).toBe('HTTPParserError');
      expect(classify(error)).toMatchObject({
        kind: 'protocol',
        code: 'UND_ERR_HTTP_PARSER',
        transient: false,
        hint: expect.stringContaining('HTTP/2-only'),
      });
      const viaFetch = await rejectionOf(fetch(server.url, { dispatcher: agent }));
      expect(classify(viaFetch).hint).toContain('HTTP/2-only');
    });
  });

  describe('TLS client to a plain-text port', () => {
    it("node:https: EPROTO 'wrong version number'", async () => {
      const server = await serve(statusServer(200));
      const error = await httpGetError({ host: server.host, port: server.port, tls: true });
      expect(error).toMatchObject({ code: 'EPROTO' });
      const fault = classify(error);
      expect(fault).toMatchObject({ kind: 'protocol', code: 'EPROTO', phase: 'connect', transient: false });
      expect(fault.hint).toContain('plain-text port');
    });

    it('undici and tls.connect: ERR_SSL_WRONG_VERSION_NUMBER', async () => {
      const server = await serve(statusServer(200));
      const error = await rejectionOf(request(`https://${server.host}:${server.port}/`, { dispatcher: agent }));
      expect(classify(error)).toMatchObject({
        kind: 'protocol',
        code: 'ERR_SSL_WRONG_VERSION_NUMBER',
        hint: expect.stringContaining('plain-text port'),
      });
      const socket = tls.connect({ host: server.host, port: server.port, servername: 'localhost' });
      expect(classify(await errorEventOf(socket))).toMatchObject({ kind: 'protocol', code: 'ERR_SSL_WRONG_VERSION_NUMBER' });
      socket.destroy();
    });
  });

  describe('plain HTTP to a TLS port', () => {
    it('a server that answers plain text with a TLS alert: the hint says use https', async () => {
      const server = await serve(bytesServer(TLS_ALERT));
      const fault = classify(await httpGetError({ host: server.host, port: server.port }));
      expect(fault).toMatchObject({ kind: 'protocol', code: 'HPE_INVALID_CONSTANT', transient: false });
      expect(fault.hint).toContain('TLS port');
      const viaUndici = classify(await rejectionOf(request(server.url, { dispatcher: agent })));
      expect(viaUndici).toMatchObject({ kind: 'protocol', code: 'UND_ERR_HTTP_PARSER', hint: expect.stringContaining('TLS port') });
    });

    it("Node's own TLS server just hangs up: that looks like any hang-up (nothing in the bytes to tell)", async () => {
      const server = await serve(tlsServer(certs.selfSigned));
      const fault = classify(await httpGetError({ host: server.host, port: server.port }));
      expect(fault).toMatchObject({ kind: 'connection-reset', code: 'ECONNRESET', message: 'socket hang up' });
    });

    it('a peer that answers with something else entirely: not HTTP', async () => {
      const server = await serve(bytesServer(new TextEncoder().encode('SSH-2.0-OpenSSH_9.6\r\n')));
      const fault = classify(await httpGetError({ host: server.host, port: server.port }));
      expect(fault).toMatchObject({ kind: 'protocol', transient: false, hint: expect.stringContaining('did not answer with HTTP/1.x') });
    });
  });

  it('HTTP/1.1 over TLS to an HTTP/2-only TLS server: ALPN refuses, the hint says HTTP/2', async () => {
    const server = await serve(http2SecureOnlyServer(certs.selfSigned));
    // An HTTP/1.1-only client: undici 8 offers HTTP/2 by default, and would simply succeed.
    const tlsAgent = new Agent({ connect: { ca: certs.selfSigned.cert }, allowH2: false });
    try {
      const error = await rejectionOf(request(server.url, { dispatcher: tlsAgent }));
      expect(classify(error)).toMatchObject({
        kind: 'protocol',
        code: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL',
        phase: 'connect',
        transient: false,
        hint: expect.stringContaining('HTTP/2'),
      });
    } finally {
      await tlsAgent.close();
    }
  });

  it('HTTP/2 (prior knowledge) to an HTTP/1-only server: ERR_HTTP2_ERROR', async () => {
    const server = await serve(statusServer(200));
    const session = http2.connect(server.url);
    session.on('error', () => {});
    const stream = session.request({ ':path': '/' });
    const error = await errorEventOf(stream);
    session.destroy();
    expect(error).toMatchObject({ code: 'ERR_HTTP2_ERROR' });
    expect(classify(error)).toMatchObject({ kind: 'protocol', code: 'ERR_HTTP2_ERROR', transient: false, hint: expect.stringContaining('HTTP/1') });
  });
});
