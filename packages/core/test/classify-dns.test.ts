import dgram from 'node:dgram';
import dns from 'node:dns';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '@holdfast/core';
import { httpGetError, rejectionOf } from './fixtures/capture.js';

/**
 * A UDP DNS server on loopback that answers every query with `rcode`
 * (2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED), or never answers when `rcode` is
 * undefined: c-ares (dns.Resolver) pointed at it fails for real.
 */
async function fakeDnsServer(rcode: number | undefined): Promise<{ address: string; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (query, peer) => {
    if (rcode === undefined) return;
    const answer = Buffer.from(query);
    answer[2] = 0x81; // QR (response) + RD
    answer[3] = 0x80 | rcode; // RA + rcode
    socket.send(answer, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function resolverFor(address: string): dns.promises.Resolver {
  const resolver = new dns.promises.Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([address]);
  return resolver;
}

describe('classify: DNS', () => {
  let agent: Agent;
  beforeAll(() => {
    agent = new Agent();
  });
  afterAll(() => agent.close());

  it('a `.invalid` name (RFC 6761) fails fast with ENOTFOUND: a permanent connect-phase dns fault', async () => {
    const started = Date.now();
    const error = await rejectionOf(dns.promises.lookup('holdfast-test.invalid'));
    // .invalid never resolves; a resolver must not even wait for the network.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error).toMatchObject({ code: 'ENOTFOUND', syscall: 'getaddrinfo' });
    const fault = classify(error);
    expect(fault).toMatchObject({ kind: 'dns', code: 'ENOTFOUND', phase: 'connect', transient: false });
    expect(fault.message).toBe('getaddrinfo ENOTFOUND holdfast-test.invalid');
  });

  it('ENOTFOUND through node:http and through fetch', async () => {
    expect(classify(await httpGetError({ host: 'holdfast-test.invalid', port: 80 }))).toMatchObject({ kind: 'dns', code: 'ENOTFOUND' });
    const error = await rejectionOf(fetch('http://holdfast-test.invalid/', { dispatcher: agent }));
    expect(classify(error)).toMatchObject({ kind: 'dns', code: 'ENOTFOUND', phase: 'connect', transient: false });
  });

  it('a DNS server that never answers: ETIMEOUT is transient', async () => {
    const server = await fakeDnsServer(undefined);
    try {
      const error = await rejectionOf(resolverFor(server.address).resolve4('example.com'));
      expect(error).toMatchObject({ code: 'ETIMEOUT' });
      expect(classify(error)).toMatchObject({ kind: 'dns', code: 'ETIMEOUT', phase: 'connect', transient: true });
    } finally {
      await server.close();
    }
  });

  it.each([
    [2, 'ESERVFAIL', true],
    [5, 'EREFUSED', false],
    [3, 'ENOTFOUND', false],
  ] as const)('a DNS server answering rcode %i: %s (transient %s)', async (rcode, code, transient) => {
    const server = await fakeDnsServer(rcode);
    try {
      const error = await rejectionOf(resolverFor(server.address).resolve4('example.com'));
      expect(error).toMatchObject({ code });
      expect(classify(error)).toMatchObject({ kind: 'dns', code, phase: 'connect', transient });
    } finally {
      await server.close();
    }
  });

  it('c-ares ECONNREFUSED (a query syscall) is a DNS fault, not a refused TCP connection', () => {
    const error = Object.assign(new Error('queryA ECONNREFUSED example.com'), { code: 'ECONNREFUSED', syscall: 'queryA', hostname: 'example.com' });
    expect(classify(error)).toMatchObject({ kind: 'dns', code: 'ECONNREFUSED', transient: true });
  });

  it('a cancelled resolver query is the caller aborting', async () => {
    const server = await fakeDnsServer(undefined);
    try {
      const resolver = resolverFor(server.address);
      const pending = rejectionOf(resolver.resolve4('example.com'));
      resolver.cancel();
      const error = await pending;
      expect(error).toMatchObject({ code: 'ECANCELLED' });
      expect(classify(error)).toMatchObject({ kind: 'aborted', transient: false });
    } finally {
      await server.close();
    }
  });
});
