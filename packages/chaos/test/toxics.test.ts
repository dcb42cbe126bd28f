import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createChaosProxy } from '@holdfast/chaos';
import type { ChaosProxy } from '@holdfast/chaos';
import type { TestServer } from './support.js';
import { connectRecording, sleep, startEchoServer, startSendingServer, startServer, until } from './support.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const run of cleanup.splice(0).reverse()) await run();
});

async function proxyTo(server: TestServer): Promise<ChaosProxy> {
  const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: server.port } });
  cleanup.push(
    () => server.close(),
    () => proxy.close(),
  );
  return proxy;
}

async function echoProxy(): Promise<{ proxy: ChaosProxy; echo: TestServer }> {
  const echo = await startEchoServer();
  return { proxy: await proxyTo(echo), echo };
}

/** Time for one round trip of `bytes` through an echo upstream. */
async function roundTrip(port: number, payload = Buffer.from('ping')): Promise<number> {
  const client = await connectRecording(port);
  const start = performance.now();
  client.socket.write(payload);
  await client.waitFor(payload.length);
  const elapsed = performance.now() - start;
  expect(client.data().equals(payload)).toBe(true);
  client.socket.destroy();
  return elapsed;
}

describe('latency', () => {
  it('adds at least the configured delay to each direction it is set on', async () => {
    const { proxy } = await echoProxy();
    proxy.addToxic({ type: 'latency', stream: 'downstream', attributes: { latency: 120 } });
    expect(await roundTrip(proxy.port)).toBeGreaterThanOrEqual(120);
    proxy.addToxic({ type: 'latency', stream: 'upstream', attributes: { latency: 80 } });
    expect(await roundTrip(proxy.port)).toBeGreaterThanOrEqual(200);
    proxy.clearToxics();
    expect(await roundTrip(proxy.port)).toBeLessThan(120);
  });

  it('keeps the byte order with jitter', async () => {
    const { proxy } = await echoProxy();
    proxy.addToxic({ type: 'latency', attributes: { latency: 20, jitter: 20 } });
    const client = await connectRecording(proxy.port);
    const sent: Buffer[] = [];
    for (let i = 0; i < 30; i++) {
      const part = Buffer.from(`${i},`);
      sent.push(part);
      client.socket.write(part);
      await sleep(2);
    }
    const all = Buffer.concat(sent);
    await client.waitFor(all.length);
    expect(client.data().toString()).toBe(all.toString());
    client.socket.destroy();
  });

  it('applies to connections already open, and removing it passes held data on at once', async () => {
    const { proxy } = await echoProxy();
    const client = await connectRecording(proxy.port);
    client.socket.write('a');
    await client.waitFor(1);
    proxy.addToxic({ name: 'slow', type: 'latency', attributes: { latency: 5000 } });
    expect(proxy.connections()[0]?.toxics.downstream).toEqual(['slow']);
    const start = performance.now();
    client.socket.write('b');
    await sleep(100);
    expect(client.data().toString()).toBe('a');
    proxy.removeToxic('slow');
    await client.waitFor(2);
    expect(client.data().toString()).toBe('ab');
    expect(performance.now() - start).toBeLessThan(4000);
    client.socket.destroy();
  });
});

describe('bandwidth', () => {
  it('limits throughput to about the configured rate', async () => {
    const payload = Buffer.alloc(40_000, 7);
    const server = await startSendingServer(payload);
    const proxy = await proxyTo(server);
    proxy.addToxic({ type: 'bandwidth', attributes: { rate: 200 } }); // 200 KB/s: 40 KB takes 200 ms
    const start = performance.now();
    const client = await connectRecording(proxy.port);
    await client.finished;
    const elapsed = performance.now() - start;
    expect(client.data().equals(payload)).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(3000);
    // Spread over time, not one burst at the end.
    expect(client.chunks.length).toBeGreaterThan(1);
  });
});

describe('slow_close', () => {
  it('delays the FIN, not the data', async () => {
    const server = await startSendingServer(Buffer.from('bye'));
    const proxy = await proxyTo(server);
    proxy.addToxic({ type: 'slow_close', attributes: { delay: 250 } });
    const client = await connectRecording(proxy.port);
    await client.waitFor(3);
    const dataAt = client.times[0]!;
    const end = await client.finished;
    expect(end.how).toBe('end');
    expect(end.at - dataAt).toBeGreaterThanOrEqual(240);
    expect(client.data().toString()).toBe('bye');
  });
});

describe('timeout', () => {
  it('stops all data and closes the connection after the timeout', async () => {
    const { proxy, echo } = await echoProxy();
    proxy.addToxic({ type: 'timeout', stream: 'upstream', attributes: { timeout: 200 } });
    const client = await connectRecording(proxy.port);
    const start = performance.now();
    client.socket.write('lost');
    const end = await client.finished;
    expect(end.how).toBe('end');
    expect(end.at - start).toBeGreaterThanOrEqual(180);
    expect(client.data().length).toBe(0);
    expect(echo.received()).toBe(0);
    expect(proxy.stats().dropped.upstream).toBe(4);
    expect(proxy.stats().closes).toBe(1);
  });

  it('with timeout 0 stalls forever, until the toxic is removed', async () => {
    const { proxy } = await echoProxy();
    proxy.addToxic({ name: 'stall', type: 'timeout', attributes: { timeout: 0 } });
    const client = await connectRecording(proxy.port);
    client.socket.write('dropped');
    await sleep(300);
    expect(client.data().length).toBe(0);
    expect(client.socket.destroyed).toBe(false);
    expect(proxy.connections()).toHaveLength(1);
    proxy.removeToxic('stall');
    client.socket.write('after');
    await client.waitFor(5);
    // What was sent while stalled is gone, as with Toxiproxy; what follows flows again.
    expect(client.data().toString()).toBe('after');
    expect(proxy.stats().dropped.downstream).toBe('dropped'.length);
    client.socket.destroy();
  });

  it('when added to an open connection, closes it after the timeout', async () => {
    const { proxy } = await echoProxy();
    const client = await connectRecording(proxy.port);
    await sleep(20);
    const start = performance.now();
    proxy.addToxic({ type: 'timeout', attributes: { timeout: 100 } });
    const end = await client.finished;
    expect(end.how).toBe('end');
    expect(end.at - start).toBeGreaterThanOrEqual(90);
  });
});

describe('reset_peer', () => {
  it('resets on the first byte of the response: the net client gets a real ECONNRESET', async () => {
    const { proxy, echo } = await echoProxy();
    proxy.addToxic({ type: 'reset_peer', stream: 'downstream', attributes: { timeout: 0 } });
    const client = await connectRecording(proxy.port);
    client.socket.write('hello');
    const end = await client.finished;
    expect(end.how).toBe('ECONNRESET');
    expect(client.data().length).toBe(0);
    // The request reached the server; the upstream side was reset too.
    expect(echo.received()).toBe(5);
    await until(() => proxy.stats().resets === 1);
    expect(proxy.stats().faults.reset_peer).toBe(1);
  });

  it('waits the timeout before resetting', async () => {
    const { proxy } = await echoProxy();
    proxy.addToxic({ type: 'reset_peer', stream: 'upstream', attributes: { timeout: 150 } });
    const client = await connectRecording(proxy.port);
    const start = performance.now();
    client.socket.write('x');
    const end = await client.finished;
    expect(end.how).toBe('ECONNRESET');
    expect(end.at - start).toBeGreaterThanOrEqual(140);
  });

  it('makes a node:http client fail with ECONNRESET (socket hang up)', async () => {
    const server = http.createServer((_req, res) => res.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const proxy = await createChaosProxy({ upstream: `127.0.0.1:${port}` });
    cleanup.push(() => proxy.close());

    const get = (): Promise<string> =>
      new Promise((resolve) => {
        http
          .get(proxy.url() + '/', { agent: false }, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve(`ok:${body}`));
            res.on('error', (e: NodeJS.ErrnoException) => resolve(`${e.code}:${e.message}`));
          })
          .on('error', (e: NodeJS.ErrnoException) => resolve(`${e.code}:${e.message}`));
      });
    expect(await get()).toBe('ok:hello');
    proxy.addToxic({ type: 'reset_peer', attributes: { timeout: 0 } });
    expect(await get()).toMatch(/^ECONNRESET:(socket hang up|read ECONNRESET)$/);
  });

  it('holdfast extension after_bytes: lets exactly that many bytes through, then resets', async () => {
    const payload = Buffer.alloc(10_000, 1);
    const server = await startSendingServer(payload, { end: false });
    const proxy = await proxyTo(server);
    proxy.addToxic({ type: 'reset_peer', attributes: { after_bytes: 1000, timeout: 150 } });
    const client = await connectRecording(proxy.port);
    const end = await client.finished;
    expect(end.how).toBe('ECONNRESET');
    expect(client.data().length).toBe(1000);
    await until(() => server.errors.includes('ECONNRESET'), 2000, 'the upstream to be reset');
  });

  it('applies to connections already open', async () => {
    const { proxy } = await echoProxy();
    const client = await connectRecording(proxy.port);
    client.socket.write('a');
    await client.waitFor(1);
    proxy.addToxic({ type: 'reset_peer', stream: 'upstream' });
    client.socket.write('b');
    expect((await client.finished).how).toBe('ECONNRESET');
    expect(client.data().toString()).toBe('a');
  });
});

describe('reset_peer triggers', () => {
  it('turns a FIN in its direction into a reset', async () => {
    const server = await startSendingServer(Buffer.alloc(0));
    const proxy = await proxyTo(server);
    proxy.addToxic({ type: 'reset_peer' });
    const client = await connectRecording(proxy.port);
    expect((await client.finished).how).toBe('ECONNRESET');
  });

  it('removed before it triggered, lets data and the close through', async () => {
    const { proxy } = await echoProxy();
    proxy.addToxic({ name: 'rst', type: 'reset_peer', attributes: { after_bytes: 100 } });
    const client = await connectRecording(proxy.port);
    client.socket.write('early');
    await client.waitFor(5);
    proxy.removeToxic('rst');
    client.socket.write(Buffer.alloc(200, 1));
    await client.waitFor(205);
    client.socket.end();
    expect((await client.finished).how).toBe('end');
    expect(proxy.stats().resets).toBe(0);
  });

  it.each([
    ['reset_peer', 'ECONNRESET'],
    ['limit_data', 'end'],
  ] as const)('%s removed by a listener of its own drop still ends the connection (once per test, as a retry test does)', async (type, how) => {
    const { proxy } = await echoProxy();
    const attributes = type === 'reset_peer' ? { after_bytes: 3 } : { bytes: 3 };
    proxy.addToxic({ name: 'once', type, stream: 'downstream', attributes });
    proxy.on('fault', (fault) => {
      if (fault.action === 'drop' && fault.cause === 'once') proxy.removeToxic('once');
    });
    const client = await connectRecording(proxy.port);
    const started = performance.now();
    client.socket.write('hello');
    expect((await client.finished).how).toBe(how);
    expect(client.data().toString()).toBe('hel');
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(proxy.toxics()).toEqual([]);
  });
});

describe('a toxic removed by a listener of its own drop', () => {
  it.each(['reset_peer', 'limit_data'] as const)(
    '%s: nothing after the cut reaches the client, even while the reset waits out its timeout',
    async (type) => {
      // An upstream that keeps sending a counting pattern; the cut comes at byte 100 000.
      const payload = Buffer.from(Array.from({ length: 4 * 1024 * 1024 }, (_, i) => i % 251));
      const server = await startSendingServer(payload);
      const proxy = await proxyTo(server);
      const attributes = type === 'reset_peer' ? { after_bytes: 100_000, timeout: 200 } : { bytes: 100_000 };
      proxy.addToxic({ name: 'cut', type, stream: 'downstream', attributes });
      proxy.on('fault', (fault) => {
        if (fault.action === 'drop' && fault.cause === 'cut') proxy.removeToxic('cut');
      });
      const client = await connectRecording(proxy.port);
      await client.finished;
      const received = client.data();
      expect(received.length).toBe(100_000);
      expect(received.equals(payload.subarray(0, 100_000))).toBe(true);
    },
  );
});

describe('slicer', () => {
  it('delivers the same bytes in many small chunks', async () => {
    const payload = Buffer.from(Array.from({ length: 6000 }, (_, i) => i % 251));
    const server = await startSendingServer(payload);
    const proxy = await proxyTo(server);
    proxy.addToxic({ type: 'slicer', attributes: { average_size: 100, size_variation: 30, delay: 2000 } });
    const client = await connectRecording(proxy.port);
    expect((await client.finished).how).toBe('end');
    expect(client.data().equals(payload)).toBe(true);
    expect(client.chunks.length).toBeGreaterThanOrEqual(10);
    expect(Math.max(...client.chunks.map((c) => c.length))).toBeLessThan(payload.length);
  });
});

describe('limit_data', () => {
  it('closes the connection after exactly that many bytes downstream', async () => {
    const server = await startSendingServer(Buffer.alloc(5000, 3), { end: false });
    const proxy = await proxyTo(server);
    proxy.addToxic({ type: 'limit_data', attributes: { bytes: 1000 } });
    const client = await connectRecording(proxy.port);
    expect((await client.finished).how).toBe('end');
    expect(client.data().length).toBe(1000);
  });

  it('counts upstream bytes across chunks', async () => {
    const { proxy, echo } = await echoProxy();
    proxy.addToxic({ type: 'limit_data', stream: 'upstream', attributes: { bytes: 10 } });
    const client = await connectRecording(proxy.port);
    client.socket.write('123456');
    await client.waitFor(6);
    client.socket.write('7890abcdef');
    expect((await client.finished).how).toBe('end');
    // The whole connection closes once the limit is reached, so the echo of the last 4 bytes may not make it back.
    await until(() => echo.received() === 10, 2000, 'the upstream to receive 10 bytes');
    await sleep(20);
    expect(echo.received()).toBe(10);
    expect(proxy.stats().dropped.upstream).toBe(6);
  });
});

describe('toxicity', () => {
  it('0 never applies', async () => {
    const { proxy } = await echoProxy();
    proxy.addToxic({ type: 'reset_peer', toxicity: 0 });
    for (let i = 0; i < 20; i++) await roundTrip(proxy.port);
    expect(proxy.stats().faults.reset_peer).toBe(0);
    expect(proxy.stats().resets).toBe(0);
  });

  it('0.5 applies to some but not all of 100 connections, decided per connection', async () => {
    const { proxy } = await echoProxy();
    proxy.addToxic({ type: 'reset_peer', toxicity: 0.5 });
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const client = await connectRecording(proxy.port);
        client.socket.write('x');
        const result = await Promise.race([client.waitFor(1).then(() => 'echoed'), client.finished.then((f) => f.how)]);
        client.socket.destroy();
        return result;
      }),
    );
    const resets = outcomes.filter((o) => o === 'ECONNRESET').length;
    const echoed = outcomes.filter((o) => o === 'echoed').length;
    expect(resets + echoed).toBe(100);
    expect(resets).toBeGreaterThan(0);
    expect(echoed).toBeGreaterThan(0);
    expect(proxy.stats().faults.reset_peer).toBe(resets);
  });

  it('uses the random option, so a test can make it deterministic', async () => {
    const echo = await startEchoServer();
    let next = 0;
    const draws = [0.2, 0.8];
    const proxy = await createChaosProxy({
      upstream: { host: '127.0.0.1', port: echo.port },
      random: () => draws[next++ % 2]!,
      toxics: [{ type: 'latency', toxicity: 0.5, attributes: { latency: 1 } }],
    });
    cleanup.push(
      () => echo.close(),
      () => proxy.close(),
    );
    const a = await connectRecording(proxy.port);
    const b = await connectRecording(proxy.port);
    await until(() => proxy.connections().length === 2);
    expect(proxy.connections().map((c) => c.toxics.downstream)).toEqual([['latency_downstream'], []]);
    a.socket.destroy();
    b.socket.destroy();
  });
});

describe('an upstream that resets mid-connection', () => {
  it('reaches the client as a reset', async () => {
    const server = await startServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const proxy = await proxyTo(server);
    const client = await connectRecording(proxy.port);
    client.socket.write('boom');
    expect((await client.finished).how).toBe('ECONNRESET');
    await until(() => proxy.stats().errors.upstream === 1);
  });
});
