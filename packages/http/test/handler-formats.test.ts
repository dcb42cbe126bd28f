import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request, type Dispatcher } from 'undici';
import { afterEach, expect, it } from 'vitest';
import { retryInterceptor } from '@holdfast/http';
import { constant } from '@holdfast/core';
import { startEffectServer, type EffectServer } from './support/effect-server.js';

let server: EffectServer | undefined;
let agent: Agent | undefined;

afterEach(async () => {
  await agent?.close();
  await server?.close();
  agent = undefined;
  server = undefined;
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
