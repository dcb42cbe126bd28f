import type { Toxic } from './toxic.js';

/**
 * How a direction of a connection stops. It travels through the toxics in
 * order, like data, so a close or a reset never overtakes bytes that a toxic
 * earlier in the chain already let through.
 * - `eof`: the sender closed its side (FIN); forwarded as a FIN.
 * - `close`: a toxic closes the whole connection (both sides get a FIN).
 * - `reset`: a toxic resets the whole connection (both sides get a RST),
 *   `delayMs` after the bytes before it were handed to the kernel.
 */
export type EndSignal =
  | { readonly kind: 'eof' }
  | { readonly kind: 'close'; readonly cause: string }
  | { readonly kind: 'reset'; readonly cause: string; readonly delayMs: number };

/** Where a stage sends what it lets through: the next toxic, or the destination socket. */
export interface StageOutlet {
  push(chunk: Buffer): void;
  end(signal: EndSignal): void;
  /** Bytes a toxic discarded on purpose; counted and reported, never silent. */
  drop(bytes: number, cause: string): void;
}

/** One toxic applied to one direction of one connection. */
export interface ToxicStage {
  readonly toxic: Toxic;
  push(chunk: Buffer): void;
  end(signal: EndSignal): void;
  /** The toxic was removed: pass on at once whatever it holds, then stand aside. */
  remove(): void;
  /** The connection is gone: stop every timer, hold nothing. */
  dispose(): void;
}

/** What stages need from outside, injectable so randomness can be made deterministic. */
export interface StageEnvironment {
  /** Uniform in [0, 1), like Math.random. */
  readonly random: () => number;
}
