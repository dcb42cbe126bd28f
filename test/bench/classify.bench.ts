/**
 * What classify() costs per call, on real error objects made by real sockets
 * at startup (no hand-written shapes except the one the issue names), beside
 * two peers that answer a smaller question in the same run:
 *   - `is-network-error` (what p-retry uses): a yes/no for fetch's TypeErrors;
 *   - a code-list check in the style of undici's RetryHandler (`codes.includes(err.code)`).
 * classify() answers kind, phase, transient, hint and message, walking causes.
 * Figures are medians over runs; smoke mode runs a handful of iterations.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { classify, classifyResponse } from '@holdfast/core';
import axios from '../../packages/core/node_modules/axios/index.js';
import * as undici from '../../packages/core/node_modules/undici/index.js';
import { testCerts } from '../../packages/core/test/fixtures/certs.js';
import { closeOnRequest, closedPort, resetOnRequest, tlsServer } from '../../packages/core/test/fixtures/servers.js';
import { fmt, median, printTable, type BenchOptions } from './lib/report.js';
import { recordFigure, type FigureValue } from './lib/results.js';

// The peers and clients are devDependencies of @holdfast/core, loaded from its node_modules.
const coreRequire = createRequire(new URL('../../packages/core/package.json', import.meta.url));
const pRetryRequire = createRequire(coreRequire.resolve('p-retry'));
const isNetworkError = ((await import(pathToFileURL(pRetryRequire.resolve('is-network-error')).href)) as { default: (e: unknown) => boolean })
  .default;

// The codes undici's RetryHandler retries by default (its documented `errorCodes`).
const RETRY_HANDLER_CODES = [
  'ECONNRESET',
  'ECONNREFUSED',
  'ENOTFOUND',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EHOSTUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
];
const codeListCheck = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && RETRY_HANDLER_CODES.includes((error as { code?: string }).code ?? '');

const dualStackLookup = ((_host: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
  const all = [
    { address: '::1', family: 6 },
    { address: '127.0.0.1', family: 4 },
  ];
  if (options.all === true) callback(null, all);
  else callback(null, '::1', 6);
}) as unknown as net.LookupFunction;

async function failure(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

function httpError(options: https.RequestOptions, secure = false): Promise<unknown> {
  return new Promise((resolve) => {
    const req = (secure ? https : http).get({ agent: false, ...options }, (res) => res.resume());
    req.on('error', resolve);
  });
}

/** One real error object per row, made once. */
async function makeErrors(): Promise<[string, () => unknown][]> {
  const rst = await resetOnRequest();
  const fin = await closeOnRequest();
  const certs = await testCerts();
  const secure = await tlsServer(certs.selfSigned);
  const agent = new undici.Agent();
  try {
    const reset = await httpError({ host: rst.host, port: rst.port });
    const hangUp = await httpError({ host: fin.host, port: fin.port });
    const undiciSocket = await failure(() => undici.request(fin.url, { dispatcher: agent }));
    const fetchFailed = await failure(() => undici.fetch(rst.url, { dispatcher: agent }));
    const port = await closedPort();
    const aggregate = await new Promise<unknown>((resolve) => {
      net.connect({ host: 'localhost', port, autoSelectFamily: true, lookup: dualStackLookup }).on('error', resolve);
    });
    const axiosError = await failure(() => axios.get(rst.url, { httpAgent: false }));
    const tlsError = await httpError({ host: secure.host, port: secure.port }, true);
    const plain = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read', errno: -104 });
    const headers = { 'content-type': 'text/plain', 'retry-after': '7' };
    return [
      ["plain node error (the issue's shape)", () => classify(plain)],
      ['node read ECONNRESET', () => classify(reset)],
      ['node socket hang up', () => classify(hangUp)],
      ['undici UND_ERR_SOCKET', () => classify(undiciSocket)],
      ['fetch failed (cause ECONNRESET)', () => classify(fetchFailed)],
      ['AggregateError ECONNREFUSED', () => classify(aggregate)],
      ['axios error (ECONNRESET)', () => classify(axiosError)],
      ['TLS self-signed', () => classify(tlsError)],
      ['HTTP 503 + Retry-After (classifyResponse)', () => classifyResponse(503, headers)],
      // The peers, on the error each is meant for.
      ['peer: is-network-error(fetch failed)', () => isNetworkError(fetchFailed)],
      ['peer: code list includes (node ECONNRESET)', () => codeListCheck(reset)],
    ];
  } finally {
    await agent.close();
    await Promise.all([rst.close(), fin.close(), secure.close()]);
  }
}

function nsPerOp(fn: () => unknown, iterations: number): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) if (fn() !== undefined) sink++;
  const elapsed = Number(process.hrtime.bigint() - start);
  if (sink < 0) console.log(sink);
  return elapsed / iterations;
}

export default async function classifyBench(opts: BenchOptions): Promise<void> {
  const rows = await makeErrors();
  const iterations = opts.smoke ? 200 : 500_000;
  const runs = opts.smoke ? 1 : 9;
  // Warm up every row first so the JIT has seen all shapes before timing any.
  for (const [, fn] of rows) nsPerOp(fn, opts.smoke ? 100 : 200_000);
  const table: (string | number)[][] = [];
  const values: FigureValue[] = [];
  for (const [name, fn] of rows) {
    const samples: number[] = [];
    for (let r = 0; r < runs; r++) samples.push(nsPerOp(fn, iterations));
    const ns = median(samples);
    table.push([name, fmt(ns, 1), fmt(1e9 / ns), `${fmt(Math.min(...samples), 1)} – ${fmt(Math.max(...samples), 1)}`]);
    values.push({ contender: name, value: ns, low: Math.min(...samples), high: Math.max(...samples), holdfast: !name.startsWith('peer:') });
  }
  console.log(`\nclassify() on real errors: ${fmt(iterations)} calls per run, median of ${runs} run(s)\n`);
  printTable(['error', 'ns/op (median)', 'ops/s', 'ns/op range'], table);
  recordFigure({
    id: 'classify-cost',
    title: 'classify() per call, on real errors (peers answer a smaller yes/no question)',
    metric: 'ns per call',
    better: 'lower',
    note: `${fmt(iterations)} calls per run, median of ${runs} run(s); the spread is the lowest and highest run.`,
    values,
  });
}
