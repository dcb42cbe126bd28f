import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import express from 'express';
import { configureServerTimeouts } from '../src/index.js';
import { failOnEscapedErrors, sleep } from './support/servers.js';

failOnEscapedErrors();

/**
 * What a load balancer does with its upstream connections: keeps one open
 * for its own idle timeout and sends the next request on it when one comes,
 * without watching for the server's FIN in between. Returns the second
 * answer's status line, or the error the connection died with.
 */
async function secondRequestAfterIdle(port: number, idleMs: number): Promise<string> {
  const socket: Socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  const replies: string[] = [];
  const seen: { failure?: string; ended?: boolean } = {};
  socket.on('data', (data: Buffer) => replies.push(data.toString()));
  socket.on('error', (error: NodeJS.ErrnoException) => (seen.failure = error.code));
  socket.on('end', () => (seen.ended = true));
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  while (replies.length === 0) await sleep(5);
  const first = replies.join('');
  replies.length = 0;
  await sleep(idleMs);
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const deadline = Date.now() + 2_000;
  while (replies.length === 0 && seen.failure === undefined && Date.now() < deadline) await sleep(5);
  socket.destroy();
  expect(first).toMatch(/^HTTP\/1.1 200/);
  if (replies.length > 0) return replies.join('').split('\r\n')[0] ?? '';
  return seen.failure ?? (seen.ended === true ? 'closed by the server' : 'no answer');
}

const UPSTREAM_IDLE_MS = 1_500;

describe('configureServerTimeouts: the stale keep-alive connection', () => {
  const app = express();
  app.get('/', (_req, res) => res.send('ok'));

  it('without it: a server keep-alive timeout shorter than the upstream idle timeout loses the upstream next request', async () => {
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    // Node's default is 5 s against a balancer's 60 s; scaled down: 200 ms against 1.5 s (recent Node 20 closes
    // an idle connection a second after its keepAliveTimeout, so the upstream must wait longer than that).
    server.keepAliveTimeout = 200;
    const outcome = await secondRequestAfterIdle((server.address() as { port: number }).port, UPSTREAM_IDLE_MS);
    expect(outcome).not.toMatch(/^HTTP\/1.1 200/);
    expect(['ECONNRESET', 'EPIPE', 'closed by the server']).toContain(outcome);
    server.close();
  });

  it('with it: keepAliveTimeout above the upstream idle timeout, the next request is answered, and the timeout is advertised', async () => {
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    server.keepAliveTimeout = 200;
    const applied = configureServerTimeouts(server, { upstreamIdleTimeoutMs: UPSTREAM_IDLE_MS });
    expect(applied).toEqual({ keepAliveTimeoutMs: 2_500, headersTimeoutMs: 3_500, requestTimeoutMs: 300_000 });
    expect(server.keepAliveTimeout).toBe(2_500);
    expect(server.headersTimeout).toBe(3_500);
    const outcome = await secondRequestAfterIdle((server.address() as { port: number }).port, UPSTREAM_IDLE_MS);
    expect(outcome).toBe('HTTP/1.1 200 OK');
    const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
    expect(res.headers.get('keep-alive')).toBe('timeout=2');
    await res.text();
    server.closeAllConnections();
    server.close();
  });

  it('rejects contradictory values, naming them', () => {
    const server = express().listen(0, '127.0.0.1');
    expect(() => configureServerTimeouts(server, { upstreamIdleTimeoutMs: 60_000, keepAliveTimeoutMs: 30_000 })).toThrow(
      'configureServerTimeouts: keepAliveTimeoutMs (30000) must be above upstreamIdleTimeoutMs (60000), or the server closes connections the upstream still uses',
    );
    expect(() => configureServerTimeouts(server, { upstreamIdleTimeoutMs: 60_000, headersTimeoutMs: 60_500 })).toThrow(
      'configureServerTimeouts: headersTimeoutMs (60500) must be above keepAliveTimeoutMs (61000)',
    );
    expect(() => configureServerTimeouts(server, { upstreamIdleTimeoutMs: 60_000, requestTimeoutMs: 10_000 })).toThrow(
      'configureServerTimeouts: requestTimeoutMs (10000) must be 0 (off) or at least headersTimeoutMs (62000)',
    );
    expect(configureServerTimeouts(server, { upstreamIdleTimeoutMs: 60_000, requestTimeoutMs: 0 }).requestTimeoutMs).toBe(0);
    expect(() => configureServerTimeouts(server, { upstreamIdleTimeout: 60_000 } as never)).toThrow(/did you mean upstreamIdleTimeoutMs\?/);
    expect(() => configureServerTimeouts(server, { marginMs: 1.5 })).toThrow(RangeError);
    expect(() => configureServerTimeouts({} as never)).toThrow(TypeError);
    server.close();
  });
});
