import { createChaosProxy } from '@holdfast/chaos';
import type { ChaosProxy } from '@holdfast/chaos';
import { createHttpClient } from '@holdfast/http';
import { formatMs } from '../../display/format.js';
import { createPlainFetch, withNaiveRetry } from '../clients/plain-fetch.js';
import type { ClientRow, Scenario } from '../scenario.js';
import { startOkServer } from '../servers/ok-server.js';
import type { OkServer } from '../servers/ok-server.js';
import { sleep } from '../servers/listen.js';

const CALLERS = 10;
const PAUSE_MS = 50;
const DOWN_AT_MS = 400;
const DOWN_FOR_MS = 1500;
const RUN_MS = 2800;

interface Side {
  readonly label: string;
  readonly holdfast: boolean;
  readonly send: (url: string) => Promise<void>;
  readonly retries: () => number;
  readonly close: () => Promise<void>;
}

interface Tally {
  requests: number;
  successes: number;
  firstSuccessAfterRecovery: number | undefined;
}

export const httpOutage: Scenario = {
  name: 'http-outage',
  title: 'HTTP GET through a 1.5 s outage',
  fault: `${CALLERS} callers send GETs (each waits ${PAUSE_MS} ms after an answer) for ${RUN_MS / 1000} s. After ${DOWN_AT_MS} ms the service goes down for ${DOWN_FOR_MS / 1000} s: the proxy in front of it resets every connection (open and new) until it is back.`,
  columns: ['requests', 'successes', 'retries', 'attemptsWhileDown', 'recoveryMs'],
  async run(context) {
    const servers: OkServer[] = [];
    const proxies: ChaosProxy[] = [];
    let naiveRetries = 0;
    let holdfastRetries = 0;
    const plain = createPlainFetch();
    const naive = withNaiveRetry(createPlainFetch(), 3, 100, () => naiveRetries++);
    const client = createHttpClient();
    client.on('retry', () => holdfastRetries++);
    const sides: Side[] = [
      { label: 'fetch', holdfast: false, send: (url) => plain.request(url).then(() => undefined), retries: () => 0, close: () => plain.close() },
      {
        label: 'fetch + retry on error (3 attempts)',
        holdfast: false,
        send: (url) => naive.request(url).then(() => undefined),
        retries: () => naiveRetries,
        close: () => naive.close(),
      },
      {
        label: 'holdfast createHttpClient',
        holdfast: true,
        send: async (url) => {
          await (await client.request(url)).body.text();
        },
        retries: () => holdfastRetries,
        close: () => client.close(),
      },
    ];
    try {
      for (const _ of sides) {
        const server = await startOkServer();
        servers.push(server);
        proxies.push(await createChaosProxy({ upstream: { host: '127.0.0.1', port: server.port } }));
      }
      const started = performance.now();
      const timeline = (async () => {
        await sleep(DOWN_AT_MS);
        context.note('the service goes down');
        await Promise.all(proxies.map((p) => p.disable({ mode: 'reset', existing: 'reset' })));
        const downAt = performance.now();
        await sleep(DOWN_FOR_MS);
        const rejected = proxies.map((p) => p.stats().connections.rejected);
        await Promise.all(proxies.map((p) => p.enable()));
        context.note(`back after ${formatMs(performance.now() - downAt)}`);
        return { recoveredAt: performance.now(), rejected };
      })();
      let recoveredAt = Number.POSITIVE_INFINITY;
      timeline.then(
        (t) => (recoveredAt = t.recoveredAt),
        () => undefined,
      );
      const progress = setInterval(() => context.progress('callers running', Math.min(1, (performance.now() - started) / RUN_MS)), 100).unref();
      const tallies = await Promise.all(
        sides.map(async (side, n) => {
          const tally: Tally = { requests: 0, successes: 0, firstSuccessAfterRecovery: undefined };
          const url = (proxies[n] as ChaosProxy).url();
          await Promise.all(
            Array.from({ length: CALLERS }, async () => {
              while (performance.now() - started < RUN_MS) {
                tally.requests++;
                try {
                  await side.send(url);
                  tally.successes++;
                  const now = performance.now();
                  if (now >= recoveredAt && tally.firstSuccessAfterRecovery === undefined) tally.firstSuccessAfterRecovery = now - recoveredAt;
                } catch {
                  // Counted by what did not succeed.
                }
                await sleep(PAUSE_MS);
              }
            }),
          );
          return tally;
        }),
      );
      clearInterval(progress);
      const { rejected } = await timeline;
      const rows: ClientRow[] = sides.map((side, n) => {
        const tally = tallies[n] as Tally;
        return {
          client: side.label,
          holdfast: side.holdfast,
          metrics: {
            requests: tally.requests,
            successes: tally.successes,
            retries: side.retries(),
            attemptsWhileDown: rejected[n] ?? 0,
            recoveryMs: tally.firstSuccessAfterRecovery === undefined ? -1 : Math.round(tally.firstSuccessAfterRecovery),
          },
        };
      });
      const holdfast = rows[2] as ClientRow;
      const naiveRow = rows[1] as ClientRow;
      return {
        rows,
        checks: [
          {
            ok: (holdfast.metrics.attemptsWhileDown ?? Infinity) < (naiveRow.metrics.attemptsWhileDown ?? 0),
            text: `holdfast sent the down service fewer attempts than the hand-written retry: ${holdfast.metrics.attemptsWhileDown} against ${naiveRow.metrics.attemptsWhileDown}`,
          },
          {
            ok: (holdfast.metrics.recoveryMs ?? -1) >= 0 && (holdfast.metrics.recoveryMs ?? Infinity) < 1000,
            text: `holdfast's first success after the service came back: ${formatMs(holdfast.metrics.recoveryMs ?? -1)}`,
          },
        ],
      };
    } finally {
      await Promise.all([...sides.map((s) => s.close()), ...proxies.map((p) => p.close())]);
      await Promise.all(servers.map((s) => s.close()));
    }
  },
};
