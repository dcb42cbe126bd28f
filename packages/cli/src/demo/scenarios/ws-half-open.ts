import { createChaosProxy } from '@holdfast/chaos';
import type { ChaosProxy } from '@holdfast/chaos';
import { ReconnectingWebSocket } from '@holdfast/ws';
import WebSocket from 'ws';
import { formatMs } from '../../display/format.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario.js';
import { sleep } from '../servers/listen.js';
import { startWsServer } from '../servers/ws-server.js';
import type { DemoWsServer } from '../servers/ws-server.js';

const CLIENTS = 20;
const EVERY_MS = 100;
const HEARTBEAT = { intervalMs: 500, timeoutMs: 500 };
const STALL_AT_MS = 800;
const DETECT_LIMIT_MS = 4000;
const REOPEN_LIMIT_MS = 8000;

interface Client {
  readonly id: string;
  sent: number;
  lastTickAt: number;
  send(text: string): void;
  readonly open: () => boolean;
}

export const wsHalfOpen: Scenario = {
  name: 'ws-half-open',
  title: 'WebSocket: the connection goes silent (half-open)',
  fault: `${CLIENTS} clients per side exchange a message every ${EVERY_MS} ms with the server. Then the network path of every open connection goes silent: the proxy drops everything in both directions and closes nothing, as when a NAT or load balancer forgets a connection or the peer's host vanishes.`,
  columns: ['requests', 'successes', 'reconnects', 'lostSilently'],
  labels: { requests: 'clients', successes: 'receiving at the end', lostSilently: 'messages lost silently' },
  async run(context) {
    const servers = await Promise.all([startWsServer(), startWsServer()]);
    const [plainServer, holdfastServer] = servers;
    const proxies: ChaosProxy[] = [];
    const plain: WebSocket[] = [];
    const holdfast: ReconnectingWebSocket[] = [];
    const clients: { plain: Client[]; holdfast: Client[] } = { plain: [], holdfast: [] };
    let reconnects = 0;
    let reported = 0;
    const detections: number[] = [];
    let stalledAt = Number.POSITIVE_INFINITY;
    const ticker = setInterval(() => {
      plainServer.tick();
      holdfastServer.tick();
      for (const client of [...clients.plain, ...clients.holdfast]) if (client.open()) client.send(`${client.id}:${++client.sent}`);
    }, EVERY_MS);
    try {
      const [plainProxy, holdfastProxy] = await Promise.all(servers.map((s) => createChaosProxy({ upstream: { host: '127.0.0.1', port: s.port } })));
      proxies.push(plainProxy as ChaosProxy, holdfastProxy as ChaosProxy);
      context.progress('connecting', 0);
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, i) => {
          const socket = new WebSocket(`${(plainProxy as ChaosProxy).url('ws')}/?id=p${i}`);
          socket.on('error', () => undefined);
          plain.push(socket);
          const client: Client = {
            id: `p${i}`,
            sent: 0,
            lastTickAt: 0,
            send: (t) => socket.send(t),
            open: () => socket.readyState === WebSocket.OPEN,
          };
          socket.on('message', () => (client.lastTickAt = performance.now()));
          clients.plain.push(client);
          await new Promise((resolve) => socket.once('open', resolve));
        }),
      );
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, i) => {
          const socket = new ReconnectingWebSocket(`${(holdfastProxy as ChaosProxy).url('ws')}/?id=h${i}`, {
            heartbeat: HEARTBEAT,
            connectTimeoutMs: 2000,
          });
          holdfast.push(socket);
          // holdfast's send() queues while disconnected and flushes after the reconnect: sending is always allowed.
          const client: Client = { id: `h${i}`, sent: 0, lastTickAt: 0, send: (t) => void socket.send(t), open: () => true };
          socket.on('message', () => (client.lastTickAt = performance.now()));
          socket.on('disconnect', (e) => {
            reported += unconfirmedMessages(e.unconfirmed);
            if (performance.now() >= stalledAt) detections.push(performance.now() - stalledAt);
          });
          socket.on('drop', () => reported++);
          socket.on('open', () => performance.now() >= stalledAt && reconnects++);
          clients.holdfast.push(client);
          await new Promise((resolve) => socket.once('open', resolve));
        }),
      );
      await sleep(STALL_AT_MS);

      context.note('the network path goes silent');
      for (const proxy of proxies) {
        proxy.addToxic({ name: 'silent-up', type: 'timeout', stream: 'upstream', attributes: { timeout: 0 } });
        proxy.addToxic({ name: 'silent-down', type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } });
      }
      stalledAt = performance.now();
      while (detections.length < CLIENTS && performance.now() - stalledAt < DETECT_LIMIT_MS) {
        context.progress(`${detections.length} of ${CLIENTS} holdfast clients noticed`, (0.5 * detections.length) / CLIENTS);
        await sleep(25);
      }
      // The path comes back for new connections; the old ones stay dead (the plain side's toxics stay: its connections never recover).
      (holdfastProxy as ChaosProxy).removeToxic('silent-up');
      (holdfastProxy as ChaosProxy).removeToxic('silent-down');
      context.note('new connections get through again');
      const reopenedFrom = performance.now();
      while (reconnects < CLIENTS && performance.now() - reopenedFrom < REOPEN_LIMIT_MS) {
        context.progress(`${reconnects} of ${CLIENTS} holdfast clients reconnected`, 0.5 + (0.5 * reconnects) / CLIENTS);
        await sleep(25);
      }
      await sleep(600);
      clearInterval(ticker);
      // Messages still in flight arrive.
      await sleep(300);
      const now = performance.now();
      const receiving = (list: Client[]): number => list.filter((c) => now - c.lastTickAt < 700).length;
      const lost = (list: Client[], server: DemoWsServer): number =>
        list.reduce((sum, c) => sum + c.sent - (server.received.get(c.id)?.size ?? 0), 0);
      const holdfastLost = lost(clients.holdfast, holdfastServer);
      const plainLost = lost(clients.plain, plainServer);
      const plainThinkOpen = plain.filter((s) => s.readyState === WebSocket.OPEN).length;
      const median = detections.length === 0 ? -1 : ([...detections].sort((a, b) => a - b)[Math.floor(detections.length / 2)] as number);
      return {
        rows: [
          {
            client: 'ws',
            holdfast: false,
            metrics: { requests: CLIENTS, successes: receiving(clients.plain), reconnects: 0, lostSilently: plainLost },
          },
          {
            client: 'holdfast ReconnectingWebSocket',
            holdfast: true,
            metrics: { requests: CLIENTS, successes: receiving(clients.holdfast), reconnects, lostSilently: Math.max(0, holdfastLost - reported) },
          },
        ],
        checks: [
          expectEqual('holdfast: clients that noticed the silence', detections.length, CLIENTS),
          expectEqual('holdfast: clients receiving again at the end', receiving(clients.holdfast), CLIENTS),
          expectEqual('holdfast: messages lost without being reported', Math.max(0, holdfastLost - reported), 0),
        ],
        notes: [
          `${plainThinkOpen} of ${CLIENTS} plain ws clients still report readyState OPEN: nothing tells them the connection is dead, and what they send disappears.`,
          `holdfast's heartbeat (a ping ${HEARTBEAT.intervalMs} ms after the last pong, ${HEARTBEAT.timeoutMs} ms for the next) noticed after ${formatMs(median)} (median); of the messages it had sent, ${holdfastLost} did not arrive and ${reported} were reported as unconfirmed in its 'disconnect' events.`,
        ],
      };
    } finally {
      clearInterval(ticker);
      for (const socket of plain) socket.terminate();
      await Promise.all(holdfast.map((s) => s.close()));
      await Promise.all(proxies.map((p) => p.close()));
      await Promise.all(servers.map((s) => s.close()));
    }
  },
};

/** Messages a disconnect reports as unconfirmed: a count, or `{ messages, bytes }` (the shared payload of the contract, issue 10). */
function unconfirmedMessages(value: unknown): number {
  if (typeof value === 'number') return value;
  const messages = typeof value === 'object' && value !== null ? (value as { messages?: unknown }).messages : undefined;
  return typeof messages === 'number' ? messages : 0;
}
