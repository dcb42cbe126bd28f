import { once } from 'node:events';
import http from 'node:http';
import express from 'express';
import { idempotency, type IdempotencyOptions } from '../../src/index.js';

/**
 * An Express app whose POST /orders has an effect: it counts each order id
 * (from the JSON body) in `effects`, a map the instances of a fleet share
 * like a database. Every response says `Connection: close`, so each request
 * takes a new connection: a fault drawn per connection is drawn per request,
 * and behind a round-robin balancer a retry lands on the next instance.
 */
export interface EffectApp {
  readonly port: number;
  readonly server: http.Server;
  /** Replays this instance served. */
  readonly replays: number;
  /** The idempotency outcomes this instance reported, counted. */
  readonly outcomes: Map<string, number>;
  close(): Promise<void>;
}

export async function startEffectApp(effects: Map<string, number>, options: IdempotencyOptions): Promise<EffectApp> {
  const app = express();
  const outcomes = new Map<string, number>();
  const middleware = idempotency(options);
  middleware.events.on('idempotency', (e) => outcomes.set(e.outcome, (outcomes.get(e.outcome) ?? 0) + 1));
  app.use((_req, res, next) => {
    res.setHeader('connection', 'close');
    next();
  });
  app.use(express.json());
  app.use(middleware);
  app.post('/orders', (req, res) => {
    const id = String((req.body as { id: unknown }).id);
    effects.set(id, (effects.get(id) ?? 0) + 1);
    res.status(201).json({ order: id, effect: effects.get(id) });
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    server,
    get replays() {
      return outcomes.get('replayed') ?? 0;
    },
    outcomes,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Sends `count` POST /orders (ids 0..count-1) with `concurrency` in flight; returns how many got a 201. */
export async function postOrders(
  send: (id: number) => Promise<{ statusCode: number; body: { text(): Promise<string> } }>,
  count: number,
  concurrency: number,
): Promise<{ created: number; failures: unknown[] }> {
  let next = 0;
  let created = 0;
  const failures: unknown[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const id = next++;
        try {
          const res = await send(id);
          const text = await res.body.text();
          if (res.statusCode === 201 && (JSON.parse(text) as { order: string }).order === String(id)) created++;
          else failures.push(`${id}: ${res.statusCode} ${text}`);
        } catch (error) {
          failures.push(error);
        }
      }
    }),
  );
  return { created, failures };
}
