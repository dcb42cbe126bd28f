import { Agent, Client, RetryAgent, errors, interceptors, request } from 'undici';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify, retryVerdict } from '@holdfast/core';
import { rejectionOf } from './fixtures/capture.js';
import { type TestServer, stallServer, statusServer } from './fixtures/servers.js';

const { RequestAbortedError } = errors;

describe('classify: undici errors that carry a status or report the client state', () => {
  let busy: TestServer;
  let stall: TestServer;
  beforeAll(async () => {
    busy = await statusServer(503, { 'retry-after': '1' });
    stall = await stallServer();
  });
  afterAll(async () => {
    await busy.close();
    await stall.close();
  });

  it('RetryAgent giving up on 503s: UND_ERR_REQ_RETRY carries the status and Retry-After', async () => {
    const agent = new Agent();
    const retrying = new RetryAgent(agent, { maxRetries: 1, minTimeout: 10, maxTimeout: 20, timeoutFactor: 1, retryAfter: false });
    try {
      const error = await rejectionOf(request(busy.url, { dispatcher: retrying }));
      expect(error).toMatchObject({ code: 'UND_ERR_REQ_RETRY', statusCode: 503 });
      expect(classify(error)).toMatchObject({ kind: 'http-status', code: 'HTTP_503', status: 503, retryAfterMs: 1000, transient: true });
    } finally {
      await agent.close();
    }
  });

  it('the responseError interceptor: UND_ERR_RESPONSE carries the status', async () => {
    const agent = new Agent().compose(interceptors.responseError());
    try {
      const error = await rejectionOf(request(busy.url, { dispatcher: agent }));
      expect(error).toMatchObject({ code: 'UND_ERR_RESPONSE', statusCode: 503 });
      expect(classify(error)).toMatchObject({ kind: 'http-status', code: 'HTTP_503', status: 503 });
    } finally {
      await agent.close();
    }
  });

  it('a closed client (UND_ERR_CLOSED) and a destroyed one (UND_ERR_DESTROYED) are not transient', async () => {
    const closed = new Client(busy.url);
    // While closing, undici refuses new requests as closed; once closed, as destroyed.
    const closing = closed.close();
    const closedFault = classify(await rejectionOf(closed.request({ path: '/', method: 'GET' })));
    await closing;
    expect(closedFault).toMatchObject({ kind: 'closed', code: 'UND_ERR_CLOSED', transient: false });

    const destroyed = new Client(stall.url);
    const pending = rejectionOf(destroyed.request({ path: '/', method: 'GET' }));
    await new Promise((resolve) => setTimeout(resolve, 30));
    await destroyed.destroy();
    const destroyedFault = classify(await pending);
    expect(destroyedFault).toMatchObject({ kind: 'closed', code: 'UND_ERR_DESTROYED', transient: false });
    expect(retryVerdict(destroyedFault, { method: 'GET' })).toEqual({ retry: false, reason: 'not-transient' });
  });

  it('a handler that aborts: UND_ERR_ABORTED is the caller aborting', async () => {
    const client = new Client(stall.url);
    try {
      const error = await new Promise<unknown>((resolve) => {
        client.dispatch(
          { path: '/', method: 'GET' },
          {
            onRequestStart: (controller) => controller.abort(new RequestAbortedError()),
            // undici 8 refuses a handler without these, before it could abort.
            onResponseStart: () => {},
            onResponseData: () => {},
            onResponseEnd: () => {},
            onResponseError: (_controller, e) => resolve(e),
          },
        );
      });
      expect(error).toMatchObject({ code: 'UND_ERR_ABORTED' });
      expect(classify(error)).toMatchObject({ kind: 'aborted', transient: false });
    } finally {
      await client.destroy();
    }
  });

  it("a WebSocket closed by the application before it opened: ws's message, kind aborted", async () => {
    const ws = new WebSocket(stall.url.replace('http://', 'ws://'));
    const error = new Promise((resolve) => ws.on('error', resolve));
    ws.close();
    expect(classify(await error)).toMatchObject({ kind: 'aborted', code: 'WS_CLOSED_BEFORE_OPEN', transient: false });
  });
});
