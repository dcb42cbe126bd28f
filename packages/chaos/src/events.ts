import type { ToxicStream } from './toxic.js';

/** One proxied connection, as `connections()` and the events show it. */
export interface ChaosConnectionInfo {
  /** Unique on the proxy, counting from 1. */
  readonly id: number;
  /** The client's side of the connection. */
  readonly client: { readonly address: string; readonly port: number };
  /** Epoch milliseconds. */
  readonly openedAt: number;
  /** Bytes forwarded so far: `upstream` client -> server, `downstream` server -> client. */
  readonly bytes: { readonly upstream: number; readonly downstream: number };
  /** Toxics acting on each direction of this connection (toxicity decided per connection). */
  readonly toxics: { readonly upstream: readonly string[]; readonly downstream: readonly string[] };
}

/**
 * Something the proxy did to a connection on purpose:
 * - `reset`: both sides got a TCP RST
 * - `close`: both sides got a FIN (timeout, limit_data)
 * - `drop`: bytes were discarded (timeout, reset_peer, limit_data, or still held when the connection ended)
 * - `reject`: a connection arrived while the proxy was disabled in `reset` mode and was reset at once
 */
export interface ChaosFaultEvent {
  readonly action: 'reset' | 'close' | 'drop' | 'reject';
  /** Undefined for `reject` (the connection never got an id). */
  readonly connectionId: number | undefined;
  /** The toxic's name, or what else caused it: `resetConnection`, `disable`, `client error`, `upstream error`, `connection ended`. */
  readonly cause: string;
  /** For `drop`: the direction the bytes were travelling. */
  readonly stream?: ToxicStream;
  /** For `drop`. */
  readonly bytes?: number;
}

/** A socket error the proxy absorbed (it never escapes as an 'error' event). */
export interface ChaosSocketErrorEvent {
  readonly connectionId: number;
  readonly side: 'client' | 'upstream';
  /** `ECONNREFUSED`, `ECONNRESET`, `EPIPE`…; `UNKNOWN` when the error had none. */
  readonly code: string;
  readonly message: string;
}

export interface ChaosProxyEvents {
  /** A client connected and the proxy started dialing the upstream. */
  connection: ChaosConnectionInfo;
  /** Both sockets of a connection are closed. */
  'connection-closed': ChaosConnectionInfo;
  fault: ChaosFaultEvent;
  'socket-error': ChaosSocketErrorEvent;
}
