import net from 'node:net';
import type { Server, Socket } from 'node:net';
import { ProxiedConnection } from './connection.js';
import type { ConnectionContext } from './connection.js';
import type { ChaosConnectionInfo, ChaosProxyEvents } from './events.js';
import type { Listener } from './listeners.js';
import { Listeners } from './listeners.js';
import { describeValue, invalidOption } from './option-error.js';
import type { ChaosProxyOptions, ResolvedProxyOptions } from './options.js';
import { resolveProxyOptions } from './options.js';
import { resetSocket } from './reset-socket.js';
import type { ChaosProxyStats } from './stats.js';
import { createStatsCounters, snapshotStats } from './stats.js';
import type { Toxic, ToxicOptions } from './toxic.js';
import { normalizeToxic } from './toxic.js';

export interface DisableOptions {
  /**
   * How new connections fail while disabled. `refuse` (default): the proxy
   * stops listening, so clients get a real ECONNREFUSED. `reset`: the proxy
   * keeps listening and resets every new connection right after accepting it.
   */
  readonly mode?: 'refuse' | 'reset';
  /** What happens to connections already open: `close` (FIN, default, as Toxiproxy does) or `reset` (RST). */
  readonly existing?: 'close' | 'reset';
}

/** How new connections are met: proxied, refused (not listening), or accepted and reset. */
type AcceptMode = 'proxy' | 'refuse' | 'reject';

/**
 * Starts a fault-injecting TCP proxy in this process and resolves once it
 * listens. Invalid options reject with a RangeError naming the option.
 */
export async function createChaosProxy(options: ChaosProxyOptions): Promise<ChaosProxy> {
  const proxy = new ChaosProxy(resolveProxyOptions(options));
  await proxy.start();
  return proxy;
}

/**
 * A TCP proxy between a client under test and its upstream that breaks the
 * connections it carries on demand, with Toxiproxy's toxics and real TCP
 * resets. Create it with `createChaosProxy()`.
 */
export class ChaosProxy {
  readonly #options: ResolvedProxyOptions;
  #server: Server | undefined;
  #host: string;
  #port: number;
  #mode: AcceptMode = 'proxy';
  #closed = false;
  readonly #toxics = new Map<string, Toxic>();
  readonly #connections = new Map<number, ProxiedConnection>();
  readonly #rejected = new Set<Socket>();
  readonly #stats = createStatsCounters();
  readonly #events = new Listeners<ChaosProxyEvents>();
  readonly #context: ConnectionContext;
  #nextId = 1;
  // disable(), enable() and close() change what is listening; one at a time, in call order.
  #transitions: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;

  /** @internal use createChaosProxy() */
  constructor(options: ResolvedProxyOptions) {
    this.#options = options;
    this.#host = options.host;
    this.#port = options.port;
    for (const toxic of options.toxics) this.#toxics.set(toxic.name, Object.freeze(toxic));
    this.#context = {
      upstream: options.upstream,
      stats: this.#stats,
      env: { random: options.random },
      emit: (name, payload) => this.#events.emit(name, payload),
      closed: (connection) => this.#connections.delete(connection.id),
    };
  }

  /** @internal */
  async start(): Promise<void> {
    await this.#listen('createChaosProxy');
  }

  /** The address the proxy listens on, e.g. `'127.0.0.1'` or `'::1'`. */
  get host(): string {
    return this.#host;
  }

  /** The port the proxy listens on (the one picked when `port` was 0); it stays the same across disable/enable. */
  get port(): number {
    return this.#port;
  }

  /** `host:port`, with IPv6 hosts in brackets: what `net.connect` users and `'host:port'` options take. */
  get address(): string {
    return `${this.#host.includes(':') ? `[${this.#host}]` : this.#host}:${this.#port}`;
  }

  /** Where connections are forwarded. */
  get upstream(): { readonly host: string; readonly port: number } {
    return { ...this.#options.upstream };
  }

  /** False while disabled and after close(). */
  get enabled(): boolean {
    return !this.#closed && this.#mode === 'proxy';
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A URL pointing at the proxy, e.g. `url()` -> `'http://127.0.0.1:40123'`, `url('ws')`. */
  url(protocol = 'http'): string {
    return `${protocol.replace(/:?(\/\/)?$/, '')}://${this.address}`;
  }

  /**
   * Adds a toxic and returns its name. It applies to new connections and,
   * with the same toxicity, to every connection already open.
   */
  addToxic(options: ToxicOptions): string {
    this.#assertOpen('addToxic');
    const toxic = Object.freeze(normalizeToxic(options));
    if (this.#toxics.has(toxic.name)) {
      throw new RangeError(`addToxic: a toxic named '${toxic.name}' already exists; remove it first or pass another 'name'`);
    }
    this.#toxics.set(toxic.name, toxic);
    for (const connection of this.#connections.values()) connection.applyToxic(toxic);
    return toxic.name;
  }

  /** Removes a toxic from the proxy and from every open connection; data it held is passed on, not lost. */
  removeToxic(name: string): void {
    if (!this.#toxics.delete(name)) {
      const known = [...this.#toxics.keys()];
      throw new RangeError(`removeToxic: no toxic named ${describeValue(name)} (toxics: ${known.length > 0 ? known.join(', ') : 'none'})`);
    }
    for (const connection of this.#connections.values()) connection.removeToxic(name);
  }

  /** Removes every toxic (Toxiproxy's reset, without the enable). */
  clearToxics(): void {
    for (const name of [...this.#toxics.keys()]) this.removeToxic(name);
  }

  /** The toxics in place, in the order they apply. */
  toxics(): Toxic[] {
    return [...this.#toxics.values()];
  }

  /** Open connections, oldest first. */
  connections(): ChaosConnectionInfo[] {
    return [...this.#connections.values()].map((c) => c.info());
  }

  /** Resets one connection (both sides get a RST). Returns false when no such connection is open. */
  resetConnection(id: number): boolean {
    return this.#connections.get(id)?.reset('resetConnection') ?? false;
  }

  /** Resets every open connection; returns how many. The proxy keeps accepting new ones. */
  resetAll(): number {
    let count = 0;
    for (const connection of [...this.#connections.values()]) if (connection.reset('resetConnection')) count++;
    return count;
  }

  stats(): ChaosProxyStats {
    return snapshotStats(this.#stats);
  }

  on<K extends keyof ChaosProxyEvents>(name: K, listener: Listener<ChaosProxyEvents[K]>): () => void {
    return this.#events.on(name, listener);
  }

  off<K extends keyof ChaosProxyEvents>(name: K, listener: Listener<ChaosProxyEvents[K]>): void {
    this.#events.off(name, listener);
  }

  /**
   * Takes the upstream "down": open connections are cut and new ones fail
   * (see DisableOptions). Resolves once the cut connections are closed and,
   * in `refuse` mode, nothing listens on the port any more.
   */
  disable(options: DisableOptions = {}): Promise<void> {
    return this.#transition('disable', async () => {
      // Checked at run time too: callers from JavaScript are not held by the types.
      const mode: unknown = options.mode ?? 'refuse';
      const existing: unknown = options.existing ?? 'close';
      if (mode !== 'refuse' && mode !== 'reset') {
        throw invalidOption('disable', 'mode', "'refuse' (ECONNREFUSED) or 'reset' (accept, then RST)", mode);
      }
      if (existing !== 'close' && existing !== 'reset') {
        throw invalidOption('disable', 'existing', "'close' (FIN) or 'reset' (RST)", existing);
      }
      this.#mode = mode === 'refuse' ? 'refuse' : 'reject';
      const cut = [...this.#connections.values()];
      for (const connection of cut) {
        if (existing === 'reset') connection.reset('disable');
        else connection.close('disable');
      }
      if (mode === 'refuse') await this.#unlisten();
      else if (this.#server === undefined) await this.#listen('disable');
      await Promise.all(cut.map((c) => c.done));
    });
  }

  /** Listens again, on the same address and port. Rejects if another process took the port meanwhile. */
  enable(): Promise<void> {
    return this.#transition('enable', async () => {
      if (this.#server === undefined) await this.#listen('enable');
      this.#mode = 'proxy';
    });
  }

  /** Destroys every socket, stops listening and clears every timer; resolves when all of it is closed. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#closing = this.#transitions.then(async () => {
      const open = [...this.#connections.values()];
      for (const connection of open) connection.destroy();
      for (const socket of this.#rejected) socket.destroy();
      const rejectedClosed = [...this.#rejected].map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
      await Promise.all([this.#unlisten(), ...open.map((c) => c.done), ...rejectedClosed]);
      this.#events.clear();
    });
    return this.#closing;
  }

  #transition(where: string, change: () => Promise<void>): Promise<void> {
    // Checked at call time: a change asked for before close() still runs, and close() waits for it.
    if (this.#closed) return Promise.reject(this.#closedError(where));
    const run = this.#transitions.then(change);
    this.#transitions = run.catch(() => undefined);
    return run;
  }

  #assertOpen(where: string): void {
    if (this.#closed) throw this.#closedError(where);
  }

  #closedError(where: string): Error {
    return new Error(`${where}: the chaos proxy for ${this.address} is closed`);
  }

  #listen(where: string): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true });
    return new Promise<void>((resolve, reject) => {
      const failed = (error: NodeJS.ErrnoException): void => {
        server.close();
        reject(new Error(`${where}: could not listen on ${this.address}: ${error.code ?? error.message}`, { cause: error }));
      };
      server.once('error', failed);
      server.listen({ host: this.#host, port: this.#port }, () => {
        server.off('error', failed);
        // Accept errors (EMFILE…) after listening must not crash the process; the next accept may succeed.
        server.on('error', () => undefined);
        server.on('connection', (socket: Socket) => this.#accept(socket));
        const bound = server.address();
        if (bound !== null && typeof bound === 'object') {
          this.#host = bound.address;
          this.#port = bound.port;
        }
        this.#server = server;
        resolve();
      });
    });
  }

  #unlisten(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    if (!this.#closed && this.#mode === 'proxy') {
      const id = this.#nextId++;
      this.#stats.connections.total++;
      this.#stats.connections.open++;
      const connection = new ProxiedConnection(id, socket, this.#toxics.values(), this.#context);
      this.#connections.set(id, connection);
      this.#events.emit('connection', connection.info());
      return;
    }
    socket.on('error', () => undefined);
    if (!this.#closed && this.#mode === 'reject') {
      this.#stats.connections.rejected++;
      this.#events.emit('fault', { action: 'reject', connectionId: undefined, cause: 'disable' });
      this.#rejected.add(socket);
      socket.once('close', () => this.#rejected.delete(socket));
    }
    resetSocket(socket);
  }
}
