/**
 * @holdfast/net beside raw `net`, in one run:
 * - throughput: 64-byte messages, as fast as backpressure allows, to a sink
 *   server in another process, and from a source (msgs/s, MB/s, ratio to raw
 *   net with the same framing written by hand; alternating rounds, medians);
 * - recovery: time from the server listening again to the first queued message
 *   arriving, over many restarts (p50/p99 beside the first backoff step);
 * - herd: 1000 clients of a server that drops them all and is back 1 s later
 *   on the same port: the most reconnects in any 100 ms and the time until
 *   all are back, beside a hand-written reconnect loop with a fixed delay;
 * - memory: heap and RSS per idle connection (holdfast bundled as it is published).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { exponential } from '@holdfast/core';
import { ReconnectingSocket } from '@holdfast/net';
import { bundlePackage } from './lib/bundle.js';
import { startChildServer } from './lib/child-server.js';
import { herdFigures, herdHeader, herdRows, recordHerd, type HerdRound } from './lib/herd.js';
import { alternate, fmt, median, percentile, printTable, type BenchOptions } from './lib/report.js';
import { recordFigure, type FigureValue } from './lib/results.js';

// Sink: answers once it sees the end marker 'Z' (never in a message body or header). The answer, 00 00 00 01 0a,
// is one chunk in raw mode, one line in 'lines' and one 1-byte frame in 'length-prefixed'.
// Source: a connection whose first message is "SEND <raw|lines|prefix> <count>" gets count 64-byte messages.
// Idle connections are simply kept.
const SINK_SERVER = `
const net = require('node:net');
const body = Buffer.from('a'.repeat(63) + '\\n');
const frame = { raw: body, lines: body, prefix: Buffer.concat([Buffer.from([0, 0, 0, 64]), body]) };
const server = net.createServer((s) => {
  s.setNoDelay(true);
  s.on('error', () => {});
  const sink = (chunk) => { if (chunk.includes(0x5a)) s.write(Buffer.from([0, 0, 0, 1, 0x0a])); };
  s.once('data', (chunk) => {
    const m = /^SEND (raw|lines|prefix) (\\d+)/.exec((chunk[0] === 0 ? chunk.subarray(4) : chunk).toString());
    if (m === null) { sink(chunk); s.on('data', sink); return; }
    const batch = Buffer.concat(Array(1024).fill(frame[m[1]]));
    let left = Math.ceil(Number(m[2]) / 1024);
    const pump = () => { while (left > 0) { left--; if (!s.write(batch)) { s.once('drain', pump); return; } } };
    pump();
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

async function startSink(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', SINK_SERVER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  return { port, child };
}

const stopSink = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.stdin!.end();
  });

const MESSAGE_BYTES = 64;

/** This process's CPU time (user + system) in microseconds: what the client side costs, less sensitive than wall time to other work on the machine. */
function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}
const BODY = 'a'.repeat(MESSAGE_BYTES - 1);

type Contender = 'raw net' | 'holdfast raw' | 'raw net + lines' | 'holdfast lines' | 'raw net + prefix' | 'holdfast length-prefixed';

interface Writer {
  write(): boolean;
  end(): void;
  onceDrain(cb: () => void): void;
  onceDone(cb: () => void): void;
  close(): Promise<void>;
}

async function rawWriter(port: number, frame: 'raw' | 'lines' | 'prefix'): Promise<Writer> {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise((resolve) => socket.once('connect', resolve));
  const chunk = `${BODY}\n`;
  // The lines and prefix contenders frame every message, as an application without holdfast would.
  const write =
    frame === 'raw'
      ? () => socket.write(chunk)
      : frame === 'lines'
        ? () => socket.write(BODY + '\n')
        : () => {
            const body = Buffer.from(chunk);
            const out = Buffer.allocUnsafe(4 + body.length);
            out.writeUInt32BE(body.length, 0);
            body.copy(out, 4);
            return socket.write(out);
          };
  return {
    write,
    end: () => socket.write(frame === 'prefix' ? Buffer.from([0, 0, 0, 1, 0x5a]) : 'Z'),
    onceDrain: (cb) => socket.once('drain', cb),
    onceDone: (cb) => socket.once('data', cb),
    close: () =>
      new Promise((resolve) => {
        socket.once('close', () => resolve());
        socket.end();
      }),
  };
}

async function holdfastWriter(port: number, framing: 'raw' | 'lines' | 'length-prefixed'): Promise<Writer> {
  const socket = new ReconnectingSocket({ host: '127.0.0.1', port, framing });
  await new Promise((resolve) => socket.once('open', resolve));
  // 64 bytes on the wire for raw and lines (the delimiter is added by the framing), 68 with a length prefix, like the raw peers.
  const message = framing === 'lines' ? BODY : `${BODY}\n`;
  return {
    write: () => socket.write(message),
    end: () => socket.write('Z'),
    onceDrain: (cb) => socket.once('drain', () => cb()),
    onceDone: (cb) => socket.once(framing === 'raw' ? 'data' : 'message', () => cb()),
    close: () => socket.close(),
  };
}

/** Writes `count` messages as fast as backpressure allows; resolves with the elapsed ms once the sink has them all. */
async function pump(writer: Writer, count: number): Promise<number> {
  const start = performance.now();
  const done = new Promise<void>((resolve) => writer.onceDone(resolve));
  let sent = 0;
  await new Promise<void>((resolve) => {
    const loop = (): void => {
      while (sent < count) {
        sent++;
        if (!writer.write()) {
          writer.onceDrain(loop);
          return;
        }
      }
      resolve();
    };
    loop();
  });
  writer.end();
  await done;
  return performance.now() - start;
}

async function throughput(opts: BenchOptions): Promise<void> {
  const { port, child } = await startSink();
  const count = opts.smoke ? 2_000 : 500_000;
  const rounds = opts.smoke ? 1 : 7;
  const contenders: Contender[] = ['raw net', 'holdfast raw', 'raw net + lines', 'holdfast lines', 'raw net + prefix', 'holdfast length-prefixed'];
  const make = (name: Contender): Promise<Writer> => {
    switch (name) {
      case 'raw net':
        return rawWriter(port, 'raw');
      case 'holdfast raw':
        return holdfastWriter(port, 'raw');
      case 'raw net + lines':
        return rawWriter(port, 'lines');
      case 'holdfast lines':
        return holdfastWriter(port, 'lines');
      case 'raw net + prefix':
        return rawWriter(port, 'prefix');
      default:
        return holdfastWriter(port, 'length-prefixed');
    }
  };
  // Warm-up, so JIT state does not favour whoever runs first.
  for (const name of contenders) {
    const w = await make(name);
    await pump(w, Math.min(count, 20_000));
    await w.close();
  }
  const cpu = Object.fromEntries(contenders.map((n) => [n, [] as number[]])) as Record<Contender, number[]>;
  const results = await alternate(contenders, rounds, async (name) => {
    const w = await make(name);
    const cpuBefore = cpuMicros();
    const ms = await pump(w, count);
    cpu[name].push(((cpuMicros() - cpuBefore) * 1000) / count);
    await w.close();
    return (count / ms) * 1000;
  });
  await stopSink(child);
  const peerOf: Record<Contender, Contender> = {
    'raw net': 'raw net',
    'holdfast raw': 'raw net',
    'raw net + lines': 'raw net + lines',
    'holdfast lines': 'raw net + lines',
    'raw net + prefix': 'raw net + prefix',
    'holdfast length-prefixed': 'raw net + prefix',
  };
  console.log(`\nthroughput: ${fmt(count)} messages of ${MESSAGE_BYTES} bytes to a sink in another process, median of ${rounds} alternating rounds`);
  printTable(
    ['contender', 'messages/s', 'MB/s', 'ratio to raw', 'client CPU ns/msg', 'CPU ratio to raw'],
    contenders.map((name) => {
      const perSecond = median(results[name]);
      const peer = peerOf[name];
      return [
        name,
        fmt(perSecond),
        fmt((perSecond * MESSAGE_BYTES) / 1e6, 1),
        fmt(perSecond / median(results[peer]), 3),
        fmt(median(cpu[name])),
        fmt(median(cpu[name]) / median(cpu[peer]), 3),
      ];
    }),
  );
  recordFigure({
    id: 'send-throughput',
    title: `Sending ${MESSAGE_BYTES}-byte messages in each framing, nothing failing`,
    metric: 'messages/s',
    better: 'higher',
    note: `${fmt(count)} messages to a sink in another process, ${rounds} alternating round(s), medians; each holdfast row's ratio is to raw net with the same framing written by hand.`,
    values: contenders.map((name) => throughputValue(name, results, cpu, peerOf[name])),
  });
}

/** A throughput row as a figure value: median and range of the rounds, the ratio to its raw peer (none for the raw rows). */
function throughputValue<T extends string>(name: T, results: Record<T, number[]>, cpu: Record<T, number[]>, peer: T): FigureValue {
  return {
    contender: name,
    value: median(results[name]),
    low: Math.min(...results[name]),
    high: Math.max(...results[name]),
    ...(peer === name ? {} : { ratio: median(results[name]) / median(results[peer]) }),
    note: `${fmt(median(cpu[name]))} ns CPU/msg`,
  };
}

type InboundContender =
  'raw net' | 'holdfast raw' | 'raw net + line splitter' | 'holdfast lines' | 'raw net + prefix parser' | 'holdfast length-prefixed';

/** Receives `count` messages from the source; resolves with the elapsed ms. */
async function receive(port: number, name: InboundContender, count: number): Promise<number> {
  const framing = name.includes('lines') || name.includes('line splitter') ? 'lines' : name.includes('prefix') ? 'prefix' : 'raw';
  if (name.startsWith('holdfast')) {
    const socket = new ReconnectingSocket({ host: '127.0.0.1', port, framing: framing === 'prefix' ? 'length-prefixed' : framing });
    await new Promise((resolve) => socket.once('open', resolve));
    const start = performance.now();
    await new Promise<void>((resolve) => {
      let got = 0;
      if (framing === 'raw') {
        socket.on('data', (chunk) => {
          got += chunk.length;
          if (got >= count * MESSAGE_BYTES) resolve();
        });
      } else {
        socket.on('message', () => {
          if (++got === count) resolve();
        });
      }
      socket.send(`SEND ${framing} ${count}`);
    });
    const ms = performance.now() - start;
    await socket.close();
    return ms;
  }
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise((resolve) => socket.once('connect', resolve));
  const start = performance.now();
  await new Promise<void>((resolve) => {
    let got = 0;
    let pending: Buffer | undefined;
    // The application's handler for one message, as holdfast's 'message' listener gets it.
    const onMessage = (message: Buffer): void => {
      if (message.length >= 0) got++;
    };
    // What an application without holdfast writes: keep the tail of a chunk, split on the delimiter or the length.
    const onData =
      framing === 'raw'
        ? (chunk: Buffer): void => {
            got += chunk.length;
            if (got >= count * MESSAGE_BYTES) resolve();
          }
        : framing === 'lines'
          ? (chunk: Buffer): void => {
              const data = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
              let start = 0;
              let end = data.indexOf(10, start);
              while (end !== -1) {
                onMessage(data.subarray(start, end));
                start = end + 1;
                end = data.indexOf(10, start);
              }
              pending = start < data.length ? data.subarray(start) : undefined;
              if (got >= count) resolve();
            }
          : (chunk: Buffer): void => {
              const data = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
              let offset = 0;
              while (data.length - offset >= 4) {
                const end = offset + 4 + data.readUInt32BE(offset);
                if (end > data.length) break;
                onMessage(data.subarray(offset + 4, end));
                offset = end;
              }
              pending = offset < data.length ? data.subarray(offset) : undefined;
              if (got >= count) resolve();
            };
    socket.on('data', onData);
    socket.write(
      framing === 'prefix' ? Buffer.concat([Buffer.from([0, 0, 0, 20]), Buffer.from(`SEND prefix ${count}`)]) : `SEND ${framing} ${count}\n`,
    );
  });
  const ms = performance.now() - start;
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.destroy();
  });
  return ms;
}

async function inbound(opts: BenchOptions): Promise<void> {
  const { port, child } = await startSink();
  const count = opts.smoke ? 2048 : 1024 * 1024;
  const rounds = opts.smoke ? 1 : 7;
  const contenders: InboundContender[] = [
    'raw net',
    'holdfast raw',
    'raw net + line splitter',
    'holdfast lines',
    'raw net + prefix parser',
    'holdfast length-prefixed',
  ];
  for (const name of contenders) await receive(port, name, 1024 * 8);
  const cpu = Object.fromEntries(contenders.map((n) => [n, [] as number[]])) as Record<InboundContender, number[]>;
  const results = await alternate(contenders, rounds, async (name) => {
    const cpuBefore = cpuMicros();
    const ms = await receive(port, name, count);
    cpu[name].push(((cpuMicros() - cpuBefore) * 1000) / count);
    return (count / ms) * 1000;
  });
  await stopSink(child);
  const peerOf = (name: InboundContender): InboundContender =>
    name === 'holdfast raw'
      ? 'raw net'
      : name === 'holdfast lines'
        ? 'raw net + line splitter'
        : name === 'holdfast length-prefixed'
          ? 'raw net + prefix parser'
          : name;
  console.log(
    `\nreceive throughput: ${fmt(count)} messages of ${MESSAGE_BYTES} bytes from a source in another process, median of ${rounds} alternating rounds`,
  );
  printTable(
    ['contender', 'messages/s', 'MB/s', 'ratio to raw', 'client CPU ns/msg', 'CPU ratio to raw'],
    contenders.map((name) => {
      const perSecond = median(results[name]);
      const peer = peerOf(name);
      return [
        name,
        fmt(perSecond),
        fmt((perSecond * MESSAGE_BYTES) / 1e6, 1),
        fmt(perSecond / median(results[peer]), 3),
        fmt(median(cpu[name])),
        fmt(median(cpu[name]) / median(cpu[peer]), 3),
      ];
    }),
  );
  recordFigure({
    id: 'receive-throughput',
    title: `Receiving ${MESSAGE_BYTES}-byte messages in each framing, nothing failing`,
    metric: 'messages/s',
    better: 'higher',
    note: `${fmt(count)} messages from a source in another process, ${rounds} alternating round(s), medians; each holdfast row's ratio is to raw net with the same parser written by hand.`,
    values: contenders.map((name) => throughputValue(name, results, cpu, peerOf(name))),
  });
}

async function recovery(opts: BenchOptions): Promise<void> {
  const restarts = opts.smoke ? 3 : 50;
  const downMs = 50;
  const initialMs = 100;
  let firstArrival: ((at: number) => void) | undefined;
  const connections = new Set<net.Socket>();
  const server = net.createServer((s) => {
    connections.add(s);
    s.on('error', () => {});
    s.on('close', () => connections.delete(s));
    s.on('data', () => firstArrival?.(performance.now()));
  });
  const listen = (port: number): Promise<void> => new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  await listen(0);
  const { port } = server.address() as net.AddressInfo;
  const socket = new ReconnectingSocket({
    host: '127.0.0.1',
    port,
    framing: 'lines',
    schedule: exponential({ initialMs, maxMs: 2000 }),
    minUptimeMs: 0,
  });
  await new Promise((resolve) => socket.once('open', resolve));
  const times: number[] = [];
  for (let i = 0; i < restarts; i++) {
    const lost = new Promise((resolve) => socket.once('disconnect', resolve));
    for (const s of connections) s.resetAndDestroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await lost;
    socket.send(`probe ${i}`);
    await new Promise((resolve) => setTimeout(resolve, downMs));
    const arrived = new Promise<number>((resolve) => (firstArrival = resolve));
    await listen(port);
    const upAt = performance.now();
    times.push((await arrived) - upAt);
    firstArrival = undefined;
  }
  await socket.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  console.log(
    `\nrecovery: server reset, down ${downMs} ms, back on the same port; ${restarts} restarts; schedule exponential(${initialMs} ms, full jitter)`,
  );
  printTable(
    ['contender', 'p50 ms', 'p99 ms', 'max ms', 'goal: p50 <= first step + 20 ms'],
    [
      [
        'holdfast ReconnectingSocket',
        fmt(percentile(times, 50), 1),
        fmt(percentile(times, 99), 1),
        fmt(Math.max(...times), 1),
        `${initialMs + 20} ms`,
      ],
    ],
  );
}

/**
 * The herd's server, in its own process so that 1000 accepts do not share the
 * clients' event loop. `down` resets every connection and closes the port;
 * `up` listens on the same port again and answers with the moment it did
 * (epoch ms, comparable across processes); `accepts` answers with the TCP
 * accepts since then, in ms after `up`.
 */
const HERD_SERVER = `
import net from 'node:net';
import { performance } from 'node:perf_hooks';
const now = () => performance.timeOrigin + performance.now();
const sockets = new Set();
let port = 0, upAt = 0, accepts = [];
const server = net.createServer((s) => {
  accepts.push(now() - upAt);
  sockets.add(s);
  s.on('error', () => {});
  s.on('close', () => sockets.delete(s));
});
const up = (then) => server.listen(port, '127.0.0.1', () => { port = server.address().port; then(); });
up(() => console.log(port));
let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf('\\n')) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (line === 'down') {
      for (const s of sockets) s.resetAndDestroy();
      server.close(() => console.log('ok'));
    } else if (line === 'up') {
      accepts = [];
      upAt = now();
      up(() => console.log(String(upAt)));
    } else if (line === 'accepts') console.log(JSON.stringify(accepts));
  }
});
`;

const epochNow = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type HerdContender = 'holdfast ReconnectingSocket' | 'raw net, fixed 1 s retry';

interface HerdClient {
  onConnect(cb: () => void): void;
  connected(): Promise<void>;
  close(): Promise<void>;
}

function holdfastHerdClient(port: number): HerdClient {
  // Default schedule (full jitter from 1 s); minUptimeMs 0 stands for a fleet that was connected for long.
  const socket = new ReconnectingSocket({ host: '127.0.0.1', port, minUptimeMs: 0 });
  return {
    onConnect: (cb) => socket.on('open', () => cb()),
    connected: () => new Promise((resolve) => socket.once('open', () => resolve())),
    close: () => socket.close(),
  };
}

/** What a reconnect loop written by hand often is: the same delay after every close, no jitter. */
function fixedRetryHerdClient(port: number): HerdClient {
  let socket: net.Socket;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const listeners: (() => void)[] = [];
  const open = (): void => {
    socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    socket.on('connect', () => listeners.forEach((cb) => cb()));
    socket.on('close', () => {
      if (!closed) timer = setTimeout(open, 1000);
    });
  };
  open();
  return {
    onConnect: (cb) => listeners.push(cb),
    connected: () => new Promise((resolve) => listeners.push(resolve)),
    close: () => {
      closed = true;
      clearTimeout(timer);
      if (socket.destroyed) return Promise.resolve();
      return new Promise((resolve) => {
        socket.once('close', () => resolve());
        socket.destroy();
      });
    },
  };
}

async function herdRound(name: HerdContender, clients: number, downMs: number, waitMs: number): Promise<HerdRound> {
  const server = await startChildServer(HERD_SERVER);
  try {
    const fleet: HerdClient[] = [];
    const reconnected: number[] = [];
    let upAt = 0;
    // Connected in batches of 100, so the first connections do not overflow the listen backlog (not measured).
    for (let i = 0; i < clients; i += 100) {
      const batch = Array.from({ length: Math.min(100, clients - i) }, () =>
        name === 'holdfast ReconnectingSocket' ? holdfastHerdClient(server.port) : fixedRetryHerdClient(server.port),
      );
      await Promise.all(batch.map((client) => client.connected()));
      fleet.push(...batch);
    }
    for (const client of fleet) client.onConnect(() => upAt > 0 && reconnected.push(epochNow() - upAt));
    await server.command('down');
    await sleep(downMs);
    upAt = Number(await server.command('up'));
    const deadline = performance.now() + waitMs;
    while (reconnected.length < clients && performance.now() < deadline) await sleep(20);
    const accepts = JSON.parse(await server.command('accepts')) as number[];
    await Promise.all(fleet.map((client) => client.close()));
    return herdFigures(accepts, reconnected);
  } finally {
    await server.close();
  }
}

async function herd(opts: BenchOptions): Promise<void> {
  const clients = opts.smoke ? 50 : 1000;
  const downMs = opts.smoke ? 200 : 1000;
  const waitMs = opts.smoke ? 5000 : 20_000;
  const rounds = opts.smoke ? 1 : 3;
  const contenders: HerdContender[] = ['holdfast ReconnectingSocket', 'raw net, fixed 1 s retry'];
  const results: Partial<Record<HerdContender, HerdRound[]>> = {};
  await alternate(contenders, rounds, async (name) => {
    (results[name] ??= []).push(await herdRound(name, clients, downMs, waitMs));
    return 0;
  });
  console.log(
    `\nherd: ${clients} clients in this process, server in another process resets them all, down ${downMs} ms, back on the same port; times from the server listening again; medians of ${rounds} alternating rounds, the worst round beside`,
  );
  console.log(
    "(accepts: TCP connections the server accepted; connects: the clients' connect events; goal: at most 15 % in any 100 ms, all back within 3 s)",
  );
  printTable(herdHeader('connects'), herdRows(results, contenders, clients, waitMs));
  recordHerd(
    results,
    contenders,
    clients,
    'connects',
    `${clients} clients, the server (in another process) resets them all, down ${downMs} ms, back on the same port; ${rounds} alternating round(s), medians, the spread is the lowest and highest round.`,
  );
}

// One contender per child process, so that no other contender's garbage or first-use costs are counted.
const MEMORY_CHILD = `
const [kind, port, count, source] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
const net = await import('node:net');
const { ReconnectingSocket } = await import(source);
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
const open = async () => {
  if (kind === 'raw net') {
    const s = net.connect({ host: '127.0.0.1', port });
    await new Promise((resolve) => s.once('connect', resolve));
    return () => new Promise((resolve) => { s.once('close', resolve); s.end(); });
  }
  const options = kind === 'holdfast lines + heartbeat'
    ? { framing: 'lines', heartbeat: { intervalMs: 30000, timeoutMs: 10000, ping: 'PING' } }
    : {};
  const s = new ReconnectingSocket({ host: '127.0.0.1', port, ...options });
  await new Promise((resolve) => s.once('open', resolve));
  return () => s.close();
};
for (const close of await Promise.all(Array.from({ length: 20 }, open))) await close();
await settle(); gc(); gc();
const before = process.memoryUsage();
const closers = [];
for (let i = 0; i < count; i++) closers.push(await open());
await settle(); gc(); gc();
const after = process.memoryUsage();
await Promise.all(closers.map((close) => close()));
process.stdout.write(JSON.stringify({ heap: (after.heapUsed - before.heapUsed) / count / 1024, rss: (after.rss - before.rss) / count / 1024 }));
`;

/** @holdfast/net bundled as published (see bundlePackage), into .cache/bench-net (ignored by git and lint). */
async function bundleHoldfast(): Promise<string> {
  const bundle = await bundlePackage('net', fileURLToPath(new URL('../../.cache/bench-net', import.meta.url)));
  return pathToFileURL(bundle).href;
}

function measureInChild(kind: string, port: number, count: number, bundle: string): Promise<{ heap: number; rss: number }> {
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', MEMORY_CHILD, kind, String(port), String(count), bundle], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as { heap: number; rss: number }) : reject(new Error(`memory child exited with ${code}`)),
    );
  });
}

async function memory(opts: BenchOptions): Promise<void> {
  const count = opts.smoke ? 20 : 1000;
  const bundle = await bundleHoldfast();
  const { port, child } = await startSink();
  const kinds = ['raw net', 'holdfast raw', 'holdfast lines + heartbeat'];
  const rows: { kind: string; heap: number; rss: number }[] = [];
  for (const kind of kinds) rows.push({ kind, ...(await measureInChild(kind, port, count, bundle)) });
  await stopSink(child);
  const raw = rows[0]!;
  console.log(`\nmemory: ${count} idle connections each, one process per contender (server in another), after GC; holdfast bundled as published`);
  printTable(
    ['contender', 'heap KiB / connection', 'RSS KiB / connection', 'heap ratio to raw'],
    rows.map((r) => [r.kind, fmt(r.heap, 2), fmt(r.rss, 2), fmt(r.heap / raw.heap, 2)]),
  );
  recordFigure({
    id: 'memory',
    title: 'Heap per idle connection',
    metric: 'KiB of heap per connection',
    better: 'lower',
    baseline: 'raw net',
    note: `${count} idle connections, one process per contender, after GC; holdfast bundled as published; one run.`,
    values: rows.map((r) => ({ contender: r.kind, value: r.heap, ratio: r.heap / raw.heap, note: `RSS ${fmt(r.rss, 1)} KiB` })),
  });
}

export default async function (opts: BenchOptions): Promise<void> {
  await throughput(opts);
  await inbound(opts);
  await recovery(opts);
  await herd(opts);
  await memory(opts);
}
