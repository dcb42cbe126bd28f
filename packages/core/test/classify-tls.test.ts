import tls from 'node:tls';
import { Agent, fetch, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '@holdfast/core';
import { errorEventOf, httpGetError, rejectionOf } from './fixtures/capture.js';
import { type TestCerts, testCerts } from './fixtures/certs.js';
import { type TestServer, tlsServer } from './fixtures/servers.js';

/** Hints may say how to trust a certificate; they must never say how to stop checking one. */
const DISABLES_VERIFICATION = /rejectUnauthorized|NODE_TLS_REJECT_UNAUTHORIZED|insecure|disable|skip verif|verify: ?false/i;

describe('classify: TLS certificate failures from real handshakes', () => {
  let certs: TestCerts;
  const servers: TestServer[] = [];
  const agents: Agent[] = [];
  const serve = async (...args: Parameters<typeof tlsServer>): Promise<TestServer> => {
    const server = await tlsServer(...args);
    servers.push(server);
    return server;
  };
  const undiciWith = (connect: tls.ConnectionOptions): Agent => {
    const agent = new Agent({ connect });
    agents.push(agent);
    return agent;
  };

  beforeAll(async () => {
    certs = await testCerts();
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await Promise.all(servers.map((s) => s.close()));
  });

  it('a self-signed certificate: DEPTH_ZERO_SELF_SIGNED_CERT, not transient, hint names `ca`', async () => {
    const server = await serve(certs.selfSigned);
    const error = await httpGetError({ host: '127.0.0.1', port: server.port, tls: true });
    expect(error).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    const fault = classify(error);
    expect(fault).toMatchObject({ kind: 'tls', code: 'DEPTH_ZERO_SELF_SIGNED_CERT', phase: 'connect', transient: false });
    expect(fault.hint).toContain('`ca`');
    // The same through undici and fetch.
    expect(classify(await rejectionOf(request(server.url, { dispatcher: undiciWith({}) })))).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(classify(await rejectionOf(fetch(server.url, { dispatcher: undiciWith({}) })))).toMatchObject({
      kind: 'tls',
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    // Trusting it with `ca`, as the hint says, makes the handshake succeed.
    const res = await request(server.url, { dispatcher: undiciWith({ ca: certs.selfSigned.cert }) });
    expect(await res.body.text()).toBe('ok');
  });

  it('an expired certificate (valid in 2020 only), even when trusted: CERT_HAS_EXPIRED', async () => {
    const server = await serve(certs.expired);
    const error = await httpGetError({ host: 'localhost', port: server.port, tls: true, ca: certs.expired.cert });
    expect(error).toMatchObject({ code: 'CERT_HAS_EXPIRED' });
    expect(classify(error)).toMatchObject({ kind: 'tls', code: 'CERT_HAS_EXPIRED', phase: 'connect', transient: false });
  });

  it('a leaf signed by an unknown CA, chain not sent: UNABLE_TO_VERIFY_LEAF_SIGNATURE', async () => {
    const server = await serve(certs.leaf);
    const error = await rejectionOf(request(server.url, { dispatcher: undiciWith({}) }));
    expect(error).toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    const fault = classify(error);
    expect(fault).toMatchObject({ kind: 'tls', transient: false });
    expect(fault.hint).toContain('`ca`');
  });

  it('a chain ending in an untrusted root: SELF_SIGNED_CERT_IN_CHAIN', async () => {
    const server = await serve(certs.leaf, [certs.ca.cert]);
    const error = await httpGetError({ host: '127.0.0.1', port: server.port, tls: true });
    expect(error).toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(classify(error)).toMatchObject({ kind: 'tls', code: 'SELF_SIGNED_CERT_IN_CHAIN', transient: false });
  });

  it('a trusted certificate for another name: ERR_TLS_CERT_ALTNAME_INVALID', async () => {
    const server = await serve(certs.otherName);
    const error = await rejectionOf(request(`https://localhost:${server.port}/`, { dispatcher: undiciWith({ ca: certs.ca.cert }) }));
    expect(error).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    const fault = classify(error);
    expect(fault).toMatchObject({ kind: 'tls', code: 'ERR_TLS_CERT_ALTNAME_INVALID', phase: 'connect', transient: false });
    expect(fault.hint).toContain('servername');
  });

  it('tls.connect reports the same codes', async () => {
    const server = await serve(certs.selfSigned);
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, servername: 'localhost' });
    expect(classify(await errorEventOf(socket))).toMatchObject({ kind: 'tls', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    socket.destroy();
  });

  it('no TLS hint ever suggests disabling certificate verification', async () => {
    const { TLS_RULES, TLS_OTHER } = await import('../src/classify/tls.js');
    const hints = [...TLS_RULES.values()].flatMap((r) => (typeof r === 'function' ? [] : [r.hint]));
    hints.push(TLS_OTHER.hint);
    expect(hints.length).toBeGreaterThan(20);
    for (const hint of hints) expect(hint).not.toMatch(DISABLES_VERIFICATION);
  });
});
