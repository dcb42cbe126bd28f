import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express from 'express';
import { gracefulShutdown } from '@holdfast/express';
import { Agent, fetch } from 'undici';
import { formatMs } from '../../display/format.js';
import type { ClientRow, Scenario } from '../scenario.js';
import { expectEqual } from '../scenario.js';
import { sleep } from '../servers/listen.js';

const CLIENTS = 20;
const WARM_REQUESTS = 3;
const SHUTDOWN_AT_MS = 300;
const GRACE_MS = 1000;
const RUN_LIMIT_MS = 4000;

interface Tally {
  requests: number;
  succeeded: number;
  /** Never reached the server (the listener was closed): safe to send elsewhere. */
  refused: number;
  /** Failed after the request was written: reset, hang-up, closed without an answer. */
  readonly cutOff: string[];
}

interface App {
  readonly server: Server;
  readonly port: number;
  /** Orders applied, per request id. */
  readonly effects: Map<string, number>;
  /** Requests the app received whose connection closed before their answer was sent. */
  readonly unanswered: Set<string>;
  readonly sockets: Set<Socket>;
}

/** An order API on Express: each POST does a little work, applies the order (counted per request id), answers. */
async function startApp(): Promise<App> {
  const effects = new Map<string, number>();
  const unanswered = new Set<string>();
  const app = express();
  app.use(express.json());
  app.post('/orders', (req, res) => {
    const id = String(req.headers['x-request-id']);
    res.on('close', () => !res.writableFinished && unanswered.add(id));
    setTimeout(
      () => {
        effects.set(id, (effects.get(id) ?? 0) + 1);
        res.json({ created: id });
      },
      5 + Math.floor(Math.random() * 20),
    );
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return { server, port: (server.address() as AddressInfo).port, effects, unanswered, sockets };
}

export const expressShutdown: Scenario = {
  name: 'express-shutdown',
  title: 'Express: a deploy stops the server while clients send',
  fault: `${CLIENTS} keep-alive clients POST orders back to back to an Express 5 app; like a balancer, a client stops sending to it once told its connection closes (or refused). Once every client was answered ${WARM_REQUESTS} times, and ${SHUTDOWN_AT_MS} ms later, the app shuts down for a deploy, with ${GRACE_MS / 1000} s for what is in flight: server.close(), then closeAllConnections() when the time is up, beside @holdfast/express's gracefulShutdown().`,
  columns: ['requests', 'successes', 'cutOff', 'unanswered', 'appliedButFailed'],
  async run(context) {
    const [plainApp, holdfastApp] = await Promise.all([startApp(), startApp()]);
    const handle = gracefulShutdown(holdfastApp.server, { timeoutMs: GRACE_MS, signals: [] });
    const agents = [new Agent(), new Agent()];
    let closedMs = { plain: -1, holdfast: -1 };
    try {
      const started = performance.now();
      // The shutdown starts once every client has been answered a few times: a connection still in the kernel's
      // accept queue when the listener closes is reset by the kernel, whoever shuts down.
      let warm = 0;
      const shutdown = (async () => {
        while (warm < 2 * CLIENTS && performance.now() - started < RUN_LIMIT_MS / 2) await sleep(10);
        await sleep(SHUTDOWN_AT_MS);
        context.note('the apps shut down');
        const t0 = performance.now();
        const plain = (async () => {
          const closed = new Promise<void>((resolve) => plainApp.server.close(() => resolve()));
          const grace = sleep(GRACE_MS).then(() => plainApp.server.closeAllConnections());
          await Promise.race([closed, grace]);
          await closed;
          closedMs = { ...closedMs, plain: performance.now() - t0 };
        })();
        const holdfast = handle.shutdown().then(() => void (closedMs = { ...closedMs, holdfast: performance.now() - t0 }));
        await Promise.all([plain, holdfast]);
      })();
      const load = async (port: number, agent: Agent, side: string): Promise<Tally> => {
        const tally: Tally = { requests: 0, succeeded: 0, refused: 0, cutOff: [] };
        await Promise.all(
          Array.from({ length: CLIENTS }, async (_, client) => {
            for (let i = 0; performance.now() - started < RUN_LIMIT_MS; i++) {
              const id = `${side}-${client}-${i}`;
              tally.requests++;
              try {
                const response = await fetch(`http://127.0.0.1:${port}/orders`, {
                  method: 'POST',
                  headers: { 'content-type': 'application/json', 'x-request-id': id },
                  body: JSON.stringify({ sku: 'mug' }),
                  dispatcher: agent,
                });
                await response.text();
                if (response.ok) {
                  tally.succeeded++;
                  if (i === WARM_REQUESTS - 1) warm++;
                }
                // Told the connection closes: like a balancer, this client goes to the new version from now on.
                if (response.headers.get('connection') === 'close') return;
              } catch (error) {
                // The app is gone: this client stops (a balancer would send it to the new version).
                if (/ECONNREFUSED/.test(String((error as { cause?: { code?: string } }).cause?.code))) {
                  tally.refused++;
                  return;
                }
                tally.cutOff.push(id);
              }
            }
          }),
        );
        return tally;
      };
      const progress = setInterval(
        () => context.progress('clients sending', Math.min(1, (performance.now() - started) / (SHUTDOWN_AT_MS + GRACE_MS))),
        100,
      );
      const [plain, holdfast] = await Promise.all([
        load(plainApp.port, agents[0] as Agent, 'plain'),
        load(holdfastApp.port, agents[1] as Agent, 'holdfast'),
      ]);
      clearInterval(progress);
      await shutdown;
      const applied = (tally: Tally, effects: Map<string, number>): number => tally.cutOff.filter((id) => effects.has(id)).length;
      const row = (client: string, isHoldfast: boolean, tally: Tally, app: App): ClientRow => ({
        client,
        holdfast: isHoldfast,
        metrics: {
          requests: tally.requests,
          successes: tally.succeeded,
          cutOff: tally.cutOff.length,
          unanswered: app.unanswered.size,
          appliedButFailed: applied(tally, app.effects),
        },
      });
      const rows: ClientRow[] = [
        row('server.close() + closeAllConnections()', false, plain, plainApp),
        row('holdfast gracefulShutdown()', true, holdfast, holdfastApp),
      ];
      return {
        rows,
        checks: [
          expectEqual('holdfast: requests that reached the app and got no answer', holdfastApp.unanswered.size, 0),
          expectEqual('holdfast: orders applied while the client was told it failed', applied(holdfast, holdfastApp.effects), 0),
          {
            ok: closedMs.holdfast >= 0 && closedMs.holdfast <= GRACE_MS + 500,
            text: `holdfast: the server closed ${formatMs(closedMs.holdfast)} after the shutdown began`,
          },
        ],
        notes: [
          `Requests refused once the listener was closed never reached the app (safe to send to the new version): ${plain.refused} and ${holdfast.refused}.`,
          `server.close() ends idle keep-alive connections under clients that may be writing to them, and does not finish while they keep sending (it ended ${formatMs(closedMs.plain)} after the start, forced); gracefulShutdown answers what arrives with Connection: close, so each client is told before its connection goes.`,
        ],
      };
    } finally {
      await Promise.all(agents.map((a) => a.close()));
      await handle.close();
      for (const app of [plainApp, holdfastApp]) {
        for (const socket of app.sockets) socket.destroy();
        if (app.server.listening) await new Promise((resolve) => app.server.close(resolve));
      }
    }
  },
};
