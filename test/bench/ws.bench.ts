/**
 * @holdfast/ws beside raw ws, reconnecting-websocket 4.4 and partysocket 1.3
 * (both given ws as their WebSocket), in the same run: throughput to a server
 * in another process, recovery after a server restart, the herd after a
 * restart, memory per idle connection (each contender in a fresh process).
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { exponential, holdFirst } from '@holdfast/core';
import { alternate, fmt, median, percentile, printTable, type BenchOptions } from './lib/report.js';
import { recordFigure } from './lib/results.js';
import { connect, CONTENDERS, opened, RECONNECTING, WebSocket, type Client, type ContenderName } from './lib/ws-contenders.js';
import { herdFigures, herdHeader, herdRows, recordHerd, type HerdRound } from './lib/herd.js';
import { bundlePackage } from './lib/bundle.js';
import { startChildServer } from './lib/child-server.js';
import { startWsSinkServer } from './lib/ws-sink-server.js';

interface BenchServer {
  port: number;
  onMessage: ((text: string) => void) | undefined;
  stop(): Promise<void>;
}

/** In-process server for the restart figures: they measure reconnect timing, which one shared loop does not skew. */
async function startServer(port = 0): Promise<BenchServer> {
  const http: Server = createServer();
  const wss = new WebSocket.WebSocketServer({ server: http });
  const state: BenchServer = {
    port: 0,
    onMessage: undefined,
    async stop() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  wss.on('connection', (socket) => {
    socket.on('error', () => {});
    socket.on('message', (data) => state.onMessage?.(data.toString()));
  });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  state.port = (http.address() as AddressInfo).port;
  return state;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// Every contender is paced alike: a yield to the event loop per 64 KiB written (so writes complete as they
// would under a real producer), and a wait while more than 4 MiB is buffered (so none just fills memory).
const YIELD_EVERY_BYTES = 64 * 1024;
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

interface Round {
  readonly rate: number;
  readonly cpuUsPerMessage: number;
}

/** Sends `messages` copies of `payload` and resolves when the server says it has read the last one. */
async function sendAll(name: ContenderName, url: string, payload: string | Buffer, messages: number): Promise<Round> {
  const client = connect(name, `${url}/?expect=${messages}`);
  await opened(client);
  const done = new Promise<void>((resolve) => client.onMessage(() => resolve()));
  const size = Buffer.byteLength(payload);
  const cpu = process.cpuUsage();
  const started = performance.now();
  let sinceYield = 0;
  for (let i = 0; i < messages; i++) {
    client.send(payload);
    sinceYield += size;
    if (sinceYield >= YIELD_EVERY_BYTES) {
      sinceYield = 0;
      await yieldToLoop();
      while (client.bufferedAmount > MAX_BUFFERED_BYTES) await yieldToLoop();
    }
  }
  await done;
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await client.close();
  return { rate: messages / seconds, cpuUsPerMessage: (used.user + used.system) / messages };
}

async function throughput(smoke: boolean): Promise<void> {
  const server = await startWsSinkServer();
  const url = `ws://127.0.0.1:${server.port}`;
  const cases = [
    { label: '64 B text', payload: 'x'.repeat(64), messages: smoke ? 2000 : 100_000 },
    { label: '16 KiB binary', payload: Buffer.alloc(16 * 1024, 7), messages: smoke ? 100 : 10_000 },
  ];
  const rounds = smoke ? 2 : 9;
  try {
    for (const { label, payload, messages } of cases) {
      const size = Buffer.byteLength(payload);
      // Not counted: the first contender would otherwise pay for warming up the ws code all four share.
      for (const name of CONTENDERS) await sendAll(name, url, payload, Math.ceil(messages / 10));
      const results: Record<string, Round[]> = {};
      const rates = await alternate(CONTENDERS, rounds, async (name) => {
        const round = await sendAll(name, url, payload, messages);
        (results[name] ??= []).push(round);
        return round.rate;
      });
      const raw = rates['raw ws'];
      // Each round's figure over raw ws's in the same round, then the median: drift between rounds cancels out.
      const ratio = (name: ContenderName): number => median(rates[name].map((rate, i) => rate / raw[i]!));
      const cpu = (name: ContenderName): number[] => results[name]!.map((round) => round.cpuUsPerMessage);
      const rawCpu = cpu('raw ws');
      const cpuRatio = (name: ContenderName): number => median(cpu(name).map((us, i) => us / rawCpu[i]!));
      console.log(
        `\nthroughput, ${label}: ${fmt(messages)} messages, client to a ws server in another process that acks the last one; medians of ${rounds} alternating rounds`,
      );
      printTable(
        ['client', 'messages/s', 'MB/s', 'x raw ws', 'client CPU µs/message', 'CPU x raw ws'],
        CONTENDERS.map((name) => {
          const rate = median(rates[name]);
          return [name, fmt(rate), fmt((rate * size) / 1e6, 1), fmt(ratio(name), 3), fmt(median(cpu(name)), 2), fmt(cpuRatio(name), 3)];
        }),
      );
      recordFigure({
        id: `throughput-${label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`,
        title: `Sending ${label} messages, nothing failing`,
        metric: 'messages/s',
        better: 'higher',
        baseline: 'raw ws',
        note: `${fmt(messages)} messages to a ws server in another process; ${rounds} alternating round(s), medians; the ratio is the median of per-round ratios to raw ws, the spread the lowest and highest round.`,
        values: CONTENDERS.map((name) => ({
          contender: name,
          value: median(rates[name]),
          low: Math.min(...rates[name]),
          high: Math.max(...rates[name]),
          ratio: ratio(name),
          note: `${fmt(median(cpu(name)), 2)} µs CPU/message`,
        })),
      });
    }
  } finally {
    await server.close();
  }
}

async function recovery(smoke: boolean): Promise<void> {
  const restarts = smoke ? 3 : 50;
  const downMs = 200;
  const firstStepMs = 100;
  const results: Record<string, number[]> = {};
  for (const name of RECONNECTING) {
    let server = await startServer();
    const port = server.port;
    const client = connect(
      name,
      `ws://127.0.0.1:${port}`,
      { schedule: holdFirst(exponential({ initialMs: firstStepMs, factor: 1.5, maxMs: 2000 }), 5), minUptimeMs: 0, heartbeat: false },
      { minReconnectionDelay: firstStepMs, maxReconnectionDelay: 2000, reconnectionDelayGrowFactor: 2 },
    );
    await opened(client);
    const times: number[] = [];
    for (let i = 0; i < restarts; i++) {
      await server.stop();
      await sleep(downMs);
      // Sent while down: delivered once the client is back (each of the three queues it).
      client.send(`restart ${i}`);
      server = await startServer(port);
      const upAt = performance.now();
      await new Promise<void>((resolve) => {
        server.onMessage = (text) => text === `restart ${i}` && resolve();
      });
      times.push(performance.now() - upAt);
    }
    await client.close();
    await server.stop();
    results[name] = times;
  }
  console.log(
    `\nrecovery: server down ${downMs} ms, ${restarts} restarts; time from the server listening again to the message sent while down arriving`,
  );
  console.log(
    `(each client's first backoff step is ${firstStepMs} ms: holdfast with its default's shape scaled to it (full jitter, the first step held for five attempts, then x1.5), the peers doubling without jitter)`,
  );
  printTable(
    ['client', 'p50 ms', 'p99 ms'],
    RECONNECTING.map((name) => [name, fmt(median(results[name]!), 1), fmt(percentile(results[name]!, 99), 1)]),
  );
  recordFigure({
    id: 'recovery',
    title: `Server down ${downMs} ms: from the server listening again to the message sent while down arriving`,
    metric: 'ms (median of restarts)',
    better: 'lower',
    note: `${restarts} restarts; each client's first backoff step is ${firstStepMs} ms (holdfast: its default's shape scaled to it; the peers doubling without jitter). The spread is p50 to p99.`,
    values: RECONNECTING.map((name) => ({
      contender: name,
      value: median(results[name]!),
      low: median(results[name]!),
      high: percentile(results[name]!, 99),
    })),
  });
}

const wsPackage = fileURLToPath(new URL('../../packages/ws/package.json', import.meta.url));

/**
 * The herd's server, in its own process so that 1000 handshakes do not share
 * the clients' event loop. `down` drops every connection and closes the port;
 * `up` listens on the same port again (default backlog) and answers with the
 * moment it did (epoch ms, performance.timeOrigin-based, comparable across
 * processes); `times` answers with the TCP accepts and the completed upgrades
 * since then, in ms after `up`.
 */
const herdServerSource = `
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
const require = createRequire(${JSON.stringify(wsPackage)});
const { WebSocketServer } = require('ws');
const now = () => performance.timeOrigin + performance.now();
let port = 0, http, wss, upAt = 0, accepted = [], upgraded = [];
function up(then) {
  http = createServer();
  wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  http.on('connection', () => accepted.push(now() - upAt));
  wss.on('connection', (socket) => {
    socket.on('error', () => {});
    upgraded.push(now() - upAt);
  });
  accepted = [];
  upgraded = [];
  upAt = now();
  http.listen(port, '127.0.0.1', () => {
    port = http.address().port;
    then();
  });
}
function down(then) {
  for (const socket of wss.clients) socket.terminate();
  wss.close(() => {
    http.closeAllConnections();
    http.close(then);
  });
}
up(() => console.log(port));
process.stdin.setEncoding('utf8');
let buffered = '';
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf('\\n')) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (line === 'down') down(() => console.log('ok'));
    else if (line === 'up') up(() => console.log(String(upAt)));
    else if (line === 'times') console.log(JSON.stringify({ accepted, upgraded }));
  }
});
`;

const epochNow = (): number => performance.timeOrigin + performance.now();

/** One fleet of `clients`, the server down `downMs` and up again; waits at most `waitMs` for the fleet to be back. */
async function herdRound(name: ContenderName, clients: number, downMs: number, waitMs: number): Promise<HerdRound> {
  const server = await startChildServer(herdServerSource);
  const url = `ws://127.0.0.1:${server.port}`;
  try {
    const fleet: Client[] = [];
    const reopened: number[] = [];
    let upAt = 0;
    // Connected in batches of 100, so the first connections do not overflow the listen backlog (not measured).
    for (let i = 0; i < clients; i += 100) {
      const batch = Array.from({ length: Math.min(100, clients - i) }, () => connect(name, url, { heartbeat: false }));
      await Promise.all(batch.map(opened));
      fleet.push(...batch);
    }
    for (const client of fleet) client.onOpen(() => upAt > 0 && reopened.push(epochNow() - upAt));
    await server.command('down');
    await sleep(downMs);
    upAt = Number(await server.command('up'));
    const deadline = performance.now() + waitMs;
    while (reopened.length < clients && performance.now() < deadline) await sleep(20);
    const { accepted } = JSON.parse(await server.command('times')) as { accepted: number[]; upgraded: number[] };
    await Promise.all(fleet.map((client) => client.close()));
    return herdFigures(accepted, reopened);
  } finally {
    await server.close();
  }
}

async function herd(smoke: boolean): Promise<void> {
  const clients = smoke ? 40 : 1000;
  const downMs = smoke ? 200 : 1000;
  const waitMs = smoke ? 3000 : 20_000;
  const rounds = smoke ? 1 : 3;
  const results: Record<string, HerdRound[]> = {};
  await alternate(RECONNECTING, rounds, async (name) => {
    (results[name] ??= []).push(await herdRound(name, clients, downMs, waitMs));
    return 0;
  });
  console.log(
    `\nherd: ${clients} clients in this process, default settings, server in another process down ${downMs} ms (default listen backlog); times from the server listening again; medians of ${rounds} alternating rounds, the worst round beside`,
  );
  console.log("(accepts: TCP connections the server accepted, retries included; opens: the clients' open events)");
  printTable(herdHeader('opens'), herdRows(results, RECONNECTING, clients, waitMs));
  recordHerd(
    results,
    RECONNECTING,
    clients,
    'opens',
    `${clients} clients with default settings, the server (in another process) down ${downMs} ms; ${rounds} alternating round(s), medians, the spread is the lowest and highest round.`,
  );
}

const execFileAsync = promisify(execFile);
const memoryChild = fileURLToPath(new URL('./lib/ws-memory-child.mjs', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));

interface MemoryRound {
  readonly heapPerConnection: number;
  readonly externalPerConnection: number;
  readonly rssPerConnection: number;
}

/**
 * @holdfast/ws bundled as published (see bundlePackage, ws left external), into
 * packages/ws/node_modules/.cache, where `ws` resolves to the one the peers get too.
 */
function bundleHoldfast(): Promise<string> {
  return bundlePackage('ws', fileURLToPath(new URL('../../packages/ws/node_modules/.cache/holdfast-bench', import.meta.url)), ['ws']);
}

async function memory(smoke: boolean): Promise<void> {
  const connections = smoke ? 20 : 500;
  const rounds = smoke ? 1 : 5;
  const bundle = await bundleHoldfast();
  const server = await startWsSinkServer();
  const results: Record<string, MemoryRound[]> = {};
  try {
    await alternate(CONTENDERS, rounds, async (name) => {
      const { stdout } = await execFileAsync(
        process.execPath,
        ['--expose-gc', memoryChild, name, `ws://127.0.0.1:${server.port}`, String(connections), bundle],
        { cwd: repositoryRoot, timeout: 120_000 },
      );
      const round = JSON.parse(stdout.trim().split('\n').pop()!) as MemoryRound;
      (results[name] ??= []).push(round);
      return round.heapPerConnection;
    });
  } finally {
    await server.close();
  }
  const of = (name: ContenderName, field: keyof MemoryRound): number => median(results[name]!.map((round) => round[field]));
  const raw = of('raw ws', 'heapPerConnection');
  console.log(
    `\nmemory: ${connections} idle connections to a server in another process, default options, each contender in a fresh plain-node process (--expose-gc, full GCs before and after; holdfast bundled as published); medians of ${rounds} alternating rounds`,
  );
  printTable(
    ['client', 'heap B/connection', 'x raw ws', 'external B/connection', 'RSS B/connection (noisy)'],
    CONTENDERS.map((name) => [
      name,
      fmt(of(name, 'heapPerConnection')),
      fmt(of(name, 'heapPerConnection') / raw, 2),
      fmt(of(name, 'externalPerConnection')),
      fmt(of(name, 'rssPerConnection')),
    ]),
  );
  recordFigure({
    id: 'memory',
    title: 'Heap per idle connection',
    metric: 'bytes of heap per connection',
    better: 'lower',
    baseline: 'raw ws',
    note: `${connections} idle connections, default options, each contender in a fresh process after full GCs, holdfast bundled as published; medians of ${rounds} alternating round(s).`,
    values: CONTENDERS.map((name) => ({ contender: name, value: of(name, 'heapPerConnection'), ratio: of(name, 'heapPerConnection') / raw })),
  });
}

const SECTIONS = { throughput, recovery, herd, memory };

/** All four sections; `WS_BENCH_SECTIONS=herd,memory` runs only those. */
export default async function ({ smoke }: BenchOptions): Promise<void> {
  const only = process.env.WS_BENCH_SECTIONS?.split(',').filter((name) => name !== '');
  for (const [name, section] of Object.entries(SECTIONS)) {
    if (only === undefined || only.includes(name)) await section(smoke);
  }
}
