import { createHttpClient } from '@holdfast/http';
import type { IncomingMessage } from 'node:http';
import { appliedButFailed, runLoad } from '../clients/http-load.js';
import { createPlainFetch } from '../clients/plain-fetch.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario.js';
import { startEffectServer } from '../servers/effect-server.js';
import type { ArrivalFault } from '../servers/effect-server.js';
import { sleep } from '../servers/listen.js';

const REQUESTS = 120;
const CONCURRENCY = 4;
const IDLE_MS = 20;

/**
 * The server has already given up on an idle keep-alive connection when the
 * next request arrives on it, and resets it (a real TCP RST) without reading
 * it: what a client sees when its idle timeout is longer than the server's
 * (or a load balancer's) and the two race.
 */
function staleSecondRequest(): (arrival: number, req: IncomingMessage) => ArrivalFault {
  const served = new WeakMap<object, number>();
  return (_arrival, req) => {
    const n = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, n);
    return n === 2 ? 'reset-before-effect' : 'none';
  };
}

export const httpStale: Scenario = {
  name: 'http-stale',
  title: 'HTTP keep-alive: requests on connections the server already dropped',
  fault: `${REQUESTS} requests (GET and POST alternating), ${CONCURRENCY} callers each pausing ${IDLE_MS} ms. The server drops each keep-alive connection when the next request arrives on it, as a server whose idle timeout is shorter than the client's does: a real TCP RST, before reading the request.`,
  columns: ['requests', 'successes', 'retries', 'duplicates', 'outcomeUnknown', 'appliedButFailed'],
  async run(context) {
    const [plainServer, holdfastServer] = await Promise.all([startEffectServer(staleSecondRequest()), startEffectServer(staleSecondRequest())]);
    const plain = createPlainFetch();
    const client = createHttpClient();
    let retries = 0;
    client.on('retry', () => retries++);
    let done = 0;
    const tick = (): void => context.progress(`${done} of ${2 * REQUESTS} requests`, done / (2 * REQUESTS));
    const method = (index: number): 'GET' | 'POST' => (index % 2 === 0 ? 'GET' : 'POST');
    let getsOk = 0;
    try {
      const [plainResult, holdfastResult] = await Promise.all([
        runLoad(
          REQUESTS,
          CONCURRENCY,
          'plain',
          async (id, index) => {
            await sleep(IDLE_MS);
            await plain.request(`http://127.0.0.1:${plainServer.port}/orders/${id}`, {
              method: method(index),
              headers: { 'x-request-id': id },
              ...(method(index) === 'POST' ? { body: '{}' } : {}),
            });
          },
          () => (done++, tick()),
        ),
        runLoad(
          REQUESTS,
          CONCURRENCY,
          'holdfast',
          async (id, index) => {
            await sleep(IDLE_MS);
            const res = await client.request(`http://127.0.0.1:${holdfastServer.port}/orders/${id}`, {
              method: method(index),
              headers: { 'x-request-id': id },
              ...(method(index) === 'POST' ? { body: '{}' } : {}),
            });
            await res.body.text();
            if (method(index) === 'GET') getsOk++;
          },
          () => (done++, tick()),
        ),
      ]);
      const stale = client.stats().staleConnections;
      return {
        rows: [
          {
            client: 'fetch',
            holdfast: false,
            metrics: {
              requests: REQUESTS,
              successes: plainResult.succeeded,
              retries: 0,
              duplicates: plainServer.duplicates(),
              outcomeUnknown: 0,
              appliedButFailed: appliedButFailed(plainResult, plainServer.effects),
            },
          },
          {
            client: 'holdfast createHttpClient',
            holdfast: true,
            metrics: {
              requests: REQUESTS,
              successes: holdfastResult.succeeded,
              retries,
              duplicates: holdfastServer.duplicates(),
              outcomeUnknown: holdfastResult.outcomeUnknown,
              appliedButFailed: appliedButFailed(holdfastResult, holdfastServer.effects),
            },
          },
        ],
        checks: [
          expectEqual('holdfast: GETs that succeeded', getsOk, REQUESTS / 2),
          expectEqual('holdfast: requests applied twice', holdfastServer.duplicates(), 0),
          expectEqual('holdfast: failures that did not say the outcome is unknown', holdfastResult.failed, 0),
        ],
        notes: [
          `holdfast counted ${stale} stale connections: a GET is sent again on a new connection; a POST is not (the server may have read it before the connection died), it fails with OutcomeUnknownError.`,
          "holdfast also keeps idle connections 4 s, below the 5 s of Node's own server, and follows a server's Keep-Alive: timeout= hint.",
        ],
      };
    } finally {
      await Promise.all([plain.close(), client.close(), plainServer.close(), holdfastServer.close()]);
    }
  },
};
