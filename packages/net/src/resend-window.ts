import type { Outgoing } from './outgoing.js';

/**
 * Messages written to a connection and not yet confirmed by the peer, in the
 * order they were sent. TCP cannot say whether bytes written to a socket that
 * then reset were received, so only the peer's acknowledgement removes a
 * message from here; after a reconnect the rest are sent again, whole and in
 * order, each with its original sequence number so the peer can recognise a
 * repeat.
 */
export class ResendWindow {
  readonly max: number;
  #entries: Outgoing[] = [];
  #head = 0;
  #bytes = 0;
  #confirmedTo = -Infinity;

  constructor(max: number) {
    this.max = max;
  }

  get length(): number {
    return this.#entries.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get full(): boolean {
    return this.length >= this.max;
  }

  /** The highest sequence number the peer confirmed so far. */
  get confirmedTo(): number {
    return this.#confirmedTo;
  }

  add(entry: Outgoing): void {
    this.#entries.push(entry);
    this.#bytes += entry.size;
  }

  /** The peer has everything up to `seq` (cumulative); returns how many messages that confirmed. */
  confirm(seq: number): number {
    if (seq > this.#confirmedTo) this.#confirmedTo = seq;
    let count = 0;
    while (this.#head < this.#entries.length) {
      const entry = this.#entries[this.#head] as Outgoing;
      if (entry.seq > seq) break;
      this.#head++;
      this.#bytes -= entry.size;
      count++;
    }
    if (this.#head === this.#entries.length) {
      this.#entries = [];
      this.#head = 0;
      this.#bytes = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return count;
  }

  /** The unconfirmed messages, oldest first. */
  pending(): Outgoing[] {
    return this.#entries.slice(this.#head);
  }

  /** Empties the window; returns what was in it, oldest first. */
  clear(): Outgoing[] {
    const rest = this.pending();
    this.#entries = [];
    this.#head = 0;
    this.#bytes = 0;
    return rest;
  }
}
