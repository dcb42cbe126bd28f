import http from 'node:http';
import { Client } from 'undici';

/** What the clients saw during a shutdown round. */
export interface LoadResult {
  /** Responses received. */
  answered: number;
  /** ECONNRESET on a request. */
  resets: number;
  /** `socket hang up` / the connection closed before a response (undici `UND_ERR_SOCKET` with no reset code). */
  hangUps: number;
  /** ECONNREFUSED: the server had stopped listening; nothing reached it. The client stops. */
  refused: number;
  /** Any other error, by code. */
  other: Record<string, number>;
  /** The `x-id` of every request answered. */
  answeredIds: Set<string>;
  /** Clients that have had at least one answer (their connection is open and accepted). */
  clientsAnswered: Set<number>;
}

export type ClientKind = 'undici' | 'node:http';

export interface Load {
  readonly result: LoadResult;
  /** Resolves once every client stopped (refused, or `stop()`). */
  readonly finished: Promise<void>;
  stop(): void;
}

const codeOf = (error: unknown): string => {
  const e = error as { code?: string; cause?: { code?: string }; message?: string };
  return e.cause?.code ?? e.code ?? e.message ?? 'UNKNOWN';
};

/**
 * `clients` keep-alive clients, each sending GET /work back to back on its
 * own connection until the server refuses a new connection (it stopped
 * listening) or `stop()`. A client that gets an error other than a refusal
 * counts it and goes on with a new connection.
 */
export function startLoad(url: string, kind: ClientKind, clients = 50): Load {
  const result: LoadResult = { answered: 0, resets: 0, hangUps: 0, refused: 0, other: {}, answeredIds: new Set(), clientsAnswered: new Set() };
  let stopped = false;
  const count = (error: unknown): 'stop' | 'go-on' => {
    const code = codeOf(error);
    if (code === 'ECONNREFUSED') {
      result.refused++;
      return 'stop';
    }
    if (code === 'ECONNRESET') result.resets++;
    else if (code === 'UND_ERR_SOCKET' || code === 'socket hang up' || code === 'ECONNABORTED') result.hangUps++;
    else result.other[code] = (result.other[code] ?? 0) + 1;
    return 'go-on';
  };
  const runUndici = async (n: number): Promise<void> => {
    const client = new Client(url, { pipelining: 1, keepAliveTimeout: 60_000 });
    try {
      for (let seq = 0; !stopped; seq++) {
        const id = `${n}-${seq}`;
        try {
          const res = await client.request({ path: '/work', method: 'GET', headers: { 'x-id': id } });
          await res.body.text();
          result.answered++;
          result.answeredIds.add(id);
          result.clientsAnswered.add(n);
        } catch (error) {
          if (count(error) === 'stop') break;
        }
      }
    } finally {
      await client.destroy();
    }
  };
  const runNode = async (n: number): Promise<void> => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let seq = 0; !stopped; seq++) {
        const id = `${n}-${seq}`;
        const outcome = await new Promise<'ok' | 'stop' | 'go-on'>((resolve) => {
          const req = http.get(`${url}/work`, { agent, headers: { 'x-id': id } }, (res) => {
            res.resume();
            res.on('end', () => {
              result.answered++;
              result.answeredIds.add(id);
              result.clientsAnswered.add(n);
              resolve('ok');
            });
            res.on('error', (error) => resolve(count(error)));
          });
          req.on('error', (error) => resolve(count(error)));
        });
        if (outcome === 'stop') break;
      }
    } finally {
      agent.destroy();
    }
  };
  const run = kind === 'undici' ? runUndici : runNode;
  const finished = Promise.all(Array.from({ length: clients }, (_, n) => run(n))).then(() => undefined);
  return {
    result,
    finished,
    stop: () => {
      stopped = true;
    },
  };
}
