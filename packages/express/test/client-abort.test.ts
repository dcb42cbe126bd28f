import { once } from 'node:events';
import http from 'node:http';
import { connect } from 'node:net';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '@holdfast/http';
import {
  ClientAbortError,
  abortSignalFor,
  clientAbort,
  clientAbortErrors,
  createExpressEvents,
  safeResponses,
  type ExpressEventMap,
  type RequestWithSignal,
} from '../src/index.js';
import { EXPRESSES, failOnEscapedErrors, listen, sleep, until } from './support/servers.js';

failOnEscapedErrors();

type Events = ExpressEventMap[keyof ExpressEventMap];

/** Sends a request and hangs up (a real RST) once the server has it, without waiting for an answer. */
async function hangUpAfterSending(port: number, request: string, afterMs = 30): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(request);
  await sleep(afterMs);
  socket.resetAndDestroy();
}

for (const [name, express] of EXPRESSES) {
  describe(`${name}: a client that hangs up mid-handler`, () => {
    it('aborts req.signal with a ClientAbortError, cancels the downstream request, and nothing writes after the end', async () => {
      // The downstream service: answers after 2 s unless its request is cancelled.
      let downstreamCancelled = 0;
      const downstream = await listen((req, res) => {
        const timer = setTimeout(() => res.end('late'), 2_000);
        res.on('close', () => {
          if (!res.writableEnded) {
            clearTimeout(timer);
            downstreamCancelled++;
          }
        });
        req.resume();
      });
      const client = createHttpClient();
      const events = createExpressEvents();
      const seen: Events[] = [];
      events.on('client-abort', (e) => seen.push(e));
      events.on('late-write', (e) => seen.push(e));
      const failures: unknown[] = [];
      const app = express();
      app.use(safeResponses({ events }), clientAbort({ events }));
      app.get('/report', async (req, res) => {
        const { signal } = req as unknown as RequestWithSignal;
        try {
          const upstream = await client.request(downstream.url, { signal });
          res.send(await upstream.body.text());
        } catch (error) {
          failures.push(error);
          // A handler that answers anyway: the write is skipped and reported, not a crash.
          res.status(502).send('downstream failed');
          res.send('twice');
        }
      });
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const port = (server.address() as { port: number }).port;

      await hangUpAfterSending(port, 'GET /report?token=secret HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => failures.length === 1 && downstreamCancelled === 1, 'the cancelled downstream request');
      await until(() => seen.length >= 2, 'the events');
      expect(failures[0]).toBeInstanceOf(ClientAbortError);
      expect((failures[0] as ClientAbortError).fault).toMatchObject({ kind: 'aborted', code: 'HOLDFAST_CLIENT_ABORT', phase: 'response' });
      expect(seen[0]).toMatchObject({ event: 'client-abort', method: 'GET', path: '/report', source: 'close' });
      expect(seen[1]).toMatchObject({ event: 'late-write', path: '/report', reason: 'client-gone' });
      expect(seen).toHaveLength(2); // one late-write per response, however many writes

      await client.close();
      await downstream.close();
      server.close();
    });

    it('a handler that already finished sees no abort', async () => {
      const app = express();
      const signals: AbortSignal[] = [];
      app.use(clientAbort());
      app.get('/', (req, res) => {
        signals.push((req as unknown as RequestWithSignal).signal);
        res.send('ok');
      });
      const { port } = await listenApp(app);
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(await res.text()).toBe('ok');
      await sleep(20);
      expect(signals[0]?.aborted).toBe(false);
    });

    it('safeResponses turns a second send and a write after end into reported no-ops', async () => {
      const events = createExpressEvents();
      const seen: ExpressEventMap['late-write'][] = [];
      events.on('late-write', (e) => seen.push(e));
      const app = express();
      app.use(safeResponses({ events }));
      app.get('/twice', (_req, res) => {
        res.send('first');
        res.send('second');
        res.write('more');
      });
      const { port } = await listenApp(app);
      const res = await fetch(`http://127.0.0.1:${port}/twice`);
      expect(await res.text()).toBe('first');
      expect(seen).toEqual([{ event: 'late-write', method: 'GET', path: '/twice', call: 'setHeader', reason: 'headers-sent' }]);
    });

    it('safeResponses guards a route of a mounted sub-app too', async () => {
      const events = createExpressEvents();
      const seen: ExpressEventMap['late-write'][] = [];
      events.on('late-write', (e) => seen.push(e));
      const app = express();
      const admin = express();
      admin.get('/twice', (_req, res) => {
        res.send('first');
        res.send('second');
      });
      app.use(safeResponses({ events }));
      app.use('/admin', admin);
      const { port } = await listenApp(app);
      expect(await (await fetch(`http://127.0.0.1:${port}/admin/twice`)).text()).toBe('first');
      expect(seen).toMatchObject([{ path: '/admin/twice', call: 'setHeader', reason: 'headers-sent' }]);
    });

    it('an app that did not mount safeResponses keeps Express own behaviour, though another app in the process did', async () => {
      const guarded = express();
      guarded.use(safeResponses());
      guarded.get('/', (_req, res) => res.send('ok'));
      await fetch(`http://127.0.0.1:${(await listenApp(guarded)).port}/`);
      const errors: unknown[] = [];
      const plain = express();
      plain.get('/twice', (_req, res) => {
        res.send('first');
        try {
          res.send('second');
        } catch (error) {
          errors.push(error);
        }
      });
      const { port } = await listenApp(plain);
      expect(await (await fetch(`http://127.0.0.1:${port}/twice`)).text()).toBe('first');
      expect(errors).toMatchObject([{ code: 'ERR_HTTP_HEADERS_SENT' }]);
    });

    it('clientAbortErrors: body parsing cut short by the client is a client abort (no 500), an upstream reset is a real fault', async () => {
      const events = createExpressEvents();
      const aborts: ExpressEventMap['client-abort'][] = [];
      events.on('client-abort', (e) => aborts.push(e));
      const handled: unknown[] = [];
      const app = express();
      app.use(express.json());
      app.post('/upload', (_req, res) => res.send('ok'));
      app.get('/upstream', () => {
        throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      });
      app.use(clientAbortErrors({ events }));
      app.use((error: unknown, _req: unknown, res: http.ServerResponse, _next: unknown) => {
        handled.push(error);
        res.statusCode = 500;
        res.end('real fault');
      });
      const { port } = await listenApp(app);

      await hangUpAfterSending(port, 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":');
      await until(() => aborts.length === 1, 'the client abort');
      expect(aborts[0]).toMatchObject({ event: 'client-abort', method: 'POST', path: '/upload', source: 'error' });
      expect(handled).toEqual([]);

      const res = await fetch(`http://127.0.0.1:${port}/upstream`);
      expect(res.status).toBe(500);
      expect(handled).toHaveLength(1);
      expect(aborts).toHaveLength(1);
    });
  });
}

describe('abortSignalFor on plain node:http', () => {
  it('fires on the client leaving, is already aborted when asked late, and publishes once on holdfast:express', async () => {
    const published: unknown[] = [];
    const onMessage = (m: unknown): void => void published.push(m);
    subscribe('holdfast:express', onMessage);
    const events = createExpressEvents();
    const watch = clientAbort({ events });
    const reasons: unknown[] = [];
    let late: AbortSignal | undefined;
    const server = await listen((req, res) => {
      watch(req, res, () => undefined);
      const signal = abortSignalFor(req, res);
      expect(abortSignalFor(req, res)).toBe(signal);
      signal.addEventListener('abort', () => {
        reasons.push(signal.reason);
        setTimeout(() => (late = abortSignalFor(req, res)), 10);
      });
    });
    await hangUpAfterSending(server.port, 'GET /x?api_key=1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => late !== undefined, 'the late signal');
    expect(reasons[0]).toBeInstanceOf(ClientAbortError);
    expect(late?.aborted).toBe(true);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ event: 'client-abort', path: '/x' });
    unsubscribe('holdfast:express', onMessage);
    await server.close();
  });

  it('checks options', () => {
    expect(() => clientAbort({ event: createExpressEvents() } as never)).toThrow(/unknown option 'event' \(did you mean events\?\)/);
    expect(() => safeResponses({ events: {} as never })).toThrow(/option 'events' must be an events object from createExpressEvents\(\)/);
  });
});

const servers: http.Server[] = [];
afterAll(() => {
  for (const server of servers) server.close();
});

async function listenApp(app: http.RequestListener): Promise<{ port: number }> {
  const server = http.createServer(app);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as { port: number }).port };
}
