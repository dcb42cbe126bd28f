import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { TypedEvents, type Listener } from '@holdfast/core';
import { checkOptions, rule } from '@holdfast/core/internal';

export type ShutdownState = 'running' | 'draining' | 'closed';

export interface GracefulShutdownOptions {
  /** After this long, connections still open are closed (busy ones destroyed). Default 10 000 ms. */
  readonly timeoutMs?: number;
  /**
   * Signals that start the shutdown; once it is done the signal is raised
   * again (when no other listener handles it), so the process ends as it
   * would have. `[]` for none. Default `['SIGTERM', 'SIGINT']`.
   */
  readonly signals?: readonly NodeJS.Signals[];
  /**
   * Keep serving this long after the shutdown starts, with `readiness`
   * answering 503, so a balancer that polls it stops sending before the
   * listener closes. Default 0.
   */
  readonly readinessDelayMs?: number;
  /** Runs once the server is closed (every connection gone), before `shutdown()` resolves: close pools, flush logs. */
  readonly cleanup?: () => void | Promise<void>;
  /** Shown in events. Default `'http'`. */
  readonly name?: string;
}

export interface GracefulShutdownEvents {
  state: { readonly event: 'state'; readonly name: string; readonly from: ShutdownState; readonly to: ShutdownState };
  /** `timeoutMs` passed with connections still open: they were closed. */
  'force-close': {
    readonly event: 'force-close';
    readonly name: string;
    /** Connections with a request in flight, destroyed (their clients see a reset). */
    readonly busy: number;
    /** Idle connections, ended. */
    readonly idle: number;
  };
  /** The server is closed and `cleanup` ran. */
  closed: {
    readonly event: 'closed';
    readonly name: string;
    readonly durationMs: number;
    /** Requests answered after the shutdown started. */
    readonly answered: number;
    /** Connections closed by the timeout. */
    readonly forced: number;
  };
}

export interface ShutdownStats {
  readonly state: ShutdownState;
  /** Connections open now. */
  readonly connections: number;
  /** Requests whose response has not finished. */
  readonly inFlight: number;
  /** Requests answered after the shutdown started (each with `Connection: close`, when its headers were not out yet). */
  readonly answeredWhileDraining: number;
  /** Connections the timeout closed. */
  readonly forced: number;
}

/**
 * How an idle keep-alive connection is closed during a shutdown. Only
 * `'wait'` is free of the race with the client's next request (see decision
 * 0009); the others are kept to measure that.
 * - `'wait'`: never closed while idle: its next request is answered with
 *   `Connection: close`, or the server's own keep-alive timeout (which
 *   clients were told in `Keep-Alive: timeout=`) or `timeoutMs` closes it.
 * - `'immediate'`: closed when the shutdown starts (`server.close()` in Node 19+, terminus).
 * - `'after-response'`: closed as soon as its response in flight finished.
 */
export type IdleCloseRule = 'wait' | 'immediate' | 'after-response';

interface Connection {
  readonly socket: Socket;
  /** A response on it carried `Connection: close`: Node closes it once that response is done. */
  told: boolean;
}

/** Node's own link from a server socket to the response being written on it (http-terminator reads it too). */
type HttpSocket = Socket & { _httpMessage?: ServerResponse | null };

/** The response in flight on a connection, if one is. */
function currentResponse(socket: Socket): ServerResponse | undefined {
  const res = (socket as HttpSocket)._httpMessage;
  return res === null || res === undefined || res.writableFinished ? undefined : res;
}

const RULES = {
  timeoutMs: rule.timerMs(1),
  signals: {
    test: (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string' && s.startsWith('SIG')),
    accepted: "an array of signal names such as ['SIGTERM']",
  },
  readinessDelayMs: rule.timerMs(0),
  cleanup: rule.function('() => void | Promise<void>'),
  name: rule.string(),
};

/** What `gracefulShutdown()` returns. */
export interface ShutdownHandle {
  readonly name: string;
  /** `running`, then `draining` from the moment the shutdown starts, `closed` once it is done. */
  readonly state: ShutdownState;
  /**
   * Stops accepting connections, answers every request that still arrives on
   * an open connection with `Connection: close`, waits for the requests in
   * flight, and resolves once every connection is closed (or `timeoutMs`
   * closed them) and `cleanup` ran. Calling it again returns the same promise.
   */
  shutdown(): Promise<void>;
  /** The same as `shutdown()`: the contract's name for it. */
  close(): Promise<void>;
  /** A request handler for the readiness probe (bound: pass it as it is): 200 while running, 503 from the moment the shutdown starts. */
  readonly readiness: (req: IncomingMessage, res: ServerResponse) => void;
  stats(): ShutdownStats;
  on<K extends keyof GracefulShutdownEvents>(name: K, listener: Listener<GracefulShutdownEvents[K]>): () => void;
  once<K extends keyof GracefulShutdownEvents>(name: K, listener: Listener<GracefulShutdownEvents[K]>): () => void;
  off<K extends keyof GracefulShutdownEvents>(name: K, listener: Listener<GracefulShutdownEvents[K]>): void;
}

/** Shuts an HTTP server down without resetting a client Node has accepted: see `gracefulShutdown()`. */
class GracefulShutdown implements ShutdownHandle {
  readonly name: string;
  readonly #server: Server;
  readonly #timeoutMs: number;
  readonly #readinessDelayMs: number;
  readonly #cleanup: (() => void | Promise<void>) | undefined;
  readonly #signals: readonly NodeJS.Signals[];
  readonly #idleRule: IdleCloseRule;
  readonly #events = new TypedEvents<GracefulShutdownEvents>({ state: 'express', 'force-close': 'express', closed: 'express' });
  readonly #connections = new Map<Socket, Connection>();
  readonly #connectionEvent: 'connection' | 'secureConnection';
  #state: ShutdownState = 'running';
  #shutdown: Promise<void> | undefined;
  #answered = 0;
  #forced = 0;

  constructor(server: Server, options: GracefulShutdownOptions, idleRule: IdleCloseRule) {
    this.#server = server;
    this.name = options.name ?? 'http';
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#readinessDelayMs = options.readinessDelayMs ?? 0;
    this.#cleanup = options.cleanup;
    this.#signals = options.signals ?? ['SIGTERM', 'SIGINT'];
    this.#idleRule = idleRule;
    // A TLS server's requests run on the TLS socket, which its 'connection' (raw TCP) event does not give.
    this.#connectionEvent = server instanceof tls.Server ? 'secureConnection' : 'connection';
    // Connections are tracked from the start; requests only once the shutdown begins, so serving costs nothing per request.
    server.on(this.#connectionEvent, this.#onConnection);
    for (const signal of this.#signals) process.on(signal, this.#onSignal);
  }

  get state(): ShutdownState {
    return this.#state;
  }

  shutdown(): Promise<void> {
    return (this.#shutdown ??= this.#run());
  }

  close(): Promise<void> {
    return this.shutdown();
  }

  readonly readiness = (_req: IncomingMessage, res: ServerResponse): void => {
    const ready = this.#state === 'running';
    res.statusCode = ready ? 200 : 503;
    res.setHeader('content-type', 'text/plain');
    res.end(ready ? 'ready' : 'shutting down');
  };

  stats(): ShutdownStats {
    return {
      state: this.#state,
      connections: this.#connections.size,
      inFlight: [...this.#connections.keys()].filter((socket) => currentResponse(socket) !== undefined).length,
      answeredWhileDraining: this.#answered,
      forced: this.#forced,
    };
  }

  on<K extends keyof GracefulShutdownEvents>(name: K, listener: Listener<GracefulShutdownEvents[K]>): () => void {
    return this.#events.on(name, listener);
  }

  once<K extends keyof GracefulShutdownEvents>(name: K, listener: Listener<GracefulShutdownEvents[K]>): () => void {
    return this.#events.once(name, listener);
  }

  off<K extends keyof GracefulShutdownEvents>(name: K, listener: Listener<GracefulShutdownEvents[K]>): void {
    this.#events.off(name, listener);
  }

  async #run(): Promise<void> {
    const started = performance.now();
    this.#setState('draining');
    // First, so a response the app sends synchronously can still get `Connection: close`.
    this.#server.prependListener('request', this.#onRequest);
    if (this.#readinessDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#readinessDelayMs));
    const closed = this.#stopListening();
    for (const connection of this.#connections.values()) this.#drain(connection);
    const timer = setTimeout(() => this.#force(), this.#timeoutMs);
    try {
      await closed;
    } finally {
      clearTimeout(timer);
      this.#server.off(this.#connectionEvent, this.#onConnection);
      this.#server.off('request', this.#onRequest);
    }
    try {
      await this.#cleanup?.();
    } finally {
      this.#setState('closed');
      this.#events.emit('closed', {
        event: 'closed',
        name: this.name,
        durationMs: Math.round(performance.now() - started),
        answered: this.#answered,
        forced: this.#forced,
      });
      this.#events.clear();
      this.#releaseSignals();
    }
  }

  /**
   * `server.close()` without the `closeIdleConnections()` Node 19+ runs
   * first: an idle keep-alive connection may carry the client's next request
   * at this very moment, and closing it resets that request.
   */
  #stopListening(): Promise<void> {
    const server = this.#server;
    return new Promise<void>((resolve) => {
      if (this.#idleRule !== 'immediate') {
        Object.defineProperty(server, 'closeIdleConnections', { value: () => undefined, configurable: true, writable: true });
      }
      try {
        // The callback's error (ERR_SERVER_NOT_RUNNING: closed already) changes nothing: resolve once the connections are gone.
        server.close(() => resolve());
      } finally {
        if (this.#idleRule !== 'immediate') delete (server as { closeIdleConnections?: unknown }).closeIdleConnections;
      }
    });
  }

  #drain(connection: Connection): void {
    const res = currentResponse(connection.socket);
    if (res !== undefined) {
      this.#tell(connection, res);
      res.once('close', () => this.#responseDone(connection));
      return;
    }
    if (this.#idleRule === 'immediate' || this.#idleRule === 'after-response' || connection.told) connection.socket.end();
  }

  #tell(connection: Connection, res: ServerResponse): void {
    if (res.headersSent) return;
    res.setHeader('connection', 'close');
    connection.told = true;
  }

  #force(): void {
    let busy = 0;
    let idle = 0;
    for (const connection of this.#connections.values()) {
      if (currentResponse(connection.socket) !== undefined) {
        busy++;
        connection.socket.destroy();
      } else {
        idle++;
        connection.socket.end();
        // A client that never reads its side leaves the socket half-closed; it must not outlive the shutdown.
        connection.socket.setTimeout(1_000, () => connection.socket.destroy());
      }
    }
    this.#forced += busy + idle;
    this.#events.emit('force-close', { event: 'force-close', name: this.name, busy, idle });
  }

  #setState(to: ShutdownState): void {
    const from = this.#state;
    this.#state = to;
    this.#events.emit('state', { event: 'state', name: this.name, from, to });
  }

  #track(socket: Socket): Connection {
    let connection = this.#connections.get(socket);
    if (connection === undefined) {
      connection = { socket, told: false };
      this.#connections.set(socket, connection);
      socket.once('close', () => this.#connections.delete(socket));
    }
    return connection;
  }

  readonly #onConnection = (socket: Socket): void => {
    this.#track(socket);
  };

  /** While draining: every request is answered with `Connection: close`. */
  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const connection = this.#track(req.socket);
    this.#tell(connection, res);
    res.once('close', () => this.#responseDone(connection));
  };

  #responseDone(connection: Connection): void {
    this.#answered++;
    if (!connection.told && this.#idleRule === 'after-response' && currentResponse(connection.socket) === undefined) connection.socket.end();
  }

  readonly #onSignal = (signal: NodeJS.Signals): void => {
    const reraise = (): void => {
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    this.shutdown().then(reraise, (error: unknown) => {
      // Nobody awaits a shutdown a signal started: a failing cleanup becomes a warning, not an unhandled rejection.
      const detail = error instanceof Error ? error : new Error(String(error));
      process.emitWarning(`gracefulShutdown '${this.name}' on ${signal}: ${detail.message}`, { type: 'HoldfastWarning', detail: detail.stack ?? '' });
      reraise();
    });
  };

  #releaseSignals(): void {
    for (const signal of this.#signals) process.off(signal, this.#onSignal);
  }
}

/**
 * A shutdown handle for `server` (call it before the server accepts
 * connections): `await handle.shutdown()` (also run on `signals`) stops
 * accepting, answers requests still arriving on open keep-alive connections
 * with `Connection: close`, lets each connection close once its client was
 * told so, waits for requests in flight and closes what is left after
 * `timeoutMs`. An idle connection is not closed under its client (that
 * races the client's next request: see decision 0009). `handle.readiness`
 * answers 503 from the moment the shutdown starts.
 */
export function gracefulShutdown(server: Server, options: GracefulShutdownOptions = {}): ShutdownHandle {
  return createShutdownHandle(server, options, 'wait');
}

/** @internal The idle-close rules measured for decision 0009 (the benchmark uses this). */
export function createShutdownHandle(server: Server, options: GracefulShutdownOptions, idleRule: IdleCloseRule): ShutdownHandle {
  if (typeof (server as Partial<Server> | null)?.close !== 'function' || typeof (server as Partial<Server>).prependListener !== 'function') {
    throw new TypeError('gracefulShutdown: the first argument must be a node:http or node:https server (app.listen() returns one)');
  }
  checkOptions('gracefulShutdown', options, RULES);
  return new GracefulShutdown(server, options, idleRule);
}
