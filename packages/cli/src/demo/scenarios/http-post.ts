import { createHttpClient } from '@holdfast/http';
import type { HttpClient } from '@holdfast/http';
import { appliedButFailed, runLoad } from '../clients/http-load.js';
import type { LoadResult } from '../clients/http-load.js';
import { createPlainFetch, withNaiveRetry } from '../clients/plain-fetch.js';
import type { PlainFetch } from '../clients/plain-fetch.js';
import type { ClientRow, Scenario } from '../scenario.js';
import { expectEqual } from '../scenario.js';
import { startEffectServer } from '../servers/effect-server.js';
import type { EffectServer } from '../servers/effect-server.js';
import { resetEveryTenth } from './http-get.js';

const REQUESTS = 200;
const CONCURRENCY = 8;
const BODY = JSON.stringify({ sku: 'holdfast-mug', quantity: 1 });

interface Side {
  readonly label: string;
  readonly holdfast: boolean;
  readonly server: EffectServer;
  readonly send: (url: string, id: string) => Promise<void>;
  readonly retries: () => number;
  readonly close: () => Promise<void>;
}

export const httpPost: Scenario = {
  name: 'http-post',
  title: 'HTTP POST (creating an order) while the server resets connections',
  fault: `${REQUESTS} POSTs per client, ${CONCURRENCY} at a time. Of every 10 arriving at the server, one is reset (real TCP RST) before the order is created and one after. The caller cannot tell which.`,
  columns: ['requests', 'successes', 'retries', 'duplicates', 'outcomeUnknown', 'appliedButFailed'],
  async run(context) {
    const servers = await Promise.all(Array.from({ length: 4 }, () => startEffectServer(resetEveryTenth)));
    const [s0, s1, s2, s3] = servers as [EffectServer, EffectServer, EffectServer, EffectServer];
    let naiveRetries = 0;
    const plain = createPlainFetch();
    const naive = withNaiveRetry(createPlainFetch(), 3, 50, () => naiveRetries++);
    const keyless = createHttpClient();
    const keyed = createHttpClient();
    const sides: Side[] = [
      plainSide('fetch', s0, plain, () => 0),
      plainSide('fetch + retry on error (3 attempts)', s1, naive, () => naiveRetries),
      holdfastSide('holdfast createHttpClient', s2, keyless, false),
      holdfastSide('holdfast, idempotencyKey: true', s3, keyed, true),
    ];
    let done = 0;
    const total = REQUESTS * sides.length;
    try {
      const results = await Promise.all(
        sides.map((side, n) =>
          runLoad(
            REQUESTS,
            CONCURRENCY,
            `c${n}`,
            (id) => side.send(`http://127.0.0.1:${side.server.port}/orders`, id),
            () => {
              done++;
              context.progress(`${done} of ${total} orders`, done / total);
            },
          ),
        ),
      );
      const rows: ClientRow[] = sides.map((side, n) => row(side, results[n] as LoadResult));
      const [, , keylessRow, keyedRow] = rows as [ClientRow, ClientRow, ClientRow, ClientRow];
      return {
        rows,
        checks: [
          expectEqual('holdfast without a key: orders created twice', keylessRow.metrics.duplicates ?? -1, 0),
          expectEqual(
            'holdfast without a key: orders created while the caller was told a plain failure',
            keylessRow.metrics.appliedButFailed ?? -1,
            0,
          ),
          expectEqual('holdfast with a key: orders that succeeded', keyedRow.metrics.successes ?? -1, REQUESTS),
          expectEqual('holdfast with a key: orders created twice', keyedRow.metrics.duplicates ?? -1, 0),
        ],
        notes: [
          'Without a key, a POST whose connection broke after it was sent may have been applied: holdfast does not send it again and says so (OutcomeUnknownError).',
          'With an Idempotency-Key the server applies each order once, so holdfast retries it safely.',
        ],
      };
    } finally {
      await Promise.all([...sides.map((s) => s.close()), ...servers.map((s) => s.close())]);
    }
  },
};

function plainSide(label: string, server: EffectServer, client: PlainFetch, retries: () => number): Side {
  return {
    label,
    holdfast: false,
    server,
    retries,
    send: (url, id) =>
      client.request(url, { method: 'POST', headers: { 'x-request-id': id, 'content-type': 'application/json' }, body: BODY }).then(() => undefined),
    close: () => client.close(),
  };
}

function holdfastSide(label: string, server: EffectServer, client: HttpClient, idempotencyKey: boolean): Side {
  let retries = 0;
  client.on('retry', () => retries++);
  return {
    label,
    holdfast: true,
    server,
    retries: () => retries,
    async send(url, id) {
      const res = await client.request(url, {
        method: 'POST',
        headers: { 'x-request-id': id, 'content-type': 'application/json' },
        body: BODY,
        idempotencyKey,
      });
      await res.body.text();
    },
    close: () => client.close(),
  };
}

function row(side: Side, result: LoadResult): ClientRow {
  return {
    client: side.label,
    holdfast: side.holdfast,
    metrics: {
      requests: REQUESTS,
      successes: result.succeeded,
      retries: side.retries(),
      duplicates: side.server.duplicates(),
      outcomeUnknown: result.outcomeUnknown,
      appliedButFailed: appliedButFailed(result, side.server.effects),
    },
  };
}
