import { connect } from 'node:net';
import { createChaosProxy } from '@holdfast/chaos';
import type { ChaosProxy } from '@holdfast/chaos';
import { ReconnectingSocket } from '@holdfast/net';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario.js';
import { sleep } from '../servers/listen.js';
import { startLineServer } from '../servers/line-server.js';

const MESSAGES = 300;
const PAYLOAD = 'x'.repeat(1000);
const RESET_AFTER_BYTES = 40_500;
const RESETS = 3;
const WAIT_LIMIT_MS = 15_000;

const message = (seq: number): string => `MSG ${seq} ${PAYLOAD}`;

export const tcpReset: Scenario = {
  name: 'tcp-reset',
  title: 'TCP: the connection is reset in the middle of a message',
  fault: `Each client sends ${MESSAGES} messages of 1 KB to a line service that acknowledges them. The proxy resets the connection (real TCP RST) after ${(RESET_AFTER_BYTES / 1000).toFixed(1)} KB, halfway through a message, ${RESETS} times.`,
  columns: ['requests', 'successes', 'duplicates', 'reconnects', 'lost'],
  labels: { requests: 'messages', successes: 'accepted', duplicates: 'accepted twice' },
  async run(context) {
    const servers = await Promise.all([startLineServer(), startLineServer()]);
    const [plainServer, holdfastServer] = servers;
    const proxies = await Promise.all(servers.map((s) => createChaosProxy({ upstream: { host: '127.0.0.1', port: s.port } })));
    const [plainProxy, holdfastProxy] = proxies as [ChaosProxy, ChaosProxy];
    for (const proxy of proxies) {
      let resets = 0;
      proxy.addToxic({ name: 'cut', type: 'reset_peer', stream: 'upstream', attributes: { after_bytes: RESET_AFTER_BYTES } });
      proxy.on('fault', (event) => {
        if (event.action === 'reset' && event.cause === 'cut' && ++resets === RESETS) proxy.removeToxic('cut');
      });
    }
    const socket = new ReconnectingSocket({
      host: '127.0.0.1',
      port: holdfastProxy.port,
      framing: 'lines',
      confirm: {
        sequenceOf: (m) => Number((typeof m === 'string' ? m : Buffer.from(m).toString('latin1')).split(' ', 2)[1]),
        ackOf: (line) => (line.toString().startsWith('ACK ') ? Number(line.toString().slice(4)) : undefined),
      },
      onConnect: async ({ send, receive }) => {
        send('HELLO');
        // The service's ACK says what it already has: nothing it has is sent again.
        await receive();
      },
    });
    try {
      context.progress('sending', 0);
      const plain = sendPlain(plainProxy.port);
      for (let seq = 1; seq <= MESSAGES; seq++) socket.send(message(seq));
      const started = performance.now();
      while (holdfastServer.accepted.length < MESSAGES && performance.now() - started < WAIT_LIMIT_MS) {
        context.progress(`${holdfastServer.accepted.length} of ${MESSAGES} accepted (holdfast)`, holdfastServer.accepted.length / MESSAGES);
        await sleep(20);
      }
      const plainError = await plain;
      await sleep(100);
      const inOrder = holdfastServer.accepted.every((seq, i) => seq === i + 1);
      return {
        rows: [
          {
            client: 'net.Socket',
            holdfast: false,
            metrics: {
              requests: MESSAGES,
              successes: plainServer.accepted.length,
              duplicates: 0,
              reconnects: 0,
              lost: MESSAGES - plainServer.accepted.length,
            },
          },
          {
            client: 'holdfast ReconnectingSocket',
            holdfast: true,
            metrics: {
              requests: MESSAGES,
              successes: holdfastServer.accepted.length,
              duplicates: 0,
              reconnects: Math.max(0, socket.stats().connects - 1),
              lost: MESSAGES - holdfastServer.accepted.length,
            },
          },
        ],
        checks: [
          expectEqual('holdfast: messages the service accepted', holdfastServer.accepted.length, MESSAGES),
          { ok: inOrder, text: `holdfast: each accepted once, in order: ${inOrder ? 'yes' : 'no'}` },
        ],
        notes: [
          `The plain socket's writes all returned; it got ${plainError ?? 'no error'} and nothing says which messages arrived.`,
          `holdfast kept every message until the service acknowledged it and resent the unacknowledged ones whole on the next connection, with their sequence numbers (a message cut in half by a reset is sent again whole; ${holdfastServer.repeats} arrived twice and the service ignored the repeat).`,
        ],
      };
    } finally {
      await socket.close();
      await Promise.all(proxies.map((p) => p.close()));
      await Promise.all(servers.map((s) => s.close()));
    }
  },
};

/** What most code does: connect, write every message, log the error. Resolves with the error's code once the socket closed. */
function sendPlain(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let code: string | undefined;
    const socket = connect({ host: '127.0.0.1', port }, () => {
      for (let seq = 1; seq <= MESSAGES; seq++) socket.write(`${message(seq)}\n`);
      socket.end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => (code ??= error.code));
    socket.on('data', () => undefined);
    socket.on('close', () => resolve(code));
  });
}
