import type { ChaosProxy } from '@holdfast/chaos';

/**
 * One long-lived holdfast object, as the contract suite drives it. Adding an
 * object to the suite is one entry in `subjects.ts`: the package says how to
 * start what its object talks to (behind the chaos proxy), how to make the
 * object, and how to use it; the suite checks the contract the same way for
 * every entry.
 */
export interface ContractSubject {
  /** `ReconnectingSocket (@holdfast/net)`. */
  readonly title: string;
  /**
   * `'connection'`: a reconnecting object, which must emit the shared
   * lifecycle (`state`, `open`, `disconnect`, `reconnecting`, `give-up`,
   * `close`…) with the shared payloads. `'client'`: an object that retries
   * requests (an exporter, an HTTP client); its own events follow the rest of
   * the contract.
   */
  readonly kind: 'connection' | 'client';
  /** Every lifecycle event it emits (published on a diagnostics channel). */
  readonly events: readonly string[];
  /**
   * The diagnostics channels its own events are published on, when it also
   * drives something that publishes under its name (a mongoose handle's
   * operations run core's retry loop, whose `give-up` is the operation's, on
   * `holdfast:give-up`). Default: every holdfast channel.
   */
  readonly channels?: readonly string[];
  /** Its received-data event (not published: application data), if it has one. */
  readonly dataEvent?: string;
  /** A misspelt option and the name the error must suggest. */
  readonly misspelt: { readonly key: string; readonly suggests: string };
  /** Starts the peer and a chaos proxy in front of it. */
  start(): Promise<Peer>;
  /** Makes the object, talking to the peer through `peer.proxy`, with `options` added to its own (`name`, a misspelt key…). */
  create(peer: Peer, options: Readonly<Record<string, unknown>>): ContractObject;
  /** Resolves once the object has done its work once (connected, delivered). */
  ready(object: ContractObject, peer: Peer): Promise<void>;
  /** Makes the object use its connection (send something the peer answers). */
  use(object: ContractObject): void;
  /** The fault every subject gets: a real RST from the proxy in the middle of use. Resolves once the object has recovered. */
  fault(object: ContractObject, peer: Peer): Promise<void>;
  /**
   * A rule of the contract this object does not keep yet, and why: the
   * suite then expects that check to fail (`it.fails`), so the entry must be
   * removed the day it passes.
   */
  readonly knownGaps?: { readonly publishOnce?: string; readonly lifecycle?: string };
}

export interface Peer {
  readonly proxy: ChaosProxy;
  stop(): Promise<void>;
}

type AnyListener = (...args: never[]) => void;

/** The contract's face of an object: events, stats and a final close (an exporter's is `shutdown()`). */
export interface ContractObject {
  on(name: string, listener: AnyListener): () => void;
  once(name: string, listener: AnyListener): () => void;
  off(name: string, listener: AnyListener): void;
  close(): Promise<void>;
  stats(): object;
}
