import type WebSocket from 'ws';

/**
 * Detects a connection that is open on our side but dead on the way (a peer
 * that vanished without a FIN or RST, a NAT or proxy that silently stopped
 * forwarding): TCP would notice only after minutes of retransmissions, or
 * never while we only read. One timer per connection: after `intervalMs` a
 * ping goes out; a pong within `timeoutMs` re-arms the interval from the
 * moment it arrived, so a stall that starts right after a pong is noticed
 * at most `intervalMs + timeoutMs` later.
 */
export interface HeartbeatOptions {
  /** Time between a proof of life and the next ping. */
  readonly intervalMs: number;
  /** How long a ping may go unanswered before the connection is declared dead. */
  readonly timeoutMs: number;
}

/** Called as methods of the object given, so one object (the connection) can serve without a closure per hook. */
export interface HeartbeatHooks {
  readonly onDead: () => void;
  /** A pong arrived: every message sent before its ping reached the peer's WebSocket. */
  readonly onConfirmed: (sentBeforePing: number) => void;
  readonly sentCount: () => number;
}

export class Heartbeat {
  readonly #socket: WebSocket;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #hooks: HeartbeatHooks;
  #timer: NodeJS.Timeout | undefined;
  #awaitingPong = false;
  #pingId = 0;
  // Pings still unanswered, oldest first: a late pong confirms only what was sent before *its* ping.
  #unanswered: { readonly id: number; readonly sent: number }[] = [];
  // Set by any frame from the peer: a pong stuck behind a long message must not kill a busy connection.
  #heard = false;

  constructor(socket: WebSocket, options: HeartbeatOptions, hooks: HeartbeatHooks) {
    this.#socket = socket;
    this.#intervalMs = options.intervalMs;
    this.#timeoutMs = options.timeoutMs;
    this.#hooks = hooks;
    this.#arm(this.#intervalMs);
  }

  /** A message or a ping from the peer. Kept to one store: it runs for every message. */
  heard(): void {
    this.#heard = true;
  }

  pong(payload: Buffer): void {
    this.#heard = true;
    const id = Number(payload.toString('latin1'));
    const index = this.#unanswered.findIndex((ping) => ping.id === id);
    // A pong we did not ask for (RFC 6455 allows unsolicited ones) proves life, not delivery.
    if (index === -1) return;
    const { sent } = this.#unanswered[index] as { readonly sent: number };
    // Emptied, a fresh array: the old one keeps the capacity its first push gave it for the socket's whole life.
    if (index + 1 === this.#unanswered.length) this.#unanswered = [];
    else this.#unanswered.splice(0, index + 1);
    this.#hooks.onConfirmed(sent);
    if (this.#awaitingPong && this.#unanswered.length === 0) {
      this.#awaitingPong = false;
      this.#arm(this.#intervalMs);
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#awaitingPong = false;
  }

  #arm(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(Heartbeat.#fire, delayMs, this).unref();
  }

  // Shared by every heartbeat (the timer passes it its heartbeat): no closure per arm.
  static #fire(heartbeat: Heartbeat): void {
    heartbeat.#tick();
  }

  #tick(): void {
    if (this.#awaitingPong) {
      this.#awaitingPong = false;
      if (this.#heard) {
        // Frames arrived during the wait, so the peer was alive at most timeoutMs ago: ping again early enough
        // that a stall starting right then is still caught within intervalMs + timeoutMs.
        this.#arm(Math.max(0, this.#intervalMs - this.#timeoutMs));
      } else {
        this.#timer = undefined;
        this.#hooks.onDead();
      }
      return;
    }
    if (this.#socket.readyState !== 1) return;
    this.#heard = false;
    this.#awaitingPong = true;
    const id = ++this.#pingId;
    this.#unanswered.push({ id, sent: this.#hooks.sentCount() });
    this.#socket.ping(String(id));
    this.#arm(this.#timeoutMs);
  }
}
