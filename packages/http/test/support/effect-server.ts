import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A server with side effects: every request it applies is counted per
 * request id (`x-request-id`), and a request carrying an `Idempotency-Key`
 * it has already applied is answered from memory without being applied
 * again, as a real idempotent API does. `fault(req, n)` picks, per arrival,
 * whether the connection is reset before or after the effect.
 */
export type Fault = 'none' | 'reset-before-effect' | 'reset-after-effect' | { status: number; headers?: Record<string, string> };

export interface EffectServer {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Effects applied per request id. */
  readonly effects: Map<string, number>;
  /** Requests that arrived (any outcome). */
  arrivals: number;
  /** Idempotency keys seen on arrival, in order. */
  readonly keys: string[];
  close(): Promise<void>;
}

export async function startEffectServer(
  fault: (req: IncomingMessage, arrival: number) => Fault = () => 'none',
  host = '127.0.0.1',
): Promise<EffectServer> {
  const effects = new Map<string, number>();
  const done = new Map<string, string>();
  const keys: string[] = [];
  const state = { arrivals: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString()));
  });
  function handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const arrival = ++state.arrivals;
    const key = req.headers['idempotency-key'];
    if (typeof key === 'string') keys.push(key);
    const f = fault(req, arrival);
    if (f === 'reset-before-effect') {
      req.socket.resetAndDestroy();
      return;
    }
    if (typeof f === 'object') {
      res.writeHead(f.status, f.headers).end(`status ${f.status}`);
      return;
    }
    const id = String(req.headers['x-request-id'] ?? req.url);
    let answer = typeof key === 'string' ? done.get(key) : undefined;
    if (answer === undefined) {
      effects.set(id, (effects.get(id) ?? 0) + 1);
      answer = `applied ${id} ${body}`;
      if (typeof key === 'string') done.set(key, answer);
    }
    if (f === 'reset-after-effect') {
      req.socket.resetAndDestroy();
      return;
    }
    res.end(answer);
  }
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    port,
    server,
    effects,
    keys,
    get arrivals() {
      return state.arrivals;
    },
    set arrivals(v: number) {
      state.arrivals = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Sum of effects over all ids, and how many ids were applied more than once. */
export function effectTotals(effects: Map<string, number>): { total: number; duplicated: number } {
  let total = 0;
  let duplicated = 0;
  for (const n of effects.values()) {
    total += n;
    if (n > 1) duplicated++;
  }
  return { total, duplicated };
}
