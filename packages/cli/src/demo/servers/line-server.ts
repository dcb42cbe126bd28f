import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { closeServer, listen } from './listen.js';

/**
 * A TCP service speaking a line protocol with acknowledgements, the shape of
 * many brokers and ledgers: `MSG <seq> <payload>` is accepted when it is the
 * next number, and answered with `ACK <highest accepted>`; `HELLO` is answered
 * with the same ACK, so a client learns where the service is after a
 * reconnect. A number it already has is not accepted twice. A line cut by a
 * reset never ends, so it is never accepted.
 */
export interface LineServer {
  readonly port: number;
  /** Sequence numbers accepted, in order. */
  readonly accepted: number[];
  /** Messages that arrived whole with a number already accepted (resent). */
  readonly repeats: number;
  close(): Promise<void>;
}

export async function startLineServer(): Promise<LineServer> {
  const accepted: number[] = [];
  const sockets = new Set<Socket>();
  let highest = 0;
  let repeats = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        if (line.startsWith('MSG ')) {
          const seq = Number(line.slice(4, line.indexOf(' ', 4)));
          if (seq === highest + 1) accepted.push((highest = seq));
          else if (seq <= highest) repeats++;
        }
        if (!socket.destroyed) socket.write(`ACK ${highest}\n`);
      }
    });
  });
  const port = await listen(server);
  return {
    port,
    accepted,
    get repeats() {
      return repeats;
    },
    close: () => closeServer(server, sockets),
  };
}
