import type WebSocket from 'ws';
import type { Unconfirmed } from '@holdfast/core';
import type { Heartbeat, HeartbeatHooks } from '@holdfast/core/internal';
import type { SendData } from './options.js';

/** A ping still unanswered: what had been sent when it went out. */
interface Ping {
  readonly id: number;
  readonly messages: number;
  readonly bytes: number;
}

const NO_PINGS: readonly Ping[] = [];

/** Bytes of a message's payload (UTF-8 for text). */
export function payloadBytes(data: SendData): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
}

/**
 * One socket and what is known about it: what was sent on it, what a pong
 * confirmed, its heartbeat, its first error. It is also its heartbeat's
 * hooks, and the socket's listeners are shared functions that find it
 * through the socket, so an idle connection costs no closure per listener.
 *
 * A pong is the proof of delivery: the peer's WebSocket answers a ping only
 * after reading everything sent before it, so each ping remembers the counts
 * at the moment it went out and its pong confirms exactly those.
 */
export class Connection<Owner> implements HeartbeatHooks {
  sent = 0;
  sentBytes = 0;
  confirmed = 0;
  confirmedBytes = 0;
  heartbeat: Heartbeat | undefined = undefined;
  lastError: Error | undefined = undefined;
  heartbeatTimedOut = false;
  #pingId = 0;
  // Pings still unanswered, oldest first: a late pong confirms only what was sent before *its* ping.
  #unanswered: readonly Ping[] | Ping[] = NO_PINGS;

  constructor(
    readonly owner: Owner,
    readonly socket: WebSocket,
    readonly url: string,
  ) {}

  /** Counts a message handed to the socket. */
  count(data: SendData): void {
    this.sent++;
    this.sentBytes += payloadBytes(data);
  }

  /** Sent on this connection and not (yet) confirmed by a pong. */
  unconfirmed(): Unconfirmed {
    return { messages: this.sent - this.confirmed, bytes: this.sentBytes - this.confirmedBytes };
  }

  // HeartbeatHooks: called by the heartbeat as methods of this connection.
  ping(): void {
    if (this.socket.readyState !== 1) return;
    const id = ++this.#pingId;
    const ping = { id, messages: this.sent, bytes: this.sentBytes };
    if (this.#unanswered === NO_PINGS) this.#unanswered = [ping];
    else (this.#unanswered as Ping[]).push(ping);
    this.socket.ping(String(id));
  }

  dead(): void {
    this.heartbeatTimedOut = true;
    this.socket.terminate();
  }

  awaitingConfirmation(): boolean {
    return this.sent > this.confirmed;
  }

  /** A pong: proof of life, and of delivery of what was sent before its ping. */
  pong(payload: Buffer): void {
    const id = Number(payload.toString('latin1'));
    const unanswered = this.#unanswered;
    const index = unanswered.findIndex((ping) => ping.id === id);
    // A pong we did not ask for (RFC 6455 allows unsolicited ones) proves life, not delivery.
    if (index === -1) {
      this.heartbeat?.heard();
      return;
    }
    const ping = unanswered[index] as Ping;
    // Emptied, the shared empty list: an array keeps the capacity its first push gave it for the socket's whole life.
    this.#unanswered = index + 1 === unanswered.length ? NO_PINGS : unanswered.slice(index + 1);
    if (ping.messages > this.confirmed) {
      this.confirmed = ping.messages;
      this.confirmedBytes = ping.bytes;
    }
    this.heartbeat?.answered();
  }
}
