import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { closeServer, listen } from './listen.js';

/** An HTTP server that answers every request with 200, counting them. */
export interface OkServer {
  readonly port: number;
  readonly requests: number;
  close(): Promise<void>;
}

export async function startOkServer(): Promise<OkServer> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const port = await listen(server);
  return {
    port,
    get requests() {
      return requests;
    },
    close: () => closeServer(server, sockets),
  };
}
