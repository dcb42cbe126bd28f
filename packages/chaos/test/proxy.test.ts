import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createChaosProxy } from '@holdfast/chaos';
import type { ChaosConnectionInfo, ChaosFaultEvent, ChaosSocketErrorEvent } from '@holdfast/chaos';
import { connectRecording, countHandles, sleep, startEchoServer, startServer, trackTimersFrom, tryConnect, until } from './support.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const run of cleanup.splice(0).reverse()) await run();
});

async function echoProxy() {
  const echo = await startEchoServer();
  const proxy = await createChaosProxy({ upstream: `127.0.0.1:${echo.port}` });
  cleanup.push(
    () => echo.close(),
    () => proxy.close(),
  );
  return { echo, proxy };
}

describe('forwarding', () => {
  it('listens on 127.0.0.1 port 0 by default and carries bytes both ways', async () => {
    const { proxy, echo } = await echoProxy();
    expect(proxy.host).toBe('127.0.0.1');
    expect(proxy.port).toBeGreaterThan(0);
    expect(proxy.port).not.toBe(echo.port);
    expect(proxy.address).toBe(`127.0.0.1:${proxy.port}`);
    expect(proxy.url()).toBe(`http://127.0.0.1:${proxy.port}`);
    expect(proxy.url('ws')).toBe(`ws://127.0.0.1:${proxy.port}`);
    expect(proxy.upstream).toEqual({ host: '127.0.0.1', port: echo.port });

    const payload = Buffer.alloc(300_000, 9);
    const client = await connectRecording(proxy.port);
    client.socket.write(payload);
    await client.waitFor(payload.length);
    expect(client.data().equals(payload)).toBe(true);
    client.socket.end();
    expect((await client.finished).how).toBe('end');
    await until(() => proxy.stats().connections.open === 0);
    const stats = proxy.stats();
    expect(stats.connections.total).toBe(1);
    expect(stats.bytes).toEqual({ upstream: payload.length, downstream: payload.length });
    expect(stats.dropped).toEqual({ upstream: 0, downstream: 0 });
    expect(stats.resets).toBe(0);
  });

  it('forwards a half-close: the client ends, the server still answers', async () => {
    const server = await startServer((socket) => {
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString()));
      socket.on('end', () => socket.end(`got:${got}`));
    });
    const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: server.port } });
    cleanup.push(
      () => server.close(),
      () => proxy.close(),
    );
    const socket = net.connect({ port: proxy.port, host: '127.0.0.1', allowHalfOpen: true });
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.end('question');
    await new Promise((resolve) => socket.on('end', resolve));
    expect(answer).toBe('got:question');
    socket.destroy();
  });

  it('works over IPv6 loopback', async () => {
    const echo = await startEchoServer('::1');
    const proxy = await createChaosProxy({ upstream: `[::1]:${echo.port}`, host: '::1' });
    cleanup.push(
      () => echo.close(),
      () => proxy.close(),
    );
    expect(proxy.address).toBe(`[::1]:${proxy.port}`);
    expect(proxy.url()).toBe(`http://[::1]:${proxy.port}`);
    const client = await connectRecording(proxy.port, '::1');
    client.socket.write('six');
    await client.waitFor(3);
    expect(client.data().toString()).toBe('six');
    client.socket.destroy();
  });

  it('starts with the toxics given as options', async () => {
    const echo = await startEchoServer();
    const proxy = await createChaosProxy({
      upstream: { host: '127.0.0.1', port: echo.port },
      toxics: [{ type: 'latency', attributes: { latency: 100 } }],
    });
    cleanup.push(
      () => echo.close(),
      () => proxy.close(),
    );
    expect(proxy.toxics()).toEqual([
      { name: 'latency_downstream', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 100, jitter: 0 } },
    ]);
    const client = await connectRecording(proxy.port);
    const start = performance.now();
    client.socket.write('x');
    await client.waitFor(1);
    expect(performance.now() - start).toBeGreaterThanOrEqual(100);
    client.socket.destroy();
  });
});

describe('toxic list', () => {
  it('names toxics <type>_<stream> by default and refuses duplicates and unknown names', async () => {
    const { proxy } = await echoProxy();
    expect(proxy.addToxic({ type: 'timeout', stream: 'upstream' })).toBe('timeout_upstream');
    expect(proxy.addToxic({ name: 'mine', type: 'slicer', attributes: { average_size: 10 } })).toBe('mine');
    expect(proxy.toxics().map((t) => t.name)).toEqual(['timeout_upstream', 'mine']);
    expect(proxy.toxics()[1]).toEqual({
      name: 'mine',
      type: 'slicer',
      stream: 'downstream',
      toxicity: 1,
      attributes: { average_size: 10, size_variation: 0, delay: 0 },
    });
    expect(() => proxy.addToxic({ type: 'timeout', stream: 'upstream' })).toThrow(/'timeout_upstream' already exists/);
    expect(() => proxy.removeToxic('nope')).toThrow(/no toxic named "nope" \(toxics: timeout_upstream, mine\)/);
    proxy.removeToxic('mine');
    expect(proxy.toxics().map((t) => t.name)).toEqual(['timeout_upstream']);
    proxy.clearToxics();
    expect(proxy.toxics()).toEqual([]);
  });
});

describe('connections', () => {
  it("emits 'connection', lists open connections and resets one by id", async () => {
    const { proxy } = await echoProxy();
    const seen: ChaosConnectionInfo[] = [];
    const closed: number[] = [];
    proxy.on('connection', (info) => seen.push(info));
    proxy.on('connection-closed', (info) => closed.push(info.id));
    const a = await connectRecording(proxy.port);
    const b = await connectRecording(proxy.port);
    await until(() => seen.length === 2);
    a.socket.write('12345');
    await a.waitFor(5);
    const list = proxy.connections();
    expect(list.map((c) => c.id)).toEqual([1, 2]);
    expect(list[0]?.client.address).toBe('127.0.0.1');
    expect(list[0]?.client.port).toBe(a.socket.localPort);
    expect(list[0]?.bytes).toEqual({ upstream: 5, downstream: 5 });

    expect(proxy.resetConnection(1)).toBe(true);
    expect((await a.finished).how).toBe('ECONNRESET');
    await until(() => closed.includes(1));
    expect(proxy.resetConnection(1)).toBe(false);
    expect(proxy.connections().map((c) => c.id)).toEqual([2]);
    // The other connection is untouched.
    b.socket.write('ok');
    await b.waitFor(2);
    expect(proxy.stats().resets).toBe(1);
    b.socket.destroy();
  });

  it('resetAll() resets every open connection and keeps accepting new ones', async () => {
    const { proxy, echo } = await echoProxy();
    const clients = await Promise.all([1, 2, 3].map(() => connectRecording(proxy.port)));
    await until(() => proxy.connections().length === 3);
    const faults: ChaosFaultEvent[] = [];
    proxy.on('fault', (f) => faults.push(f));
    expect(proxy.resetAll()).toBe(3);
    for (const c of clients) expect((await c.finished).how).toBe('ECONNRESET');
    expect(faults.filter((f) => f.action === 'reset').map((f) => f.cause)).toEqual(Array(3).fill('resetConnection'));
    // The upstream sockets were reset too.
    await until(() => echo.errors.filter((e) => e === 'ECONNRESET').length === 3, 2000, 'upstream resets');
    const next = await connectRecording(proxy.port);
    next.socket.write('again');
    await next.waitFor(5);
    next.socket.destroy();
  });

  it('a listener that throws becomes a warning, not a crash', async () => {
    const { proxy } = await echoProxy();
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    cleanup.push(() => {
      process.off('warning', onWarning);
      return Promise.resolve();
    });
    proxy.on('connection', () => {
      throw new Error('listener bug');
    });
    const client = await connectRecording(proxy.port);
    client.socket.write('x');
    await client.waitFor(1);
    await until(() => warnings.some((w) => w.includes('listener bug')));
    client.socket.destroy();
  });
});

describe('upstream down', () => {
  it('resets the client when the upstream refuses, counts it, and survives', async () => {
    const gone = await startEchoServer();
    await gone.close(); // a real closed port
    const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: gone.port } });
    cleanup.push(() => proxy.close());
    const errors: ChaosSocketErrorEvent[] = [];
    proxy.on('socket-error', (e) => errors.push(e));
    for (let i = 0; i < 3; i++) {
      const client = await connectRecording(proxy.port);
      client.socket.write('anyone?');
      expect((await client.finished).how).toBe('ECONNRESET');
    }
    await until(() => proxy.stats().connections.open === 0);
    expect(proxy.stats().errors.upstream).toBe(3);
    expect(errors.map((e) => [e.side, e.code])).toEqual(Array(3).fill(['upstream', 'ECONNREFUSED']));
    expect(proxy.stats().resets).toBe(3);
  });
});

describe('disable / enable', () => {
  it('refuse mode: open connections get a FIN, new ones ECONNREFUSED; enable listens again on the same port', async () => {
    const { proxy } = await echoProxy();
    const port = proxy.port;
    const open = await connectRecording(port);
    await until(() => proxy.connections().length === 1);
    await proxy.disable();
    expect(proxy.enabled).toBe(false);
    expect((await open.finished).how).toBe('end');
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    await proxy.enable();
    expect(proxy.enabled).toBe(true);
    expect(proxy.port).toBe(port);
    const client = await connectRecording(port);
    client.socket.write('back');
    await client.waitFor(4);
    expect(client.data().toString()).toBe('back');
    client.socket.destroy();
  });

  it("reset mode: open connections and new ones get a RST ({ existing: 'reset' })", async () => {
    const { proxy } = await echoProxy();
    const open = await connectRecording(proxy.port);
    await until(() => proxy.connections().length === 1);
    await proxy.disable({ mode: 'reset', existing: 'reset' });
    expect((await open.finished).how).toBe('ECONNRESET');
    expect(await tryConnect(proxy.port)).toBe('ECONNRESET');
    expect(proxy.stats().connections.rejected).toBe(1);
    expect(proxy.stats().connections.total).toBe(1);
    await proxy.enable();
    expect(await tryConnect(proxy.port)).toBe('connected');
  });

  it('switches between modes while disabled, and enable() is idempotent', async () => {
    const { proxy } = await echoProxy();
    await proxy.disable({ mode: 'reset' });
    await proxy.disable({ mode: 'refuse' });
    expect(await tryConnect(proxy.port)).toBe('ECONNREFUSED');
    await proxy.disable({ mode: 'reset' });
    expect(await tryConnect(proxy.port)).toBe('ECONNRESET');
    await proxy.enable();
    await proxy.enable();
    expect(await tryConnect(proxy.port)).toBe('connected');
  });

  it('rejects bad disable options by name', async () => {
    const { proxy } = await echoProxy();
    await expect(proxy.disable({ mode: 'drop' as 'reset' })).rejects.toThrow(
      "disable: option 'mode' must be 'refuse' (ECONNREFUSED) or 'reset' (accept, then RST), got \"drop\"",
    );
    await expect(proxy.disable({ existing: 'x' as 'reset' })).rejects.toThrow(/option 'existing'/);
    expect(proxy.enabled).toBe(true);
  });
});

describe('close()', () => {
  it('leaves no socket, server or timer behind, even with toxics holding data', async () => {
    await sleep(50); // let earlier tests' handles finish closing
    const before = countHandles();
    // Toxic timers are unref'd, so getActiveResourcesInfo() does not list them: track the proxy's own timers instead.
    const timers = trackTimersFrom('/packages/chaos/src/');
    cleanup.push(() => {
      timers.stop();
      return Promise.resolve();
    });
    const echo = await startEchoServer();
    const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: echo.port } });
    proxy.addToxic({ type: 'latency', attributes: { latency: 10_000 } });
    proxy.addToxic({ type: 'timeout', stream: 'upstream', attributes: { timeout: 10_000 }, toxicity: 0.5 });
    proxy.addToxic({ type: 'slow_close', stream: 'upstream', attributes: { delay: 10_000 } });
    const clients = await Promise.all([1, 2, 3, 4].map(() => connectRecording(proxy.port)));
    for (const c of clients) c.socket.write('held');
    await until(() => proxy.connections().length === 4);
    clients[0]!.socket.end(); // a FIN held by slow_close
    await sleep(50);
    expect(timers.live()).toBeGreaterThan(0);
    expect(countHandles().TCPSocketWrap ?? 0).toBeGreaterThanOrEqual((before.TCPSocketWrap ?? 0) + 12);

    await proxy.close();
    expect(proxy.closed).toBe(true);
    expect(timers.live()).toBe(0);
    for (const c of clients) await c.finished;
    for (const c of clients) c.socket.destroy();
    await echo.close();
    await sleep(20);
    const after = countHandles();
    expect(after.TCPSocketWrap ?? 0).toBeLessThanOrEqual(before.TCPSocketWrap ?? 0);
    expect(after.TCPServerWrap ?? 0).toBeLessThanOrEqual(before.TCPServerWrap ?? 0);
    expect(await tryConnect(proxy.port)).toBe('ECONNREFUSED');
  });

  it('is idempotent; the proxy refuses changes afterwards', async () => {
    const { proxy } = await echoProxy();
    await Promise.all([proxy.close(), proxy.close()]);
    await proxy.close();
    expect(() => proxy.addToxic({ type: 'timeout' })).toThrow(/addToxic: the chaos proxy for 127\.0\.0\.1:\d+ is closed/);
    await expect(proxy.enable()).rejects.toThrow(/enable: the chaos proxy .* is closed/);
    await expect(proxy.disable()).rejects.toThrow(/is closed/);
  });

  it('waits for a disable in progress', async () => {
    const { proxy } = await echoProxy();
    const client = await connectRecording(proxy.port);
    await until(() => proxy.connections().length === 1);
    const disabled = proxy.disable();
    await proxy.close();
    await disabled;
    expect((await client.finished).how).toBe('end');
  });
});
