/**
 * The Express 5 app of the express benchmark (test/bench/express.bench.ts), in its own process (so the
 * load generator does not share its event loop). Modes:
 * - `plain`: GET / answers 'ok', POST /orders parses JSON and answers 201;
 * - `holdfast`: the same app with every holdfast middleware and helper
 *   (safeResponses, clientAbort, shedLoad, idempotency, clientAbortErrors,
 *   configureServerTimeouts, gracefulShutdown);
 * - `idempotency-memory`, `idempotency-redis:<port>`: plain plus
 *   idempotency() with that store in front of POST /orders;
 *   `idempotency-forgetful`: with a store that claims every key and keeps
 *   nothing (the middleware's own cost);
 * - `with:safe,abort,shed,idem,errors,timeouts,shutdown`: some of them only,
 *   to see what each costs.
 * Prints its port once listening, its CPU time on the line `cpu`; ends when its stdin closes.
 *
 *   node --import tsx bench-app.ts <mode>
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import {
  RedisIdempotencyStore,
  clientAbort,
  clientAbortErrors,
  configureServerTimeouts,
  createExpressEvents,
  gracefulShutdown,
  idempotency,
  safeResponses,
  shedLoad,
} from '../../src/index.js';

process.stdin.on('end', () => process.exit(0));
// `cpu`: prints the CPU time (µs) this process has used, for cost per request.
process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
  if (chunk.includes('cpu')) {
    const { user, system } = process.cpuUsage();
    console.log(user + system);
  }
});

const mode = process.argv[2] ?? 'plain';
// `with:safe,abort,...` turns on some of them only, to see what each costs.
const parts = new Set(
  mode === 'holdfast'
    ? ['safe', 'abort', 'shed', 'idem', 'errors', 'timeouts', 'shutdown']
    : mode.startsWith('with:')
      ? mode.slice(5).split(',')
      : [],
);
const app = express();
const events = createExpressEvents();
if (parts.has('safe')) app.use(safeResponses({ events }));
if (parts.has('abort')) app.use(clientAbort({ events }));
if (parts.has('shed')) app.use(shedLoad({ events }));
app.use(express.json());
if (parts.has('idem') || mode === 'idempotency-memory') app.use(idempotency({ events }));
if (mode === 'idempotency-forgetful') {
  // Claims every key and keeps nothing: the middleware's own cost, without a store's.
  const claimed = Promise.resolve({ state: 'claimed' } as const);
  const done = Promise.resolve();
  app.use(idempotency({ events, store: { claim: () => claimed, complete: () => done, release: () => done } }));
}
if (mode.startsWith('idempotency-redis:')) {
  const client = new Redis(Number(mode.split(':')[1]), '127.0.0.1', { enableOfflineQueue: false, autoResendUnfulfilledCommands: false });
  await new Promise((resolve) => client.once('ready', resolve));
  app.use(idempotency({ events, store: new RedisIdempotencyStore(client) }));
}
app.get('/', (_req, res) => {
  res.send('ok');
});
app.post('/orders', (req, res) => {
  res.status(201).json({ order: (req.body as { id?: unknown }).id });
});
if (parts.has('errors')) app.use(clientAbortErrors({ events }));

const server = app.listen(0, '127.0.0.1');
server.keepAliveTimeout = 60_000;
if (parts.has('timeouts')) configureServerTimeouts(server, { upstreamIdleTimeoutMs: 60_000 });
if (parts.has('shutdown')) gracefulShutdown(server, { signals: [] });
server.once('listening', () => console.log((server.address() as AddressInfo).port));
