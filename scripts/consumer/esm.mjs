// Run by scripts/consumer-test.mjs inside a scratch project that installed the packed packages beside its own
// undici, ws, axios, express, mongoose, p-retry, opossum and OpenTelemetry SDK (@opentelemetry/sdk-node): every package is imported as a user's ES module would,
// and each does its job once under a real fault (a TCP reset through @holdfast/chaos, a refused port, a dropped socket).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import axios from 'axios';
import express from 'express';
import mongoose from 'mongoose';
import pRetry from 'p-retry';
import { Agent, request } from 'undici';
import { WebSocketServer } from 'ws';
import { tracing } from '@opentelemetry/sdk-node';
import { createChaosProxy } from '@holdfast/chaos';
import { CircuitBreaker, OutcomeUnknownError, ResponseStatusError, classify, constant, holdfastRetryOptions, retry } from '@holdfast/core';
import { idempotency } from '@holdfast/express';
import { createHttpClient, httpSource, retryInterceptor, resilientAxios, resilientFetch } from '@holdfast/http';
import { ResilientMongoose } from '@holdfast/mongoose';
import { ReconnectingSocket } from '@holdfast/net';
import { createTraceExporter } from '@holdfast/otlp';
import { resumablePipeline } from '@holdfast/stream';
import { ReconnectingWebSocket } from '@holdfast/ws';

const fast = { schedule: constant(5) };
const checks = [];
async function check(name, fn) {
  const started = performance.now();
  await fn();
  checks.push(`${name} (${Math.round(performance.now() - started)} ms)`);
}

// An API with effects: every request it applies is counted per path.
const applied = new Map();
const api = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    applied.set(req.url, (applied.get(req.url) ?? 0) + 1);
    res.end(`applied ${req.url}`);
  });
});
api.listen(0, '127.0.0.1');
await once(api, 'listening');
const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: api.address().port } });
const base = proxy.url();
/** The next response through the proxy is cut by a real RST after the server applied the request. */
const resetNext = () => {
  const name = proxy.addToxic({ type: 'reset_peer', stream: 'downstream' });
  return () => proxy.removeToxic(name);
};

await check("undici Agent.compose(retryInterceptor()) with the project's undici: 10 of 10 delivered, each reset once", async () => {
  const agent = new Agent();
  let heal = () => {};
  const dispatcher = agent.compose(retryInterceptor({ ...fast, onRetry: () => heal() }));
  for (let i = 0; i < 10; i++) {
    heal = resetNext();
    const res = await request(`${base}/get-${i}`, { dispatcher });
    assert.equal(await res.body.text(), `applied /get-${i}`);
    assert.equal(applied.get(`/get-${i}`), 2);
  }
  resetNext();
  const error = await request(`${base}/post`, { dispatcher, method: 'POST', body: 'x' }).catch((e) => e);
  assert.ok(error instanceof OutcomeUnknownError, `a reset POST is not repeated: ${error}`);
  assert.equal(applied.get('/post'), 1);
  proxy.clearToxics();
  await agent.close();
});

await check('createHttpClient() and resilientFetch(globalThis.fetch) retry a reset GET', async () => {
  const client = createHttpClient(fast);
  let heal = resetNext();
  client.on('retry', () => heal());
  const res = await client.request(`${base}/client`);
  assert.equal(await res.body.text(), 'applied /client');
  await client.close();
  const fetch = resilientFetch(globalThis.fetch, { ...fast, onRetry: () => heal() });
  heal = resetNext();
  assert.equal(await (await fetch(`${base}/fetch`)).text(), 'applied /fetch');
  fetch.close?.();
});

await check("resilientAxios(the project's axios) retries a reset GET and refuses to repeat a POST", async () => {
  let heal = resetNext();
  const instance = resilientAxios(axios.create({ baseURL: base }), { ...fast, onRetry: () => heal() });
  assert.equal((await instance.get('/axios')).data, 'applied /axios');
  heal = resetNext();
  const error = await instance.post('/axios-post', 'x').catch((e) => e);
  assert.ok(error instanceof OutcomeUnknownError, `got ${error}`);
  assert.equal(applied.get('/axios-post'), 1);
  proxy.clearToxics();
});

await check("the project's p-retry with holdfastRetryOptions(): a reset POST is not repeated, a reset GET is", async () => {
  const call = (path, method) => async () => {
    const res = await fetch(`${base}${path}`, { method, ...(method === 'POST' ? { body: 'x' } : {}) });
    if (!res.ok) throw new ResponseStatusError(res);
    return res.text();
  };
  resetNext();
  const error = await pRetry(call('/p-post', 'POST'), holdfastRetryOptions({ ...fast, operation: { method: 'POST' } })).catch((e) => e);
  assert.ok(error instanceof OutcomeUnknownError, `got ${error}`);
  assert.equal(applied.get('/p-post'), 1);
  proxy.clearToxics();
  const heal = resetNext();
  const text = await pRetry(call('/p-get', 'GET'), holdfastRetryOptions({ ...fast, operation: { method: 'GET' }, onRetry: heal }));
  assert.equal(text, 'applied /p-get');
});

await check("CircuitBreaker (the project's opossum underneath) opens after a run of failures and fails fast", async () => {
  const breaker = new CircuitBreaker({ name: 'consumer', consecutiveFailures: 3 });
  const refused = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  for (let i = 0; i < 3; i++) await breaker.execute(refused).catch(() => {});
  assert.equal(breaker.state, 'open');
  const error = await breaker.execute(() => Promise.resolve('never')).catch((e) => e);
  assert.equal(classify(error).kind, 'circuit-open');
  breaker.close();
});

await check('retry() of a fetch to a port nobody listens on: refused in the connect phase, retried, then given up', async () => {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  let attempts = 0;
  const error = await retry(() => (attempts++, fetch(`http://127.0.0.1:${port}/`)), { ...fast, attempts: 2 }).catch((e) => e);
  assert.equal(error.fault.kind, 'connection-refused');
  assert.equal(error.fault.phase, 'connect');
  assert.equal(attempts, 2);
});

await check("ReconnectingWebSocket over the project's ws: the server drops it, it comes back", async () => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  let connections = 0;
  server.on('connection', (peer) => {
    peer.send(`hello ${++connections}`);
    if (connections === 1) setTimeout(() => peer.terminate(), 20);
  });
  const socket = new ReconnectingWebSocket(`ws://127.0.0.1:${server.address().port}`, { schedule: constant(10) });
  const hellos = [];
  await new Promise((resolve) => {
    socket.on('message', (data) => {
      hellos.push(String(data));
      if (hellos.length === 2) resolve();
    });
  });
  assert.deepEqual(hellos, ['hello 1', 'hello 2']);
  await socket.close();
  for (const peer of server.clients) peer.terminate();
  await new Promise((resolve) => server.close(resolve));
});

await check('ReconnectingSocket: the peer resets the first connection, the message arrives on the second', async () => {
  let connections = 0;
  const server = net.createServer((s) => {
    s.on('error', () => {});
    if (++connections === 1) return void s.resetAndDestroy();
    s.on('data', (d) => s.write(d.toString().toUpperCase()));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = new ReconnectingSocket({ host: '127.0.0.1', port: server.address().port, framing: 'lines', schedule: constant(10) });
  const answer = new Promise((resolve) => socket.once('message', (m) => resolve(m.toString())));
  socket.send('hello');
  assert.equal(await answer, 'HELLO');
  await socket.close();
  server.close();
});

await check('resumablePipeline(httpSource()): a download cut by a reset resumes at the byte it reached', async () => {
  const file = Buffer.alloc(256 * 1024, 'holdfast ');
  let responses = 0;
  const server = createServer((req, res) => {
    const from = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
    const headers = { etag: '"v1"', 'content-length': file.length - from };
    if (from > 0) res.writeHead(206, { ...headers, 'content-range': `bytes ${from}-${file.length - 1}/${file.length}` });
    else res.writeHead(200, headers);
    if (++responses === 1) return void res.write(file.subarray(0, 64 * 1024), () => setTimeout(() => res.socket?.resetAndDestroy(), 20));
    res.end(file.subarray(from));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const chunks = [];
  const sink = new Writable({ write: (chunk, _encoding, done) => void (chunks.push(chunk), done()) });
  const pipe = resumablePipeline(httpSource(`http://127.0.0.1:${server.address().port}/file`), sink);
  await pipe;
  assert.ok(Buffer.concat(chunks).equals(file));
  assert.equal(pipe.stats().resumes, 1);
  server.close();
});

await check("createTraceExporter() in the project's OpenTelemetry SDK: spans reach a collector that refused the first export", async () => {
  let exports = 0;
  const collector = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (++exports === 1) return void res.writeHead(503, { 'retry-after': '0' }).end();
      res.writeHead(200, { 'content-type': req.headers['content-type'] }).end(req.headers['content-type'] === 'application/json' ? '{}' : '');
    });
  });
  collector.listen(0, '127.0.0.1');
  await once(collector, 'listening');
  for (const protocol of ['http/protobuf', 'http/json']) {
    const exporter = createTraceExporter({ endpoint: `http://127.0.0.1:${collector.address().port}`, protocol, env: {} });
    const provider = new tracing.BasicTracerProvider({ spanProcessors: [new tracing.BatchSpanProcessor(exporter)] });
    provider.getTracer('consumer').startSpan(`hello over ${protocol}`).end();
    await provider.shutdown();
    assert.equal(exporter.stats().exported, 1, `${protocol}: ${JSON.stringify(exporter.stats())}`);
  }
  assert.equal(exports, 3);
  collector.close();
});

await check("idempotency() in the project's express, and the client's retry with an Idempotency-Key: one charge", async () => {
  let charges = 0;
  let firstAnswerLost = true;
  const app = express();
  app.use(express.json());
  app.use(idempotency());
  app.post('/charges', (req, res) => {
    charges++;
    res.status(201).json({ charge: charges, amount: req.body.amount });
    if (firstAnswerLost) {
      // The charge is made and its answer stored, then the connection dies before the answer goes out.
      firstAnswerLost = false;
      req.socket.resetAndDestroy();
    }
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = createHttpClient(fast);
  const res = await client.request(`http://127.0.0.1:${server.address().port}/charges`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ amount: 10 }),
    idempotencyKey: true,
  });
  assert.equal(res.statusCode, 201);
  assert.equal(res.headers['idempotent-replayed'], 'true');
  assert.deepEqual(await res.body.json(), { charge: 1, amount: 10 });
  assert.equal(charges, 1);
  await client.close();
  server.closeAllConnections();
  server.close();
});

await check("ResilientMongoose with the project's mongoose: a refused first connection is retried, then given up, classified", async () => {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  const db = new ResilientMongoose(`mongodb://127.0.0.1:${port}/consumer`, {
    mongoose: new mongoose.Mongoose(),
    connectDeadlineMs: 1_500,
    serverSelectionTimeoutMS: 200,
    connectSchedule: constant(50),
  });
  const attempts = [];
  db.on('reconnecting', (e) => attempts.push(e.fault.kind));
  const error = await db.ready.catch((e) => e);
  assert.ok(error instanceof Error, 'the first connection is given up at its deadline');
  assert.ok(attempts.length >= 2 && attempts.every((kind) => kind === 'connection-refused'), `attempts: ${attempts}`);
  await db.close();
});

await proxy.close();
api.closeAllConnections();
api.close();
for (const line of checks) console.log(`  ok  ${line}`);
