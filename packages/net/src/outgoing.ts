import type { Payload } from './framing.js';

/** A message on its way out, once it has to wait (in the queue or the resend window). */
export interface Outgoing {
  /** What the application passed to `write()` / `send()`. */
  readonly message: Payload;
  /** Its bytes on the wire, framing included. */
  readonly frame: string | Buffer;
  /** `frame`'s size in bytes. */
  readonly size: number;
  /** Its sequence number, when `confirm` is configured; 0 otherwise. */
  readonly seq: number;
}
