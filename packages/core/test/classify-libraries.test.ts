import axios from 'axios';
import got from 'got';
import { MongoClient, MongoNetworkError, MongoServerError, MongoServerSelectionError } from 'mongodb';
import WebSocket, { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify, classifyCloseCode, retryVerdict } from '@holdfast/core';
import { rejectionOf } from './fixtures/capture.js';
import { type TestServer, bytesServer, closedPort, resetOnRequest, stallServer, statusServer } from './fixtures/servers.js';

describe('classify: real client-library errors', () => {
  let rst: TestServer;
  let stall: TestServer;
  let busy: TestServer;
  beforeAll(async () => {
    rst = await resetOnRequest();
    stall = await stallServer();
    busy = await statusServer(503, { 'retry-after': '7' });
  });
  afterAll(async () => {
    await Promise.all([rst.close(), stall.close(), busy.close()]);
  });

  describe('axios', () => {
    const noKeepAlive = { httpAgent: false as const };
    it('a reset: the AxiosError carries ECONNRESET', async () => {
      const error = await rejectionOf(axios.get(rst.url, noKeepAlive));
      expect(axios.isAxiosError(error)).toBe(true);
      expect(classify(error)).toMatchObject({ kind: 'connection-reset', code: 'ECONNRESET', transient: true });
    });

    it("its `timeout` option: ECONNABORTED 'timeout of Nms exceeded' is a timeout, not a connection abort", async () => {
      const error = await rejectionOf(axios.get(stall.url, { ...noKeepAlive, timeout: 100 }));
      expect(error).toMatchObject({ code: 'ECONNABORTED' });
      expect(classify(error)).toMatchObject({ kind: 'timeout', code: 'ETIMEDOUT', transient: true });
      const clarified = await rejectionOf(axios.get(stall.url, { ...noKeepAlive, timeout: 100, transitional: { clarifyTimeoutError: true } }));
      expect(clarified).toMatchObject({ code: 'ETIMEDOUT' });
      expect(classify(clarified)).toMatchObject({ kind: 'timeout', transient: true });
    });

    it('a 503 response: http-status with Retry-After', async () => {
      const error = await rejectionOf(axios.get(busy.url, noKeepAlive));
      expect(classify(error)).toMatchObject({
        kind: 'http-status',
        code: 'HTTP_503',
        status: 503,
        retryAfterMs: 7000,
        phase: 'response',
        transient: true,
      });
    });

    it("a body cut short by a FIN: 'stream has been aborted' is a closed connection in the response, not the 200 it carries", async () => {
      const cut = await bytesServer(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial'));
      try {
        const error = await rejectionOf(axios.get(cut.url, noKeepAlive));
        expect(error).toMatchObject({ code: 'ERR_BAD_RESPONSE', message: 'stream has been aborted', response: { status: 200 } });
        const fault = classify(error);
        expect(fault).toMatchObject({ kind: 'closed', phase: 'response', transient: true });
        // axios read the body inside the call and handed nothing over: a GET may be sent again.
        expect(retryVerdict(fault, { method: 'GET' }).retry).toBe(true);
      } finally {
        await cut.close();
      }
    });

    it('a closed port and an unknown host', async () => {
      const port = await closedPort();
      expect(classify(await rejectionOf(axios.get(`http://127.0.0.1:${port}/`, noKeepAlive)))).toMatchObject({
        kind: 'connection-refused',
        phase: 'connect',
      });
      expect(classify(await rejectionOf(axios.get('http://holdfast-test.invalid/', noKeepAlive)))).toMatchObject({ kind: 'dns', code: 'ENOTFOUND' });
    });

    it("a signal: CanceledError is aborted; with AbortSignal.timeout() it is the caller's deadline", async () => {
      const controller = new AbortController();
      const pending = rejectionOf(axios.get(stall.url, { ...noKeepAlive, signal: controller.signal }));
      setTimeout(() => controller.abort(), 30);
      expect(classify(await pending)).toMatchObject({ kind: 'aborted', transient: false });
      const timedOut = await rejectionOf(axios.get(stall.url, { ...noKeepAlive, signal: AbortSignal.timeout(50) }));
      expect(timedOut).toMatchObject({ code: 'ERR_CANCELED' });
      const fault = classify(timedOut);
      expect(fault).toMatchObject({ kind: 'timeout', code: 'TIMEOUT_ERR', transient: false });
      expect(retryVerdict(fault, { method: 'GET' })).toEqual({ retry: false, reason: 'aborted' });
    });

    it('credentials in the URL never reach the message', async () => {
      const error = await rejectionOf(axios.get(busy.url.replace('http://', 'http://alice:s3cret@'), noKeepAlive));
      const fault = classify(error);
      expect(fault.code).toBe('HTTP_503');
      expect(JSON.stringify(fault)).not.toContain('s3cret');
    });
  });

  describe('got', () => {
    const once = got.extend({ retry: { limit: 0 }, agent: {} });
    it('a reset: RequestError with ECONNRESET', async () => {
      const error = await rejectionOf(once(rst.url));
      expect((error as Error).name).toBe('RequestError');
      expect(classify(error)).toMatchObject({ kind: 'connection-reset', code: 'ECONNRESET' });
    });

    it.each([
      ['request', 'unknown'],
      ['response', 'request'],
    ] as const)('TimeoutError for timeout.%s: phase %s', async (event, phase) => {
      const error = await rejectionOf(once(stall.url, { timeout: { [event]: 100 } }));
      expect(error).toMatchObject({ name: 'TimeoutError', code: 'ETIMEDOUT', event });
      expect(classify(error)).toMatchObject({ kind: 'timeout', code: 'ETIMEDOUT', phase, transient: true });
    });

    it('HTTPError 503: http-status with Retry-After; the URL (with credentials) in its message is redacted', async () => {
      const error = await rejectionOf(once(busy.url.replace('http://', 'http://alice:s3cret@')));
      expect((error as Error).name).toBe('HTTPError');
      expect((error as Error).message).toContain('503');
      const fault = classify(error);
      expect(fault).toMatchObject({ kind: 'http-status', code: 'HTTP_503', status: 503, retryAfterMs: 7000, transient: true });
      expect(JSON.stringify(fault)).not.toContain('s3cret');
    });

    it("AbortSignal.timeout(): the caller's deadline", async () => {
      const error = await rejectionOf(once(stall.url, { signal: AbortSignal.timeout(50) }));
      expect(classify(error)).toMatchObject({ kind: 'timeout', code: 'TIMEOUT_ERR', transient: false });
    });
  });

  describe('ws', () => {
    let wss: WebSocketServer;
    let url: string;
    beforeAll(async () => {
      wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 });
      await new Promise((resolve) => wss.once('listening', resolve));
      url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
      wss.on('connection', (socket, req) => {
        socket.on('error', () => {});
        if (req.url === '/reset') (socket as unknown as { _socket: import('node:net').Socket })._socket.resetAndDestroy();
        else if (req.url === '/1011') socket.close(1011, 'database down');
        else if (req.url === '/4001') socket.close(4001, 'session expired');
        else if (req.url === '/big') socket.send('x'.repeat(1000));
      });
    });
    afterAll(async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    });

    const closeOf = (path: string, options?: WebSocket.ClientOptions) =>
      new Promise<{ code: number; reason: Buffer; error?: unknown }>((resolve) => {
        const ws = new WebSocket(url + path, options);
        let error: unknown;
        ws.on('error', (e) => (error = e));
        ws.on('close', (code, reason) => resolve({ code, reason, error }));
      });

    it('a reset connection closes with 1006: transient connection-reset', async () => {
      const { code, reason } = await closeOf('/reset');
      expect(code).toBe(1006);
      expect(classifyCloseCode(code, reason)).toMatchObject({ kind: 'connection-reset', code: 'WS_1006', transient: true });
    });

    it('1011 from the server is transient; 4001 (application-defined) is not', async () => {
      const internal = await closeOf('/1011');
      expect(classifyCloseCode(internal.code, internal.reason)).toMatchObject({
        code: 'WS_1011',
        transient: true,
        message: 'WebSocket closed with code 1011: database down',
      });
      const app = await closeOf('/4001');
      expect(classifyCloseCode(app.code, app.reason)).toMatchObject({ code: 'WS_4001', transient: false });
    });

    it('a message over maxPayload: WS_ERR_UNSUPPORTED_MESSAGE_LENGTH with the maxPayload hint', async () => {
      const { code, error } = await closeOf('/big', { maxPayload: 100 });
      expect(code).toBe(1006);
      expect(error).toMatchObject({ code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' });
      expect(classify(error)).toMatchObject({ kind: 'protocol', transient: false, hint: expect.stringContaining('maxPayload') });
    });

    it('a non-WebSocket endpoint answering 502: the status is the fault', async () => {
      const gateway = await statusServer(502);
      try {
        const ws = new WebSocket(gateway.url.replace('http://', 'ws://'));
        const error = await new Promise((resolve) => ws.on('error', resolve));
        expect((error as Error).message).toBe('Unexpected server response: 502');
        expect(classify(error)).toMatchObject({ kind: 'http-status', code: 'HTTP_502', status: 502, transient: true });
      } finally {
        await gateway.close();
      }
    });

    it('a handshake nobody answers: WS_HANDSHAKE_TIMEOUT, transient, connect phase', async () => {
      const ws = new WebSocket(stall.url.replace('http://', 'ws://'), { handshakeTimeout: 100 });
      const error = await new Promise((resolve) => ws.on('error', resolve));
      expect(classify(error)).toMatchObject({ kind: 'timeout', code: 'WS_HANDSHAKE_TIMEOUT', phase: 'connect', transient: true });
    });

    it('a refused connection', async () => {
      const port = await closedPort();
      const ws = new WebSocket(`ws://127.0.0.1:${port}`);
      const error = await new Promise((resolve) => ws.on('error', resolve));
      expect(classify(error)).toMatchObject({ kind: 'connection-refused', phase: 'connect' });
    });
  });

  describe('mongodb', () => {
    const connectError = async (uri: string): Promise<unknown> => {
      const client = new MongoClient(uri);
      try {
        return await rejectionOf(client.connect());
      } finally {
        await client.close();
      }
    };

    it('a closed port: MongoServerSelectionError -> MongoNetworkError -> ECONNREFUSED', async () => {
      const port = await closedPort();
      const error = await connectError(`mongodb://127.0.0.1:${port}/?serverSelectionTimeoutMS=200&directConnection=true`);
      expect(error).toBeInstanceOf(MongoServerSelectionError);
      expect((error as Error).cause).toBeInstanceOf(MongoNetworkError);
      expect(classify(error)).toMatchObject({ kind: 'connection-refused', code: 'ECONNREFUSED', phase: 'connect', transient: true });
    });

    // What mongoose 8 and 9 reject mongoose.connect() with (lib/error/serverSelection.js, the same file in both): a
    // MongooseServerSelectionError carrying the driver error's keys, with `cause` replaced by the driver's `reason` (a
    // TopologyDescription), so the driver's own cause is no longer on the chain: the fault is in reason.servers. The real
    // thing, from both mongoose lines, is classified in packages/mongoose's tests.
    it("mongoose's MongooseServerSelectionError: connection-refused, transient, not an unknown permanent error", async () => {
      const port = await closedPort();
      const driverError = (await connectError(`mongodb://127.0.0.1:${port}/x?serverSelectionTimeoutMS=200`)) as MongoServerSelectionError;
      class MongooseServerSelectionError extends Error {}
      Object.defineProperty(MongooseServerSelectionError.prototype, 'name', { value: 'MongooseServerSelectionError' });
      const wrapped = new MongooseServerSelectionError(driverError.message);
      for (const key in driverError)
        if (key !== 'name') (wrapped as unknown as Record<string, unknown>)[key] = (driverError as unknown as Record<string, unknown>)[key];
      wrapped.cause = driverError.reason;
      expect(classify(wrapped)).toMatchObject({ kind: 'connection-refused', code: 'ECONNREFUSED', phase: 'connect', transient: true });
      expect(retryVerdict(classify(wrapped), {})).toEqual({ retry: true });

      // With no server error recorded (a wrong replicaSet name: the server answers but is not a member), it is a transient timeout.
      const bare = new MongooseServerSelectionError('Server selection timed out after 200 ms');
      expect(classify(bare)).toMatchObject({ kind: 'timeout', code: 'MongooseServerSelectionError', phase: 'connect', transient: true });
    });

    it('a server that resets the handshake: ECONNRESET inside the selection error', async () => {
      const error = await connectError(`mongodb://127.0.0.1:${rst.port}/?serverSelectionTimeoutMS=200&directConnection=true`);
      expect(classify(error)).toMatchObject({ kind: 'connection-reset', code: 'ECONNRESET', transient: true });
    });

    it('a server that never answers the handshake: MongoNetworkTimeoutError before the handshake is the connect phase', async () => {
      const error = await connectError(`mongodb://127.0.0.1:${stall.port}/?serverSelectionTimeoutMS=2000&connectTimeoutMS=100&directConnection=true`);
      expect(classify(error)).toMatchObject({ kind: 'timeout', code: 'MongoNetworkTimeoutError', phase: 'connect', transient: true });
    });

    // The driver waits out serverSelectionTimeoutMS before it gives up, so the timeout must leave room for a slow
    // resolver (CI's answered NXDOMAIN after more than 200 ms): the DNS error is the cause only if it arrived in time.
    it('an unknown host, with credentials in the URI that stay out of the fault', async () => {
      const error = await connectError('mongodb://alice:s3cret@holdfast-test.invalid:27017/?serverSelectionTimeoutMS=3000');
      const fault = classify(error);
      expect(fault).toMatchObject({ kind: 'dns', code: 'ENOTFOUND' });
      expect(JSON.stringify(fault)).not.toContain('s3cret');
    });

    // What a handshake with a wrong password rejects with (drivers 6.20 and 7.9, measured against packages/mongoose's test server).
    it('AuthenticationFailed labelled HandshakeError + ResetPool stays not transient: a wrong password is not retried', () => {
      const error = new MongoServerError({ ok: 0, code: 18, codeName: 'AuthenticationFailed', errmsg: 'Authentication failed.' });
      error.addErrorLabel('HandshakeError');
      error.addErrorLabel('ResetPool');
      expect(classify(error)).toMatchObject({ kind: 'unknown', code: 'AuthenticationFailed', phase: 'connect', transient: false });
      expect(classify(error).hint).toContain('check the user, password and authSource');
    });

    it('server errors: failover codes and labels decide transient, NoWritesPerformed makes a write safe to repeat', () => {
      const notPrimary = new MongoServerError({
        ok: 0,
        code: 10107,
        codeName: 'NotWritablePrimary',
        errmsg: 'not primary',
        errorLabels: ['RetryableWriteError'],
      });
      expect(classify(notPrimary)).toMatchObject({ kind: 'connection-refused', code: 'NotWritablePrimary', phase: 'connect', transient: true });

      const steppedDown = new MongoServerError({ ok: 0, code: 189, codeName: 'PrimarySteppedDown', errmsg: 'stepped down' });
      const stepFault = classify(steppedDown);
      expect(stepFault).toMatchObject({ kind: 'closed', code: 'PrimarySteppedDown', transient: true });
      expect(retryVerdict(stepFault, {})).toEqual({ retry: false, reason: 'outcome-unknown' });

      const labelled = new MongoServerError({
        ok: 0,
        code: 251,
        codeName: 'NoSuchTransaction',
        errmsg: 'x',
        errorLabels: ['TransientTransactionError'],
      });
      expect(classify(labelled)).toMatchObject({ code: 'NoSuchTransaction', transient: true });

      const nothingWritten = new MongoServerError({
        ok: 0,
        code: 91,
        codeName: 'ShutdownInProgress',
        errmsg: 'x',
        errorLabels: ['RetryableWriteError', 'NoWritesPerformed'],
      });
      const shutdown = classify(nothingWritten);
      expect(shutdown).toMatchObject({ code: 'ShutdownInProgress', transient: true, phase: 'connect' });
      expect(retryVerdict(shutdown, {})).toEqual({ retry: true });

      const duplicate = new MongoServerError({ ok: 0, code: 11000, codeName: 'DuplicateKey', errmsg: 'E11000 duplicate key' });
      expect(classify(duplicate)).toMatchObject({ code: 'DuplicateKey', transient: false });

      const commitUnknown = new MongoServerError({
        ok: 0,
        code: 50,
        codeName: 'MaxTimeMSExpired',
        errmsg: 'x',
        errorLabels: ['UnknownTransactionCommitResult'],
      });
      expect(classify(commitUnknown)).toMatchObject({ transient: true, phase: 'unknown', hint: expect.stringContaining('commitTransaction') });

      const auth = new MongoServerError({ ok: 0, code: 18, codeName: 'AuthenticationFailed', errmsg: 'auth failed' });
      expect(classify(auth)).toMatchObject({ code: 'AuthenticationFailed', transient: false });

      const other = new MongoServerError({ ok: 0, code: 2, codeName: 'BadValue', errmsg: 'bad' });
      expect(classify(other)).toMatchObject({ kind: 'unknown', code: 'BadValue', transient: false });
    });
  });
});
