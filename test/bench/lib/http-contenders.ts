/**
 * The retrying HTTP clients the chaos and outage benchmarks run side by
 * side, each with its documented defaults, behind one `send()`: it answers
 * `ok`, `unknown` (the client said the outcome is unknown) or `failed`.
 */
import { OutcomeUnknownError, createHttpClient } from '../../../packages/http/src/index.js';
import { Agent, RetryAgent, axios, axiosRetry, got, ky, pRetry, request } from './http-peers.js';

export type Outcome = 'ok' | 'unknown' | 'failed';

export interface Contender {
  readonly name: string;
  send(url: string, method: 'GET' | 'POST', id: string): Promise<Outcome>;
  close(): Promise<void>;
}

const settle = (work: Promise<unknown>): Promise<Outcome> =>
  work.then(
    () => 'ok' as const,
    (error: unknown) => (error instanceof OutcomeUnknownError ? 'unknown' : 'failed'),
  );

export function contenders(): Contender[] {
  const holdfast = createHttpClient();
  const retryAgent = new RetryAgent(new Agent());
  const axiosInstance = axios.create();
  axiosRetry(axiosInstance);
  const bare = new Agent();
  return [
    {
      name: 'undici, no retry (baseline)',
      send: (url, method, id) =>
        settle(
          request(url, { dispatcher: bare, method, headers: { 'x-request-id': id }, body: method === 'POST' ? id : null }).then((r) => r.body.text()),
        ),
      close: () => bare.close(),
    },
    {
      name: 'holdfast client',
      send: (url, method, id) =>
        settle(holdfast.request(url, { method, headers: { 'x-request-id': id }, body: method === 'POST' ? id : null }).then((r) => r.body.text())),
      close: () => holdfast.close(),
    },
    {
      name: 'undici RetryAgent',
      send: (url, method, id) =>
        settle(
          request(url, { dispatcher: retryAgent, method, headers: { 'x-request-id': id }, body: method === 'POST' ? id : null }).then((r) =>
            r.body.text(),
          ),
        ),
      close: () => retryAgent.close(),
    },
    {
      name: 'got',
      send: (url, method, id) => settle(got(url, { method, headers: { 'x-request-id': id }, ...(method === 'POST' ? { body: id } : {}) }).text()),
      close: () => Promise.resolve(),
    },
    {
      name: 'axios + axios-retry',
      send: (url, method, id) =>
        settle(axiosInstance.request({ url, method, headers: { 'x-request-id': id }, data: method === 'POST' ? id : undefined })),
      close: () => Promise.resolve(),
    },
    {
      name: 'ky',
      send: (url, method, id) => settle(ky(url, { method, headers: { 'x-request-id': id }, ...(method === 'POST' ? { body: id } : {}) }).text()),
      close: () => Promise.resolve(),
    },
    {
      name: 'p-retry + fetch',
      send: (url, method, id) =>
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
}

/** A server in a child process that applies each request once per arrival (counted per `x-request-id`) and resets on command. */
export const EFFECT_SERVER = `
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
let mode = 'none', period = 10, arrivals = 0, down = false, effects = new Map();
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    arrivals++;
    if (down) return req.socket.resetAndDestroy();
    const id = String(req.headers['x-request-id'] ?? req.url);
    const fault = mode !== 'none' && arrivals % period === 0;
    if (fault && mode === 'before') return req.socket.resetAndDestroy();
    effects.set(id, (effects.get(id) ?? 0) + 1);
    if (fault && mode === 'after') return req.socket.resetAndDestroy();
    res.end('ok');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, arg] = line.split(' ');
  if (cmd === 'mode') { mode = arg; arrivals = 0; effects = new Map(); console.log('ok'); }
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
