import { once } from 'node:events';
import http from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import express from 'express';
import { gracefulShutdown } from '../src/index.js';
import { CONTENDERS, shutdownRound, type ShutdownRound } from './support/shutdown-round.js';
import { failOnEscapedErrors, listen, sleep, socketHandles, until } from './support/servers.js';

failOnEscapedErrors();

const line = (r: ShutdownRound): string =>
  `${r.contender.padEnd(16)} ${r.client.padEnd(9)} resets ${r.resets} hang-ups ${r.hangUps} unanswered ${r.unanswered} answered ${r.answered} shutdown ${r.shutdownMs ?? 'never'} ms`;

describe('gracefulShutdown under load: 50 keep-alive clients sending back to back to Express 5', () => {
  for (const client of ['undici', 'node:http'] as const) {
    it(`resets no ${client} client, hangs up on none, answers every request that reached the app (3 rounds)`, async () => {
      for (let round = 0; round < 3; round++) {
        const r = await shutdownRound('holdfast', client);
        console.log(line(r));
        expect(r).toMatchObject({ resets: 0, hangUps: 0, unanswered: 0, other: 0 });
        expect(r.answered).toBeGreaterThan(50);
        // About the time the requests in flight need (1-10 ms each), with a loaded machine's margin.
        expect(r.shutdownMs).toBeLessThan(3_000);
      }
    }, 60_000);
  }

  it('side by side with server.close() and the peers, in the same run', async () => {
    const rounds: ShutdownRound[] = [];
    for (const contender of CONTENDERS) {
      for (const client of ['undici', 'node:http'] as const) rounds.push(await shutdownRound(contender, client, { graceMs: 2_500 }));
    }
    console.log(rounds.map(line).join('\n'));
    for (const r of rounds.filter((x) => x.contender === 'holdfast')) expect(r).toMatchObject({ resets: 0, hangUps: 0, unanswered: 0 });
  }, 120_000);
});

describe('the shutdown handle', () => {
  it('answers readiness 503 from the moment the shutdown starts, and requests on open connections with Connection: close', async () => {
    const app = express();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    app.get('/slow', (_req, res) => void held.then(() => res.send('slow done')));
    app.get('/fast', (_req, res) => res.send('fast'));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const listenersBefore = [server.listenerCount('request'), server.listenerCount('connection')];
    const handle = gracefulShutdown(server, { signals: [] });
    app.get('/ready', handle.readiness);
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

    // One keep-alive connection for the readiness probe, one for /fast; /slow on its own.
    const probe = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string, via: http.Agent | false = agent): Promise<{ status: number; connection: string | undefined; body: string }> =>
      new Promise((resolve, reject) => {
        http
          .get(`${url}${path}`, { agent: via }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
          })
          .on('error', reject);
      });
    expect((await get('/ready', probe)).status).toBe(200);
    expect((await get('/fast')).connection).toBe('keep-alive');
    const slow = get('/slow', false);
    await until(() => handle.stats().inFlight === 1, 'the slow request in flight');

    const states: string[] = [];
    handle.on('state', (e) => states.push(`${e.from}->${e.to}`));
    const closed = handle.shutdown();
    expect(handle.state).toBe('draining');
    expect(handle.shutdown()).toBe(closed);
    // Idle keep-alive connections stay open: their next request is answered, and told to close.
    expect(await get('/ready', probe)).toMatchObject({ status: 503, connection: 'close' });
    const fast = await get('/fast');
    expect(fast).toMatchObject({ status: 200, connection: 'close', body: 'fast' });
    release();
    expect(await slow).toMatchObject({ status: 200, connection: 'close', body: 'slow done' });
    await closed;
    expect(handle.state).toBe('closed');
    // Its listeners are gone from the server: what is left is node's and Express's own.
    expect([server.listenerCount('request'), server.listenerCount('connection')]).toEqual(listenersBefore);
    expect(states).toEqual(['running->draining', 'draining->closed']);
    expect(handle.stats()).toMatchObject({ connections: 0, inFlight: 0, answeredWhileDraining: 3, forced: 0 });
    await handle.close();
    agent.destroy();
    probe.destroy();
  });

  it('closes what is left after timeoutMs: a request that never ends is cut, an idle connection ended', async () => {
    await sleep(50);
    const before = socketHandles();
    const app = express();
    app.get('/never', () => undefined);
    app.get('/ok', (_req, res) => res.send('ok'));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const handle = gracefulShutdown(server, { signals: [], timeoutMs: 300 });
    const port = (server.address() as { port: number }).port;
    const forced: unknown[] = [];
    handle.on('force-close', (e) => forced.push(e));

    // An idle keep-alive connection that never sends again, and a request that never gets an answer.
    const idle = connect(port, '127.0.0.1');
    idle.write('GET /ok HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(idle, 'data');
    const hanging = http.get(`http://127.0.0.1:${port}/never`, { agent: false });
    const hangingError = new Promise<unknown>((resolve) => hanging.on('error', resolve));
    await until(() => handle.stats().inFlight === 1, 'the hanging request');

    const started = performance.now();
    await handle.shutdown();
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(forced).toEqual([{ event: 'force-close', name: 'http', busy: 1, idle: 1 }]);
    expect(await hangingError).toMatchObject({ code: 'ECONNRESET' });
    idle.destroy();
    await sleep(20);
    expect(socketHandles()).toBeLessThanOrEqual(before);
  });

  it('runs on its signals, then cleanup, and removes its signal listeners', async () => {
    const { server } = await listen((_req, res) => res.end('ok'));
    const before = process.listenerCount('SIGUSR2');
    let cleaned = 0;
    // A listener of our own keeps the re-raised signal from ending the test process.
    const keep = (): void => undefined;
    process.on('SIGUSR2', keep);
    const handle = gracefulShutdown(server, {
      signals: ['SIGUSR2'],
      cleanup: () => {
        cleaned++;
      },
    });
    expect(process.listenerCount('SIGUSR2')).toBe(before + 2);
    process.kill(process.pid, 'SIGUSR2');
    await until(() => handle.state === 'closed', 'the shutdown on SIGUSR2');
    expect(cleaned).toBe(1);
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    process.off('SIGUSR2', keep);
    expect(server.listening).toBe(false);
  });

  it('turns a failing cleanup after a signal into a warning, not an unhandled rejection', async () => {
    const { server } = await listen((_req, res) => res.end('ok'));
    const keep = (): void => undefined;
    process.on('SIGUSR2', keep);
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    const handle = gracefulShutdown(server, {
      signals: ['SIGUSR2'],
      cleanup: () => Promise.reject(new Error('pool would not close')),
    });
    process.kill(process.pid, 'SIGUSR2');
    await until(() => warnings.length > 0, 'the warning');
    expect(warnings[0]).toBe("gracefulShutdown 'http' on SIGUSR2: pool would not close");
    expect(handle.state).toBe('closed');
    await expect(handle.shutdown()).rejects.toThrow('pool would not close');
    process.off('warning', onWarning);
    process.off('SIGUSR2', keep);
  });

  it('checks its options', () => {
    const server = http.createServer();
    expect(() => gracefulShutdown(server, { timeout: 5 } as never)).toThrow(/unknown option 'timeout' \(did you mean timeoutMs\?\)/);
    expect(() => gracefulShutdown(server, { timeoutMs: -1 })).toThrow(RangeError);
    expect(() => gracefulShutdown(server, { signals: ['TERM'] } as never)).toThrow(/option 'signals' must be/);
    expect(() => gracefulShutdown({} as never)).toThrow(TypeError);
  });
});
