import { ReconnectingWebSocket } from '@holdfast/ws';
import WebSocket from 'ws';
import { formatMs } from '../../display/format.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario.js';
import { sleep } from '../servers/listen.js';
import { startWsServer } from '../servers/ws-server.js';

const CLIENTS = 200;
const DOWN_MS = 500;
const WAIT_LIMIT_MS = 8000;

export const wsRestart: Scenario = {
  name: 'ws-restart',
  title: 'WebSocket: the server restarts under 200 clients',
  fault: `${CLIENTS} clients per side are connected when the server closes every connection (1012, service restart), stops listening for ${DOWN_MS} ms and starts again on the same port.`,
  columns: ['requests', 'successes', 'reconnects', 'recoveryMs'],
  labels: { requests: 'clients', successes: 'connected at the end', recoveryMs: 'all back after' },
  async run(context) {
    const [plainServer, holdfastServer] = await Promise.all([startWsServer(), startWsServer()]);
    const plain: WebSocket[] = [];
    const holdfast: ReconnectingWebSocket[] = [];
    let reconnects = 0;
    let restarted = false;
    let opensAfterRestart = 0;
    let lastOpenAt = 0;
    try {
      context.progress(`connecting ${2 * CLIENTS} clients`, 0);
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, i) => {
          const socket = new WebSocket(`${plainServer.url}/?id=${i}`);
          socket.on('error', () => undefined);
          plain.push(socket);
          await new Promise((resolve) => socket.once('open', resolve));
        }),
      );
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, i) => {
          const socket = new ReconnectingWebSocket(`${holdfastServer.url}/?id=${i}`);
          holdfast.push(socket);
          socket.on('open', () => {
            if (!restarted) return;
            reconnects++;
            opensAfterRestart++;
            lastOpenAt = performance.now();
          });
          await new Promise((resolve) => socket.once('open', resolve));
        }),
      );

      context.note('the servers restart');
      restarted = true;
      await Promise.all([plainServer.stop(1012), holdfastServer.stop(1012)]);
      await sleep(DOWN_MS);
      const acceptsBefore = holdfastServer.accepts.length;
      await Promise.all([plainServer.start(), holdfastServer.start()]);
      const backAt = performance.now();
      context.note('the servers listen again');
      while (opensAfterRestart < CLIENTS && performance.now() - backAt < WAIT_LIMIT_MS) {
        context.progress(`${opensAfterRestart} of ${CLIENTS} holdfast clients back`, opensAfterRestart / CLIENTS);
        await sleep(50);
      }
      await sleep(200);
      const plainOpen = plain.filter((s) => s.readyState === WebSocket.OPEN).length;
      const holdfastOpen = holdfast.filter((s) => s.readyState === ReconnectingWebSocket.OPEN).length;
      const allBackMs = opensAfterRestart >= CLIENTS ? Math.round(lastOpenAt - backAt) : -1;
      const herd = busiestWindow(holdfastServer.accepts.slice(acceptsBefore), 100);
      return {
        rows: [
          {
            client: 'ws',
            holdfast: false,
            metrics: { requests: CLIENTS, successes: plainOpen, reconnects: 0, recoveryMs: plainOpen === CLIENTS ? 0 : -1 },
          },
          {
            client: 'holdfast ReconnectingWebSocket',
            holdfast: true,
            metrics: { requests: CLIENTS, successes: holdfastOpen, reconnects, recoveryMs: allBackMs },
          },
        ],
        checks: [expectEqual('holdfast: clients connected at the end', holdfastOpen, CLIENTS)],
        notes: [
          `holdfast's reconnects were spread by full jitter: at most ${herd} of ${CLIENTS} (${Math.round((100 * herd) / CLIENTS)} %) arrived in any 100 ms, so a restarted server is not hit by all of them at once.`,
          `A plain ws client is closed for good after the restart: the application must notice and reconnect by itself.${allBackMs >= 0 ? ` holdfast's were all back ${formatMs(allBackMs)} after the server.` : ''}`,
        ],
      };
    } finally {
      for (const socket of plain) socket.terminate();
      await Promise.all(holdfast.map((s) => s.close()));
      await Promise.all([plainServer.close(), holdfastServer.close()]);
    }
  },
};

/** The most events in any window of `windowMs`. */
function busiestWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] as number) - (sorted[start] as number) >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}
