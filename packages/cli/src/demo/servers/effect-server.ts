import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { closeServer, listen } from './listen.js';

/**
 * An HTTP API with side effects, the way a payment or order endpoint has
 * them: every request it applies is counted per request id (`x-request-id`),
 * and a request carrying an `Idempotency-Key` it has already applied is
 * answered from memory without being applied again. `plan(arrival, req)`
 * decides, per arriving request, whether its connection is reset (a real TCP
 * RST) before the effect is applied or after it.
 */
export type ArrivalFault = 'none' | 'reset-before-effect' | 'reset-after-effect';

export interface EffectServer {
  readonly port: number;
  /** Effects applied per request id. */
  readonly effects: Map<string, number>;
  /** Requests that arrived, every attempt counted. */
  readonly arrivals: number;
  /** Request ids applied more than once. */
  duplicates(): number;
  close(): Promise<void>;
}

export async function startEffectServer(plan: (arrival: number, req: IncomingMessage) => ArrivalFault): Promise<EffectServer> {
  const effects = new Map<string, number>();
  const answered = new Map<string, string>();
  const sockets = new Set<Socket>();
  let arrivals = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString()));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  function handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const fault = plan(++arrivals, req);
    if (fault === 'reset-before-effect') return void req.socket.resetAndDestroy();
    const id = String(req.headers['x-request-id'] ?? req.url);
    const key = req.headers['idempotency-key'];
    let answer = typeof key === 'string' ? answered.get(key) : undefined;
    if (answer === undefined) {
      effects.set(id, (effects.get(id) ?? 0) + 1);
      answer = JSON.stringify({ applied: id, bytes: body.length });
      if (typeof key === 'string') answered.set(key, answer);
    }
    if (fault === 'reset-after-effect') return void req.socket.resetAndDestroy();
    res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
  }
  const port = await listen(server);
  return {
    port,
    effects,
    get arrivals() {
      return arrivals;
    },
    duplicates: () => [...effects.values()].filter((n) => n > 1).length,
    close: () => closeServer(server, sockets),
  };
}
