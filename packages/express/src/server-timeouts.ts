import type { Server } from 'node:http';
import { MAX_TIMER_MS, checkOptions, rule } from '@holdfast/core/internal';

export interface ServerTimeoutsOptions {
  /**
   * The idle timeout of whatever keeps connections open to this server: the
   * load balancer (AWS ALB 60 s, GCP 600 s), a reverse proxy (nginx
   * `keepalive_timeout`), a client pool. Default 60 000 ms.
   */
  readonly upstreamIdleTimeoutMs?: number;
  /** How much longer than the upstream the server keeps an idle connection. Default 1 000 ms. */
  readonly marginMs?: number;
  /** Set it yourself instead (must be above `upstreamIdleTimeoutMs`). Default `upstreamIdleTimeoutMs + marginMs`. */
  readonly keepAliveTimeoutMs?: number;
  /** Time to receive a request's headers (must be above `keepAliveTimeoutMs`). Default `keepAliveTimeoutMs + 1 000`. */
  readonly headersTimeoutMs?: number;
  /** Time to receive a whole request; 0 turns it off (must otherwise be at least `headersTimeoutMs`). Default the larger of Node's 300 000 and `headersTimeoutMs`. */
  readonly requestTimeoutMs?: number;
}

export interface ServerTimeouts {
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

const WHERE = 'configureServerTimeouts';
const NODE_REQUEST_TIMEOUT_MS = 300_000;

const RULES = {
  upstreamIdleTimeoutMs: rule.timerMs(1),
  marginMs: rule.timerMs(1),
  keepAliveTimeoutMs: rule.timerMs(1),
  headersTimeoutMs: rule.timerMs(1),
  requestTimeoutMs: rule.timerMs(0),
};

/**
 * Keeps the server from closing keep-alive connections its upstream still
 * means to use: Node closes an idle connection after `keepAliveTimeout` (5 s
 * by default), a balancer keeps its own for 60 s, and a request it sends on a
 * connection the server just closed comes back as a reset (a 502 at the
 * balancer, `ECONNRESET` / `socket hang up` in a Node client). So
 * `keepAliveTimeout` goes above the upstream's idle timeout,
 * `headersTimeout` above `keepAliveTimeout` (the old Node rule whose
 * violation closed idle connections early), `requestTimeout` at least
 * `headersTimeout`. Contradictory values throw a RangeError naming both.
 * Node sends `Keep-Alive: timeout=<s>` with every keep-alive response, so
 * clients that read it (undici, `@holdfast/http`, node:http with an agent
 * `timeout`) retire sockets before the server closes them.
 */
export function configureServerTimeouts(server: Server, options: ServerTimeoutsOptions = {}): ServerTimeouts {
  if (typeof (server as Partial<Server> | null)?.listen !== 'function' || !('keepAliveTimeout' in server)) {
    throw new TypeError(`${WHERE}: the first argument must be a node:http or node:https server (app.listen() returns one)`);
  }
  checkOptions(WHERE, options, RULES);
  const upstream = options.upstreamIdleTimeoutMs ?? 60_000;
  const margin = options.marginMs ?? 1_000;
  const keepAlive = options.keepAliveTimeoutMs ?? upstream + margin;
  if (keepAlive <= upstream) {
    throw new RangeError(
      `${WHERE}: keepAliveTimeoutMs (${keepAlive}) must be above upstreamIdleTimeoutMs (${upstream}), or the server closes connections the upstream still uses`,
    );
  }
  const headers = options.headersTimeoutMs ?? keepAlive + 1_000;
  if (headers <= keepAlive) {
    throw new RangeError(`${WHERE}: headersTimeoutMs (${headers}) must be above keepAliveTimeoutMs (${keepAlive})`);
  }
  const request = options.requestTimeoutMs ?? Math.max(NODE_REQUEST_TIMEOUT_MS, headers);
  if (request !== 0 && request < headers) {
    throw new RangeError(`${WHERE}: requestTimeoutMs (${request}) must be 0 (off) or at least headersTimeoutMs (${headers})`);
  }
  for (const [name, value] of [
    ['keepAliveTimeoutMs', keepAlive],
    ['headersTimeoutMs', headers],
  ] as const) {
    if (value > MAX_TIMER_MS) throw new RangeError(`${WHERE}: ${name} (${value}) is above the longest timer, ${MAX_TIMER_MS} ms`);
  }
  server.keepAliveTimeout = keepAlive;
  server.headersTimeout = headers;
  server.requestTimeout = request;
  return { keepAliveTimeoutMs: keepAlive, headersTimeoutMs: headers, requestTimeoutMs: request };
}
