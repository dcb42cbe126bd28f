import { createHttpClient } from '@holdfast/http';
import { appliedButFailed, runLoad } from '../clients/http-load.js';
import { createPlainFetch } from '../clients/plain-fetch.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario.js';
import { startEffectServer } from '../servers/effect-server.js';
import type { ArrivalFault } from '../servers/effect-server.js';

const REQUESTS = 200;
const CONCURRENCY = 8;

/** Every 10th arrival reset before the handler runs, another 10th after it applied the request. */
export const resetEveryTenth = (arrival: number): ArrivalFault =>
  arrival % 10 === 3 ? 'reset-before-effect' : arrival % 10 === 7 ? 'reset-after-effect' : 'none';

export const httpGet: Scenario = {
  name: 'http-get',
  title: 'HTTP GET while the server resets connections',
  fault: `${REQUESTS} GETs, ${CONCURRENCY} at a time. Of every 10 requests arriving at the server, one has its connection reset (a real TCP RST) before the server handles it and one right after it did.`,
  columns: ['requests', 'successes', 'retries', 'duplicates'],
  async run(context) {
    const [plainServer, holdfastServer] = await Promise.all([startEffectServer(resetEveryTenth), startEffectServer(resetEveryTenth)]);
    const plain = createPlainFetch();
    const client = createHttpClient();
    let retries = 0;
    client.on('retry', () => retries++);
    let done = 0;
    const tick = (): void => context.progress(`${done} of ${2 * REQUESTS} requests`, done / (2 * REQUESTS));
    try {
      const [plainResult, holdfastResult] = await Promise.all([
        runLoad(
          REQUESTS,
          CONCURRENCY,
          'plain',
          (id) => plain.request(`http://127.0.0.1:${plainServer.port}/items/${id}`, { headers: { 'x-request-id': id } }).then(() => undefined),
          () => (done++, tick()),
        ),
        runLoad(
          REQUESTS,
          CONCURRENCY,
          'holdfast',
          async (id) => {
            const res = await client.request(`http://127.0.0.1:${holdfastServer.port}/items/${id}`, { headers: { 'x-request-id': id } });
            await res.body.text();
          },
          () => (done++, tick()),
        ),
      ]);
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
              appliedButFailed: appliedButFailed(plainResult, plainServer.effects),
            },
          },
          {
            client: 'holdfast createHttpClient',
            holdfast: true,
            metrics: { requests: REQUESTS, successes: holdfastResult.succeeded, retries, duplicates: holdfastServer.duplicates() },
          },
        ],
        checks: [expectEqual('holdfast: GETs that succeeded', holdfastResult.succeeded, REQUESTS)],
        notes: ['A GET may be repeated: a GET served twice (a duplicate) is a read done twice, which is why holdfast retries it.'],
      };
    } finally {
      await Promise.all([plain.close(), client.close(), plainServer.close(), holdfastServer.close()]);
    }
  },
};
