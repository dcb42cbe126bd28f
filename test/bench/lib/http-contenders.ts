/**
 * The retrying HTTP clients the chaos and outage benchmarks run side by
 * side, each with its documented defaults, behind one `send()`: it answers
 * `ok`, `unknown` (the client said the outcome is unknown) or `failed`.
 */
import { OutcomeUnknownError, createHttpClient, type HttpClientOptions } from '../../../packages/http/src/index.js';
import { Agent, RetryAgent, axios, axiosRetry, got, ky, pRetry, request } from './http-peers.js';

export type Outcome = 'ok' | 'unknown' | 'failed';

export interface Contender {
  readonly name: string;
  send(url: string, method: 'GET' | 'POST', id: string): Promise<Outcome>;
  /** Failed sends by the error's name (`BreakerOpenError`, `RetryError`, `RequestError`…), since the client was made. */
  readonly failures: Map<string, number>;
  close(): Promise<void>;
}

interface Unnamed {
  readonly name: string;
  send(url: string, method: 'GET' | 'POST', id: string, settle: Settle): Promise<Outcome>;
  close(): Promise<void>;
}
type Settle = (work: Promise<unknown>) => Promise<Outcome>;

function withFailureCounts(contender: Unnamed): Contender {
  const failures = new Map<string, number>();
  const settle: Settle = (work) =>
    work.then(
      () => 'ok' as const,
      (error: unknown) => {
        const name = error instanceof Error ? error.name : typeof error;
        failures.set(name, (failures.get(name) ?? 0) + 1);
        return error instanceof OutcomeUnknownError ? 'unknown' : 'failed';
      },
    );
  return { name: contender.name, failures, send: (url, method, id) => contender.send(url, method, id, settle), close: () => contender.close() };
}

export function contenders(): Contender[] {
  // HTTP_HOLDFAST_OPTIONS='{"breaker":{"consecutiveFailures":10}}' runs holdfast with other options (for decision records' curves).
  const holdfast = createHttpClient(JSON.parse(process.env.HTTP_HOLDFAST_OPTIONS ?? '{}') as HttpClientOptions);
  const retryAgent = new RetryAgent(new Agent());
  const axiosInstance = axios.create();
  axiosRetry(axiosInstance);
  const bare = new Agent();
  const list: Unnamed[] = [
    {
      name: 'undici, no retry (baseline)',
      send: (url, method, id, settle) =>
        settle(
          request(url, { dispatcher: bare, method, headers: { 'x-request-id': id }, body: method === 'POST' ? id : null }).then((r) => r.body.text()),
        ),
      close: () => bare.close(),
    },
    {
      name: 'holdfast client',
      send: (url, method, id, settle) =>
        settle(holdfast.request(url, { method, headers: { 'x-request-id': id }, body: method === 'POST' ? id : null }).then((r) => r.body.text())),
      close: () => holdfast.close(),
    },
    {
      name: 'undici RetryAgent',
      send: (url, method, id, settle) =>
        settle(
          request(url, { dispatcher: retryAgent, method, headers: { 'x-request-id': id }, body: method === 'POST' ? id : null }).then((r) =>
            r.body.text(),
          ),
        ),
      close: () => retryAgent.close(),
    },
    {
      name: 'got',
      send: (url, method, id, settle) =>
        settle(got(url, { method, headers: { 'x-request-id': id }, ...(method === 'POST' ? { body: id } : {}) }).text()),
      close: () => Promise.resolve(),
    },
    {
      name: 'axios + axios-retry',
      send: (url, method, id, settle) =>
        settle(axiosInstance.request({ url, method, headers: { 'x-request-id': id }, data: method === 'POST' ? id : undefined })),
      close: () => Promise.resolve(),
    },
    {
      name: 'ky',
      send: (url, method, id, settle) =>
        settle(ky(url, { method, headers: { 'x-request-id': id }, ...(method === 'POST' ? { body: id } : {}) }).text()),
      close: () => Promise.resolve(),
    },
    {
      name: 'p-retry + fetch',
      send: (url, method, id, settle) =>
        settle(
          pRetry(async () => {
            const res = await fetch(url, { method, headers: { 'x-request-id': id }, ...(method === 'POST' ? { body: id } : {}) });
            if (!res.ok) throw new Error(`status ${res.status}`);
            return res.text();
          }),
        ),
      close: () => Promise.resolve(),
    },
  ];
  return list.map(withFailureCounts);
}

/** A server in a child process that applies each request once per arrival (counted per `x-request-id`) and resets on command. */
export const EFFECT_SERVER = `
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
let mode = 'none', period = 10, arrivals = 0, down = false, effects = new Map(), share = 0, seed = 1;
// mulberry32: the same seed resets the same arrivals, for every client.
const random = () => { seed = (seed + 0x6d2b79f5) | 0; let t = Math.imul(seed ^ (seed >>> 15), 1 | seed); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    arrivals++;
    if (down) return req.socket.resetAndDestroy();
    const id = String(req.headers['x-request-id'] ?? req.url);
    const fault = mode === 'random' ? random() < share : mode !== 'none' && arrivals % period === 0;
    if (fault && (mode === 'before' || mode === 'random')) return req.socket.resetAndDestroy();
    effects.set(id, (effects.get(id) ?? 0) + 1);
    if (fault && mode === 'after') return req.socket.resetAndDestroy();
    res.end('ok');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, arg, shareArg, seedArg] = line.split(' ');
  // 'mode random <share> <seed>': each arrival is reset (before any effect) with probability <share>.
  if (cmd === 'mode') { mode = arg; arrivals = 0; effects = new Map(); share = Number(shareArg ?? 0); seed = Number(seedArg ?? 1); console.log('ok'); }
  else if (cmd === 'down') { down = true; console.log(String(arrivals)); }
  // 'up' answers the arrivals so far and the moment (epoch ms, sub-millisecond) the server answers again.
  else if (cmd === 'up') { down = false; console.log(arrivals + ' ' + (performance.timeOrigin + performance.now())); }
  else if (cmd === 'stats') console.log(JSON.stringify({ arrivals, effects: [...effects] }));
});
`;

export interface EffectStats {
  readonly arrivals: number;
  readonly effects: Map<string, number>;
}

export function parseStats(line: string): EffectStats {
  const parsed = JSON.parse(line) as { arrivals: number; effects: [string, number][] };
  return { arrivals: parsed.arrivals, effects: new Map(parsed.effects) };
}
