import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../src/index.js';
import { parseHostPort, parseToxicSpec } from '../src/chaos/toxic-spec.js';
import { exchange, startEchoServer } from './support/echo-server.js';
import { captureIo, settle, socketHandles, until, untilWithoutTimers, watchTimers } from './support/io.js';
import type { CapturedIo } from './support/io.js';

describe('toxic specs (--toxic and the stdin commands)', () => {
  it('reads type, toxicity and attributes', () => {
    expect(parseToxicSpec('latency:0.5:latency=200,jitter=50')).toEqual({ type: 'latency', toxicity: 0.5, attributes: { latency: 200, jitter: 50 } });
    expect(parseToxicSpec('reset_peer')).toEqual({ type: 'reset_peer', attributes: {} });
    expect(parseToxicSpec('timeout:timeout=0,stream=upstream,name=silence')).toEqual({
      type: 'timeout',
      stream: 'upstream',
      name: 'silence',
      attributes: { timeout: 0 },
    });
  });

  it('refuses what it cannot read, naming what is accepted', () => {
    expect(() => parseToxicSpec('latnecy:latency=1')).toThrow(/unknown toxic type 'latnecy'.*accepted: latency, bandwidth/);
    expect(() => parseToxicSpec('latency:2')).toThrow(/toxicity must be a number from 0 to 1, got '2'/);
    expect(() => parseToxicSpec('latency:latency=fast')).toThrow(/attribute 'latency' must be a number/);
    expect(() => parseToxicSpec('latency:stream=sideways')).toThrow(/stream must be 'upstream' or 'downstream'/);
    expect(() => parseToxicSpec('latency:1:latency=1:extra')).toThrow(/expected type\[:toxicity\]/);
  });

  it('reads listen addresses', () => {
    expect(parseHostPort('8474', '--api')).toEqual({ host: '127.0.0.1', port: 8474 });
    expect(parseHostPort('0.0.0.0:1', '--api')).toEqual({ host: '0.0.0.0', port: 1 });
    expect(parseHostPort('[::1]:26379', '--listen')).toEqual({ host: '::1', port: 26379 });
    expect(() => parseHostPort('localhost', '--listen')).toThrow(/--listen must be host:port/);
  });
});

describe('holdfast chaos', () => {
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  let sockets: number;
  // Started by start(), inside the test: vitest's own timeout timer is made before the test body runs.
  let timers: ReturnType<typeof watchTimers> | undefined;
  beforeEach(async () => {
    echo = await startEchoServer();
    await settle();
    sockets = socketHandles();
  });
  afterEach(async () => {
    timers?.stop();
    await echo.close();
  });

  /** Nothing the command opened is left: no socket, no server, no timer. */
  async function expectNothingLeft(): Promise<void> {
    const pending = (): number => timers?.pending() ?? 0;
    await untilWithoutTimers(() => socketHandles() === sockets && pending() === 0, 3000);
    expect({ sockets: socketHandles(), timers: pending(), stacks: timers?.stacks() }).toEqual({ sockets, timers: 0, stacks: [] });
  }

  /** Starts the command and resolves once it printed its addresses. */
  async function start(
    args: string[],
    options: { tty?: boolean } = {},
  ): Promise<{ c: CapturedIo; done: Promise<number>; port: number; api: string | undefined }> {
    timers = watchTimers();
    const c = captureIo(options);
    const done = main(['chaos', ...args], c.io);
    await until(() => c.stdout().includes('Ctrl-C stops') || c.stderr() !== '', 'the proxy to start');
    const port = Number(/ 127\.0\.0\.1:(\d+) → /.exec(c.stdout())?.[1] ?? NaN);
    const api = /control API \(Toxiproxy's routes\): (\S+)/.exec(c.stdout())?.[1];
    return { c, done, port, api };
  }

  async function stop(c: CapturedIo, done: Promise<number>): Promise<void> {
    c.controller.abort();
    expect(await done).toBe(0);
    await expectNothingLeft();
  }

  it('proxies, applies --toxic from the start, and stops on the signal leaving nothing open', async () => {
    const { c, done, port } = await start(['--upstream', `127.0.0.1:${echo.port}`, '--toxic', 'limit_data:bytes=5']);
    expect(c.stdout()).toMatch(/toxic limit_data_downstream: limit_data downstream bytes=5/);
    // limit_data lets exactly 5 bytes of the echo through, then closes the connection.
    expect(await exchange(port, 'hello, world')).toEqual({ received: 'hello', ended: 'end' });
    await stop(c, done);
    expect(c.stdout()).toMatch(/holdfast: 0 open\/1 · ↑12 B ↓5 B · 0 resets, 1 closes/);
  });

  it('adds and removes toxics from stdin while it runs', async () => {
    const { c, done, port } = await start(['--upstream', `127.0.0.1:${echo.port}`]);
    expect(await exchange(port, 'first')).toEqual({ received: 'first', ended: 'complete' });

    c.stdin.write('add reset_peer:stream=upstream\n');
    await until(() => c.stdout().includes('added reset_peer_upstream'), 'the toxic to be added');
    expect(await exchange(port, 'second')).toEqual({ received: '', ended: 'ECONNRESET' });
    await until(() => /reset connection #2 \(reset_peer_upstream\)/.test(c.stdout()), 'the reset to be reported');

    c.stdin.write('list\nremove reset_peer_upstream\n');
    await until(() => c.stdout().includes('removed reset_peer_upstream'), 'the toxic to be removed');
    expect(c.stdout()).toContain('reset_peer_upstream: reset_peer upstream timeout=0,after_bytes=0');
    expect(await exchange(port, 'third')).toEqual({ received: 'third', ended: 'complete' });

    c.stdin.write('disable\n');
    await until(() => c.stdout().includes('disabled: new connections are refused'), 'the proxy to be disabled');
    expect((await exchange(port, 'fourth')).ended).toBe('ECONNREFUSED');
    c.stdin.write('enable\nadd latency:latncy=5\nremove nothing\nfly\n');
    await until(() => c.stdout().includes("unknown command 'fly'"), 'the commands to run');
    expect(c.stdout()).toMatch(/error: addToxic: unknown attribute 'latncy' for a latency toxic \(accepted: latency, jitter\)/);
    expect(c.stdout()).toMatch(/error: toxic not found: nothing/);
    expect(await exchange(port, 'fifth')).toEqual({ received: 'fifth', ended: 'complete' });

    c.stdin.write('quit\n');
    expect(await done).toBe(0);
    await expectNothingLeft();
  });

  it("answers Toxiproxy's API: proxies and toxics created, listed, updated and deleted over HTTP", async () => {
    const { c, done, api } = await start(['--api', '127.0.0.1:0']);
    expect(api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> =>
      new Promise((resolve, reject) => {
        const req = request(`${api}${path}`, { method, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });

    const created = await call('POST', '/proxies', { name: 'echo', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'echo', upstream: `127.0.0.1:${echo.port}`, enabled: true, toxics: [] });
    const port = Number(String(created.body.listen).split(':')[1]);
    expect((await call('POST', '/proxies', { name: 'echo', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}` })).status).toBe(409);

    // The body a Toxiproxy client sends, every field present.
    const toxic = await call('POST', '/proxies/echo/toxics', {
      name: '',
      type: 'limit_data',
      stream: 'downstream',
      toxicity: 1,
      attributes: { bytes: 3 },
    });
    expect(toxic).toEqual({
      status: 200,
      body: { name: 'limit_data_downstream', type: 'limit_data', stream: 'downstream', toxicity: 1, attributes: { bytes: 3 } },
    });
    expect(await exchange(port, 'abcdef')).toEqual({ received: 'abc', ended: 'end' });
    expect((await call('POST', '/proxies/echo/toxics/limit_data_downstream', { attributes: { bytes: 4 } })).body.attributes).toEqual({ bytes: 4 });
    expect(await exchange(port, 'abcdef')).toEqual({ received: 'abcd', ended: 'end' });
    expect((await call('GET', '/proxies')).body.echo.toxics).toHaveLength(1);
    expect((await call('POST', '/proxies/echo/toxics', { type: 'latency', attributes: { latency: -1 } })).status).toBe(400);
    expect((await call('DELETE', '/proxies/echo/toxics/limit_data_downstream')).status).toBe(204);
    expect(await exchange(port, 'abcdef')).toEqual({ received: 'abcdef', ended: 'complete' });

    expect((await call('POST', '/proxies/echo', { enabled: false })).body.enabled).toBe(false);
    expect((await exchange(port, 'x')).ended).toBe('ECONNREFUSED');
    await call('POST', '/proxies/echo/toxics', { type: 'latency', attributes: { latency: 1 } });
    expect((await call('POST', '/reset')).status).toBe(204);
    expect((await call('GET', '/proxies/echo')).body).toMatchObject({ enabled: true, toxics: [] });
    expect(await exchange(port, 'back')).toEqual({ received: 'back', ended: 'complete' });

    expect(await call('GET', '/proxies/nope')).toEqual({ status: 404, body: { error: 'proxy not found: nope', status: 404 } });
    expect((await call('GET', '/version')).body.version).toMatch(/^holdfast \d/);
    // A web page must not be able to drive the proxy (Toxiproxy refuses browsers too).
    expect((await call('GET', '/proxies', undefined, { 'user-agent': 'Mozilla/5.0' })).status).toBe(403);
    expect((await call('DELETE', '/proxies/echo')).status).toBe(204);
    expect((await call('GET', '/proxies')).body).toEqual({});
    await stop(c, done);
  });

  it('prints a stats line on a terminal, redrawn in place', async () => {
    const { c, done, port } = await start(['--upstream', `127.0.0.1:${echo.port}`], { tty: true });
    await exchange(port, 'ping');
    await until(() => c.stdout().includes('\r\x1b[2Kholdfast: 0 open/1 · ↑4 B ↓4 B'), 'the stats line');
    await stop(c, done);
  });

  it('refuses a command line it cannot use, with the usage and exit code 2', async () => {
    for (const args of [
      [],
      ['--upstream', 'nowhere'],
      ['--upstream', '127.0.0.1:1', '--toxic', 'latency:latency=-5'],
      ['--listen', '127.0.0.1:0'],
      ['--bogus'],
    ]) {
      const c = captureIo();
      expect(await main(['chaos', ...args], c.io)).toBe(2);
      expect(c.stderr()).toMatch(/^holdfast chaos: .+\n\nusage: holdfast chaos/);
    }
  });
});
