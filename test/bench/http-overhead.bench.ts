/**
 * What holdfast costs when nothing fails: keep-alive GETs on loopback, 64
 * connections and 64 requests in flight, against a server in another
 * process. Raw undici, the same Agent composed with holdfast's interceptor,
 * holdfast's client, and undici's own RetryAgent, each round between two rounds of raw undici. Two
 * do-nothing interceptors through `compose` show what composing alone costs:
 * one passes undici's handler on (compose wraps it, and the Agent then
 * converts it back, parsing headers on every response), the other forwards
 * it through a handler in the format undici's Client calls natively, as
 * holdfast's interceptor does: the least any interceptor that sees the
 * response pays through compose. Client CPU per request (process.cpuUsage
 * over the round) is reported beside throughput: it moves less with the
 * other load on a shared machine. Goal: holdfast >= 0.97x raw undici's
 * requests/s.
 *
 * Every contender runs in one process, where holdfast has subscribed to
 * undici's `undici:client:sendHeaders` channel (to see connection reuse), so
 * raw undici also pays for publishing that message.
 */
import { createHttpClient, retryInterceptor } from '../../packages/http/src/index.js';
import { startChildServer } from './lib/child-server.js';
import type { CoreHandler } from '../../packages/http/src/core-handler.js';
import { Agent, RetryAgent, request } from './lib/http-peers.js';
import { fmt, median, percentile, printTable, type BenchOptions } from './lib/report.js';
import { recordFigure } from './lib/results.js';

const SERVER = `
import { createServer } from 'node:http';
const server = createServer((req, res) => { res.setHeader('content-type', 'text/plain'); res.end('ok'); });
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

const CONNECTIONS = 64;

type Send = (url: string) => Promise<void>;

/** Forwards every callback of undici's core handler format, and nothing else. */
class Forwarder implements CoreHandler {
  readonly #h: CoreHandler;
  constructor(handler: CoreHandler) {
    this.#h = handler;
  }
  onConnect(abort: (reason?: Error) => void, context?: unknown): void {
    this.#h.onConnect?.(abort, context);
  }
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    return this.#h.onHeaders?.(statusCode, rawHeaders, resume, statusText) ?? true;
  }
  onData(chunk: Buffer): boolean {
    return this.#h.onData?.(chunk) ?? true;
  }
  onComplete(trailers: Buffer[] | string[] | null): void {
    this.#h.onComplete?.(trailers);
  }
  onError(error: Error): void {
    this.#h.onError?.(error);
  }
}

async function round(send: Send, url: string, durationMs: number): Promise<{ rps: number; cpuUsPerRequest: number; latencies: number[] }> {
  const latencies: number[] = [];
  const end = performance.now() + durationMs;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  let done = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await send(url);
        latencies.push(performance.now() - t0);
        done++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return { rps: done / ((performance.now() - started) / 1000), cpuUsPerRequest: (cpu.user + cpu.system) / done, latencies };
}

export default async function (opts: BenchOptions): Promise<void> {
  const server = await startChildServer(SERVER);
  const raw = new Agent({ connections: CONNECTIONS, keepAliveTimeout: 30_000 });
  const composedBase = new Agent({ connections: CONNECTIONS, keepAliveTimeout: 30_000 });
  const composed = composedBase.compose(retryInterceptor());
  // What compose itself costs: it converts between undici's two handler formats on every request.
  const passThroughBase = new Agent({ connections: CONNECTIONS, keepAliveTimeout: 30_000 });
  const passThrough = passThroughBase.compose((dispatch) => (opts, handler) => dispatch(opts, handler));
  const forwarderBase = new Agent({ connections: CONNECTIONS, keepAliveTimeout: 30_000 });
  const forwarding = forwarderBase.compose((dispatch) => (opts, handler) => dispatch(opts, new Forwarder(handler)));
  const retryAgentBase = new Agent({ connections: CONNECTIONS, keepAliveTimeout: 30_000 });
  const retryAgent = new RetryAgent(retryAgentBase);
  const client = createHttpClient({ connections: CONNECTIONS, keepAliveTimeout: 30_000 });

  const viaDispatcher = (dispatcher: unknown): Send => {
    const options = { dispatcher } as Parameters<typeof request>[1];
    return async (url) => {
      const res = await request(url, options);
      await res.body.dump();
    };
  };
  const senders = {
    'undici (raw)': viaDispatcher(raw),
    'do-nothing compose interceptor': viaDispatcher(passThrough),
    'do-nothing compose, core-format forwarder': viaDispatcher(forwarding),
    'holdfast interceptor': viaDispatcher(composed),
    'holdfast client': async (url: string) => {
      const res = await client.request(url);
      await res.body.dump();
    },
    'undici RetryAgent': viaDispatcher(retryAgent),
  } satisfies Record<string, Send>;
  type Name = keyof typeof senders;
  const names = Object.keys(senders) as Name[];

  // Short rounds, many of them, each contender's between two rounds of raw undici: on a shared machine the load
  // drifts within seconds, so a contender is compared with the mean of the raw rounds just before and after it,
  // and the median of those ratios is reported. Raw's own row compares each raw round with its two neighbours:
  // the noise floor of the ratios.
  const durationMs = opts.smoke ? 150 : 300;
  const rounds = opts.smoke ? 1 : Number(process.env.HTTP_OVERHEAD_ROUNDS ?? 30);
  // Warm every pool and the JIT before measuring.
  for (const name of names) await round(senders[name], server.url, opts.smoke ? 50 : 500);
  const latencies = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Name, number[]>;
  const rps = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Name, number[]>;
  const cpu = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Name, number[]>;
  const ratios = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Name, number[]>;
  const cpuRatios = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Name, number[]>;
  const RAW: Name = 'undici (raw)';
  const others = names.filter((n) => n !== RAW);
  const measure = async (name: Name): Promise<{ rps: number; cpu: number }> => {
    const r = await round(senders[name], server.url, durationMs);
    latencies[name].push(...r.latencies);
    rps[name].push(r.rps);
    cpu[name].push(r.cpuUsPerRequest);
    return { rps: r.rps, cpu: r.cpuUsPerRequest };
  };
  const raws: { rps: number; cpu: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    let before = await measure(RAW);
    raws.push(before);
    for (const name of r % 2 === 0 ? others : [...others].reverse()) {
      const m = await measure(name);
      const after = await measure(RAW);
      raws.push(after);
      ratios[name].push(m.rps / ((before.rps + after.rps) / 2));
      cpuRatios[name].push(m.cpu / ((before.cpu + after.cpu) / 2));
      before = after;
    }
  }
  for (let i = 1; i + 1 < raws.length; i++) {
    ratios[RAW].push(raws[i]!.rps / ((raws[i - 1]!.rps + raws[i + 1]!.rps) / 2));
    cpuRatios[RAW].push(raws[i]!.cpu / ((raws[i - 1]!.cpu + raws[i + 1]!.cpu) / 2));
  }

  printTable(
    [
      'client',
      'req/s (median)',
      'ratio to raw undici (median of rounds)',
      'middle half of the ratios',
      'client CPU µs/request',
      'CPU ratio',
      'p50 ms',
      'p99 ms',
    ],
    names.map((n) => {
      const r = ratios[n];
      return [
        n === RAW ? `${n} (vs its neighbours)` : n,
        fmt(median(rps[n])),
        r.length === 0 ? '-' : fmt(median(r), 3),
        r.length === 0 ? '-' : `${fmt(percentile(r, 25), 3)}-${fmt(percentile(r, 75), 3)}`,
        fmt(median(cpu[n]), 1),
        cpuRatios[n].length === 0 ? '-' : fmt(median(cpuRatios[n]), 3),
        fmt(percentile(latencies[n], 50), 2),
        fmt(percentile(latencies[n], 99), 2),
      ];
    }),
  );
  console.log(
    `${rounds} rounds, each contender's ${durationMs} ms between two of raw undici's, ${CONNECTIONS} connections / in flight, server in a child process`,
  );
  const how = `${rounds} rounds; each contender's ${durationMs} ms round runs between two rounds of raw undici and is divided by their mean; raw undici's own row compares each of its rounds with its neighbours (the noise floor). ${CONNECTIONS} connections, server in a child process.`;
  recordFigure({
    id: 'throughput-ratio',
    title: 'Keep-alive GETs when nothing fails: throughput against raw undici',
    metric: "requests/s as a ratio to raw undici's neighbouring rounds (median of rounds)",
    better: 'higher',
    note: `${how} The spread is the middle half of the per-round ratios.`,
    values: names.map((n) => ({
      contender: n === RAW ? `${n} (vs its neighbours)` : n,
      value: median(ratios[n]),
      low: percentile(ratios[n], 25),
      high: percentile(ratios[n], 75),
      note: `${fmt(median(rps[n]))} req/s`,
    })),
  });
  recordFigure({
    id: 'cpu-ratio',
    title: 'Keep-alive GETs when nothing fails: client CPU per request against raw undici',
    metric: "client CPU per request as a ratio to raw undici's neighbouring rounds (median of rounds)",
    better: 'lower',
    note: how,
    values: names.map((n) => ({
      contender: n === RAW ? `${n} (vs its neighbours)` : n,
      value: median(cpuRatios[n]),
      note: `${fmt(median(cpu[n]), 1)} µs`,
    })),
  });

  await client.close();
  await Promise.all([raw.close(), composedBase.close(), passThroughBase.close(), forwarderBase.close(), retryAgent.close()]);
  await server.close();
}
