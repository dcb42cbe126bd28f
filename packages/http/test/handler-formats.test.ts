import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as undici from 'undici';
import { Agent, connect, errors, getGlobalDispatcher, interceptors, request, setGlobalDispatcher, upgrade, type Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { OutcomeUnknownError, retryInterceptor, type HttpRetryOptions } from '@holdfast/http';
import { constant } from '@holdfast/core';
import type { CoreHandler } from '../src/core-handler.js';
import { startEffectServer, type EffectServer } from './support/effect-server.js';
import { openHandles, guardEachTest } from './support/process-guard.js';

const fast: HttpRetryOptions = { schedule: constant(5), budget: false, breaker: false };

let server: EffectServer | undefined;
let plain: PlainServer | undefined;
let agent: Agent | undefined;
guardEachTest(async () => {
  await agent?.close();
  await server?.close();
  await plain?.close();
  agent = undefined;
  server = undefined;
  plain = undefined;
});

// An interceptor composed outside ours that hands it a handler speaking only undici's newer format.
function newFormatOnly(seen: { headers?: IncomingHttpHeaders; started: number }): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) =>
    dispatch(opts, {
      onRequestStart(controller, context) {
        seen.started++;
        handler.onRequestStart?.(controller, context);
      },
      onResponseStart(controller, statusCode, headers, statusMessage) {
        seen.headers = headers;
        handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
      },
      onResponseData: (controller, chunk) => handler.onResponseData?.(controller, chunk),
      onResponseEnd: (controller, trailers) => handler.onResponseEnd?.(controller, trailers),
      onResponseError: (controller, error) => handler.onResponseError?.(controller, error),
    });
}

it('a handler that speaks only the newer format gets parsed headers, one start and the retried response', async () => {
  server = await startEffectServer((_req, arrival) => (arrival === 1 ? 'reset-after-effect' : 'none'));
  const seen: { headers?: IncomingHttpHeaders; started: number } = { started: 0 };
  agent = new Agent();
  const dispatcher = agent.compose(retryInterceptor({ schedule: constant(5), budget: false, breaker: false }), newFormatOnly(seen));
  const res = await request(`${server.url}/n`, { dispatcher });
  expect(await res.body.text()).toContain('applied /n');
  expect(server.arrivals).toBe(2);
  expect(seen.started).toBe(1);
  expect(seen.headers?.['content-length']).toBe(String(res.headers['content-length']));
});

/** What our interceptor sends to the newer-format handler it was given, in order (runs of data collapsed). */
interface Trace {
  readonly calls: string[];
  /** Times the handler outside left the controller paused after a chunk (undici's own backpressure). */
  pausedAfterData: number;
  /** The controller the bridge handed out, as seen at the last callback. */
  controller?: Dispatcher.DispatchController;
}

/**
 * Sits between our interceptor and one of undici's: what undici's interceptor
 * hands down is a newer-format handler, so this one is too (it has no
 * onConnect/onHeaders), and it records every call the bridge makes on it.
 */
function recorder(trace: Trace): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) =>
    dispatch(opts, {
      onRequestStart(controller, context) {
        trace.controller = controller;
        trace.calls.push('start');
        handler.onRequestStart?.(controller, context);
      },
      onRequestUpgrade(controller, statusCode, headers, socket) {
        trace.calls.push(`upgrade ${statusCode}`);
        handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
      },
      onResponseStart(controller, statusCode, headers, statusMessage) {
        trace.calls.push(`response ${statusCode}`);
        handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
      },
      onResponseData(controller, chunk) {
        if (trace.calls.at(-1) !== 'data') trace.calls.push('data');
        handler.onResponseData?.(controller, chunk);
        if (controller.paused) trace.pausedAfterData++;
      },
      onResponseEnd(controller, trailers) {
        trace.calls.push('end');
        handler.onResponseEnd?.(controller, trailers);
      },
      onResponseError(controller, error) {
        trace.controller = controller;
        trace.calls.push(`error ${error.name}`);
        handler.onResponseError?.(controller, error);
      },
    });
}

function traced(outer: Dispatcher.DispatcherComposeInterceptor, options: HttpRetryOptions = fast): { dispatcher: Dispatcher; trace: Trace } {
  const trace: Trace = { calls: [], pausedAfterData: 0 };
  agent = new Agent();
  // compose() wraps in order: ours is innermost, undici's interceptor outermost.
  return { dispatcher: agent.compose(retryInterceptor(options), recorder(trace), outer), trace };
}

interface PlainServer {
  readonly url: string;
  readonly server: Server;
  arrivals: number;
  close(): Promise<void>;
}

/** A bare server for what the effect server does not answer (big or gzipped bodies, upgrades, CONNECT); every socket is destroyed on close. */
async function startPlainServer(answer: (req: IncomingMessage, res: ServerResponse, arrival: number) => void): Promise<PlainServer> {
  const sockets = new Set<Socket>();
  const state = { arrivals: 0 };
  const srv = createServer((req, res) => answer(req, res, ++state.arrivals));
  srv.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server: srv,
    get arrivals() {
      return state.arrivals;
    },
    set arrivals(v: number) {
      state.arrivals = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        srv.close(() => resolve());
      }),
  };
}

/** Bytes that are not all alike, so a lost, doubled or reordered chunk changes the digest. */
function patterned(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 10)) & 0xff;
  return bytes;
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe("undici's own interceptors composed around ours (they hand it a newer-format handler)", () => {
  it('responseError(): a GET reset after the server received it is retried; one start, one response, one end', async () => {
    server = await startEffectServer((_req, arrival) => (arrival === 1 ? 'reset-after-effect' : 'none'));
    const { dispatcher, trace } = traced(interceptors.responseError());
    const res = await request(`${server.url}/item`, { dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('applied /item ');
    expect(server.arrivals).toBe(2);
    expect(trace.calls).toEqual(['start', 'response 200', 'data', 'end']);
  });

  it('responseError(): a POST reset after its effect fails with OutcomeUnknownError, applied once; the handler sees one start, then the error', async () => {
    server = await startEffectServer(() => 'reset-after-effect');
    const { dispatcher, trace } = traced(interceptors.responseError());
    const error = await request(`${server.url}/orders`, {
      dispatcher,
      method: 'POST',
      body: 'one order',
      headers: { 'x-request-id': 'order-1' },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect(server.effects.get('order-1')).toBe(1);
    expect(server.arrivals).toBe(1);
    expect(trace.calls).toEqual(['start', 'error OutcomeUnknownError']);
  });

  it("responseError(): a 503 with Retry-After is retried after the server's delay (capped), and the 503 never reaches undici's handler", async () => {
    server = await startEffectServer((_req, arrival) => (arrival === 1 ? { status: 503, headers: { 'retry-after': '1' } } : 'none'));
    const delays: number[] = [];
    const { dispatcher, trace } = traced(interceptors.responseError(), {
      ...fast,
      retryAfterCapMs: 40,
      onRetry: (e) => delays.push(e.delayMs),
    });
    const res = await request(`${server.url}/busy`, { dispatcher });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    // The schedule says 5 ms; 40 ms is Retry-After's 1 s clamped to the cap.
    expect(delays).toEqual([40]);
    expect(server.arrivals).toBe(2);
    expect(trace.calls).toEqual(['start', 'response 200', 'data', 'end']);
  });

  it('responseError(): when every answer is a 503, the last one is handed over and undici turns it into its ResponseError', async () => {
    server = await startEffectServer(() => ({ status: 503, headers: { 'retry-after': '0', 'content-type': 'text/plain' } }));
    const { dispatcher, trace } = traced(interceptors.responseError());
    const error = await request(`${server.url}/down`, { dispatcher }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(errors.ResponseError);
    expect((error as errors.ResponseError).statusCode).toBe(503);
    expect((error as errors.ResponseError).body).toBe('status 503');
    expect(server.arrivals).toBe(3);
    expect(trace.calls).toEqual(['start', 'response 503', 'data', 'end']);
  });

  it("responseError(): the caller's AbortSignal ends a request sleeping before its retry, through the controller, and frees the timer", async () => {
    const baseline = process.getActiveResourcesInfo();
    server = await startEffectServer(() => 'reset-after-effect');
    const caller = new AbortController();
    const reason = new Error('the caller gave up');
    // A backoff far longer than the test: only the abort can end it.
    const { dispatcher, trace } = traced(interceptors.responseError(), {
      ...fast,
      schedule: constant(60_000),
      onRetry: () => setTimeout(() => caller.abort(reason), 10),
    });
    const started = Date.now();
    const error = await request(`${server.url}/slow`, { dispatcher, signal: caller.signal }).catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(server.arrivals).toBe(1);
    expect(trace.calls).toEqual(['start', 'error Error']);
    // The abort went through the bridge's controller, not around it.
    expect(trace.controller?.aborted).toBe(true);
    expect(trace.controller?.reason).toBe(reason);
    await agent?.close();
    await server.close();
    agent = undefined;
    server = undefined;
    expect(openHandles(baseline)).toEqual([]);
  });

  it('responseError(): a large body read slowly by the caller is paused and resumed through the bridge and arrives whole', async () => {
    const body = patterned(4 * 1024 * 1024);
    plain = await startPlainServer((req, res, arrival) => {
      if (arrival === 1) req.socket.resetAndDestroy();
      else res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    const { dispatcher, trace } = traced(interceptors.responseError());
    const res = await request(`${plain.url}/big`, { dispatcher, highWaterMark: 16 * 1024 });
    const chunks: Buffer[] = [];
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      if (chunks.length % 8 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const received = Buffer.concat(chunks);
    expect(received.length).toBe(body.length);
    expect(sha256(received)).toBe(sha256(body));
    expect(plain.arrivals).toBe(2);
    // undici's body stream filled up and asked for a pause through the controller we handed out.
    expect(trace.pausedAfterData).toBeGreaterThan(0);
    expect(trace.calls).toEqual(['start', 'response 200', 'data', 'end']);
  });

  it('decompress(): a gzipped body retried after a reset is decompressed once, from the attempt that succeeded', async () => {
    const text = 'holdfast '.repeat(20_000);
    const gz = gzipSync(text);
    plain = await startPlainServer((req, res, arrival) => {
      if (arrival === 1) req.socket.resetAndDestroy();
      else res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': gz.length }).end(gz);
    });
    const { dispatcher, trace } = traced(interceptors.decompress());
    const res = await request(`${plain.url}/gz`, { dispatcher });
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(await res.body.text()).toBe(text);
    expect(plain.arrivals).toBe(2);
    expect(trace.calls).toEqual(['start', 'response 200', 'data', 'end']);
  });

  it('dump(): a retried GET whose body is dumped completes, with one start', async () => {
    server = await startEffectServer((_req, arrival) => (arrival === 1 ? 'reset-after-effect' : 'none'));
    const { dispatcher, trace } = traced(interceptors.dump());
    const res = await request(`${server.url}/dumped`, { dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('');
    expect(server.arrivals).toBe(2);
    expect(trace.calls).toEqual(['start', 'response 200', 'data', 'end']);
  });

  it('an upgrade passes through to the Agent untouched: one start, the 101 and a working socket', async () => {
    plain = await startPlainServer((_req, res) => res.writeHead(426).end());
    plain.server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
      socket.pipe(socket);
    });
    const { dispatcher, trace } = traced(interceptors.responseError());
    const { socket, headers } = await upgrade(`${plain.url}/echo`, { dispatcher, protocol: 'echo' });
    expect(headers.upgrade).toBe('echo');
    expect(await echo(socket, 'ping')).toBe('ping');
    socket.destroy();
    expect(trace.calls).toEqual(['start', 'upgrade 101']);
    expect(plain.arrivals).toBe(0);
  });

  it('a CONNECT tunnel opens through the bridge: one start, the 200 and a working socket', async () => {
    plain = await startPlainServer((_req, res) => res.writeHead(405).end());
    plain.server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      socket.pipe(socket);
    });
    const { dispatcher, trace } = traced(interceptors.responseError());
    const { socket, statusCode } = await connect(plain.url, { dispatcher });
    expect(statusCode).toBe(200);
    expect(await echo(socket, 'through the tunnel')).toBe('through the tunnel');
    socket.destroy();
    expect(trace.calls).toEqual(['start', 'upgrade 200']);
  });
});

function echo(socket: Duplex, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    socket.on('data', (chunk: Buffer) => {
      got += chunk.toString();
      if (got.length >= text.length) resolve(got);
    });
    socket.on('error', reject);
    socket.write(text);
  });
}

describe('a newer-format handler written by the caller, dispatched directly', () => {
  interface Outcome {
    readonly bytes: Buffer;
    readonly starts: number;
    readonly responseStarts: number;
    readonly pauses: number;
    /** Chunks that arrived while the handler had asked for a pause: there must be none. */
    readonly whilePaused: number;
  }

  /** Pauses at the response start and after every chunk, and resumes a moment later, as a slow consumer does. */
  function readSlowly(dispatcher: Dispatcher, url: URL): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let starts = 0;
      let responseStarts = 0;
      let pauses = 0;
      let whilePaused = 0;
      let paused = false;
      const pauseAWhile = (controller: Dispatcher.DispatchController): void => {
        paused = true;
        pauses++;
        controller.pause();
        expect(controller.paused).toBe(true);
        setTimeout(() => {
          paused = false;
          controller.resume();
        }, 1);
      };
      dispatcher.dispatch(
        { origin: url.origin, path: url.pathname, method: 'GET' },
        {
          onRequestStart: () => {
            starts++;
          },
          onResponseStart(controller, statusCode) {
            responseStarts++;
            if (statusCode !== 200) reject(new Error(`status ${statusCode}`));
            pauseAWhile(controller);
          },
          onResponseData(controller, chunk) {
            if (paused) whilePaused++;
            chunks.push(chunk);
            pauseAWhile(controller);
          },
          onResponseEnd: () => resolve({ bytes: Buffer.concat(chunks), starts, responseStarts, pauses, whilePaused }),
          onResponseError: (_controller, error) => reject(error),
        },
      );
    });
  }

  it('pause() holds back every chunk until resume(), across a retried attempt; the whole body arrives intact', async () => {
    const body = patterned(2 * 1024 * 1024);
    plain = await startPlainServer((req, res, arrival) => {
      if (arrival === 1) req.socket.resetAndDestroy();
      else res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    agent = new Agent();
    const outcome = await readSlowly(agent.compose(retryInterceptor(fast)), new URL(`${plain.url}/big`));
    expect(outcome.bytes.length).toBe(body.length);
    expect(sha256(outcome.bytes)).toBe(sha256(body));
    expect(outcome.whilePaused).toBe(0);
    expect(outcome.pauses).toBeGreaterThan(2);
    expect(outcome.starts).toBe(1);
    expect(outcome.responseStarts).toBe(1);
    expect(plain.arrivals).toBe(2);
  });

  it('controller.abort() mid-body ends the request once, with the reason, however often it is called', async () => {
    const body = patterned(2 * 1024 * 1024);
    plain = await startPlainServer((_req, res) => res.writeHead(200, { 'content-length': body.length }).end(body));
    agent = new Agent();
    const url = new URL(`${plain.url}/big`);
    const reason = new Error('enough');
    const seen = { chunks: 0, afterAbort: 0, errors: [] as Error[], ended: false, aborted: false };
    await new Promise<void>((resolve) => {
      agent!.compose(retryInterceptor(fast)).dispatch(
        { origin: url.origin, path: url.pathname, method: 'GET' },
        {
          // undici (and so our interceptor) tells the newer format by this method, even when it has nothing to do.
          onRequestStart: () => {},
          onResponseData(controller) {
            if (seen.chunks++ > 0) seen.afterAbort++;
            // A stream teardown and a timeout may both abort: the second call must change nothing.
            controller.abort(reason);
            controller.abort(new Error('a second, later reason'));
            seen.aborted = controller.aborted && controller.reason === reason;
          },
          onResponseEnd: () => {
            seen.ended = true;
            resolve();
          },
          onResponseError: (_controller, error) => {
            seen.errors.push(error);
            // Any late second error would land before this macrotask.
            setTimeout(resolve, 20);
          },
        },
      );
    });
    expect(seen.errors).toEqual([reason]);
    expect(seen.ended).toBe(false);
    expect(seen.aborted).toBe(true);
    expect(seen.afterAbort).toBe(0);
    expect(plain.arrivals).toBe(1);
  });
});

// undici 8 exports this wrapper (for consumers of the core format); undici 7 does not.
const undiciMajor = 'Dispatcher1Wrapper' in undici ? 8 : 7;

describe(`the format each undici calls natively (running on undici ${undiciMajor})`, () => {
  it('new Agent().compose(retryInterceptor()) delivers every request, each reset once and retried', async () => {
    server = await startEffectServer((_req, arrival) => (arrival % 2 === 1 ? 'reset-after-effect' : 'none'));
    agent = new Agent();
    const dispatcher = agent.compose(retryInterceptor(fast));
    const bodies: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await request(`${server.url}/r${i}`, { dispatcher });
      expect(res.statusCode).toBe(200);
      bodies.push(await res.body.text());
    }
    expect(bodies).toEqual(Array.from({ length: 10 }, (_, i) => `applied /r${i} `));
    expect(server.arrivals).toBe(20);
  });

  it('each attempt goes down in the format the caller’s handler speaks, so nothing is converted between formats', async () => {
    server = await startEffectServer((_req, arrival) => (arrival === 1 ? 'reset-after-effect' : 'none'));
    agent = new Agent();
    const below: string[] = [];
    const down: Dispatcher.Dispatch = (opts, handler) => {
      below.push(typeof handler.onRequestStart === 'function' ? 'controller' : 'core');
      return agent!.dispatch(opts, handler);
    };
    const dispatch = retryInterceptor(fast)(down);
    const { origin } = new URL(server.url);
    const status = await new Promise<number>((resolve, reject) => {
      let statusCode = 0;
      dispatch(
        { origin, path: '/controller', method: 'GET' },
        {
          onRequestStart: () => {},
          onResponseStart: (_controller, code) => {
            statusCode = code;
          },
          onResponseData: () => {},
          onResponseEnd: () => resolve(statusCode),
          onResponseError: (_controller, error) => reject(error),
        },
      );
    });
    expect(status).toBe(200);
    expect(below).toEqual(['controller', 'controller']);

    below.length = 0;
    const coreFormat = new Promise<number>((resolve, reject) => {
      let statusCode = 0;
      const handler: CoreHandler = {
        onConnect: () => {},
        onHeaders: (code) => {
          statusCode = code;
          return true;
        },
        onData: () => true,
        onComplete: () => resolve(statusCode),
        onError: reject,
      };
      // undici's refusal is thrown here, and rejects this promise.
      dispatch({ origin, path: '/core', method: 'GET' }, handler);
    });
    if (undiciMajor === 7) {
      expect(await coreFormat).toBe(200);
    } else {
      // undici 8 refuses the core format (its Dispatcher1Wrapper converts it): the interceptor does not hide that.
      const error = await coreFormat.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(errors.InvalidArgumentError);
      expect((error as Error).message).toBe('invalid onRequestStart method');
    }
    expect(below).toEqual(['core']);
  });

  it("responseHeaders: 'raw' gets the raw head of the retried response, and of the last 503 when it is handed over", async () => {
    server = await startEffectServer((_req, arrival) => (arrival === 1 ? 'reset-after-effect' : 'none'));
    agent = new Agent();
    const dispatcher = agent.compose(retryInterceptor(fast));
    const ok = await request(`${server.url}/raw`, { dispatcher, responseHeaders: 'raw' });
    expect(ok.statusCode).toBe(200);
    expect(await ok.body.text()).toBe('applied /raw ');
    expect((ok.headers as unknown as (string | Buffer)[]).map((h) => String(h).toLowerCase())).toContain('content-length');
    await server.close();

    server = await startEffectServer(() => ({ status: 503, headers: { 'retry-after': '0', 'x-last': 'yes' } }));
    const busy = await request(`${server.url}/busy`, { dispatcher, responseHeaders: 'raw' });
    expect(busy.statusCode).toBe(503);
    expect(await busy.body.text()).toBe('status 503');
    const raw = (busy.headers as unknown as (string | Buffer)[]).map((h) => String(h).toLowerCase());
    expect(raw[raw.indexOf('x-last') + 1]).toBe('yes');
    expect(server.arrivals).toBe(3);
  });

  it("Node's global fetch, after setGlobalDispatcher(getGlobalDispatcher().compose(retryInterceptor())), retries a reset GET", async () => {
    server = await startEffectServer((_req, arrival) => (arrival === 1 ? 'reset-after-effect' : 'none'));
    const before = getGlobalDispatcher();
    try {
      setGlobalDispatcher(before.compose(retryInterceptor(fast)));
      const res = await globalThis.fetch(`${server.url}/global`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('applied /global ');
      expect(server.arrivals).toBe(2);
    } finally {
      setGlobalDispatcher(before);
    }
  });
});
