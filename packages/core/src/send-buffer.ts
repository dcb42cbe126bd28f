import type { DropReason } from './lifecycle-events.js';
import { OutboundQueue } from './queue.js';
import type { ResolvedQueueOptions } from './queue-options.js';

/** Counters of what was dropped, by reason, and in all. */
export type DropCounts = Readonly<Record<DropReason, number>> & { readonly total: number };

const NO_DROPS: Readonly<Record<DropReason, number>> = Object.freeze({
  overflow: 0,
  'too-large': 0,
  'not-connected': 0,
  closed: 0,
  'give-up': 0,
  cleared: 0,
  rejected: 0,
  expired: 0,
});

/** A `DropCounts` of zeros: what `stats().dropped` starts as. */
export function noDrops(): DropCounts {
  return { ...NO_DROPS, total: 0 };
}

/**
 * The send side every reconnecting object shares: what is sent while the
 * connection is down (or while earlier messages still wait) goes to an
 * `OutboundQueue` made on first use, with the queue's bounds and overflow
 * policy (`queue: false`: dropped as `'not-connected'`); every drop is
 * counted by reason and reported once, through `onDrop`, which emits the
 * owner's `'drop'` event (the queue's own events are not published: the
 * owner's are); and the `'drain'` promise of a send that returned false is
 * kept here, so the owner emits `'drain'` exactly when the queue has emptied
 * and its transport has room again.
 *
 * The owner keeps what only it knows: whether it is closed, how to write to
 * its connection, and when the connection's own buffer is full.
 */
export class SendBuffer<T> {
  readonly #name: string;
  readonly #options: ResolvedQueueOptions | false;
  readonly #sizeOf: ((item: T) => number) | undefined;
  readonly #onDrop: (item: T, reason: DropReason) => void;
  #queue: OutboundQueue<T> | undefined;
  #dropped: Record<DropReason, number> | undefined;
  #wantDrain = false;

  /**
   * @param name the owner's name, for the queue's errors (`QueueFullError`).
   * @param options resolved with `resolveQueueOptions()`, or false for no queue.
   * @param onDrop emits the owner's `'drop'` event; called once per dropped item, after it was counted.
   */
  constructor(name: string, options: ResolvedQueueOptions | false, onDrop: (item: T, reason: DropReason) => void, sizeOf?: (item: T) => number) {
    this.#name = name;
    this.#options = options;
    this.#onDrop = onDrop;
    this.#sizeOf = sizeOf;
  }

  /** Items waiting. */
  get length(): number {
    return this.#queue?.length ?? 0;
  }

  /** Their size, as `sizeOf` measures it. */
  get bytes(): number {
    return this.#queue?.bytes ?? 0;
  }

  /**
   * Queues an item. Returns false when the caller should wait for `'drain'`:
   * the item was dropped (with an event), or the queue reached a high-water
   * mark. Under the `'reject'` policy a full queue throws `QueueFullError` and
   * the caller keeps the item.
   */
  push(item: T): boolean {
    const options = this.#options;
    if (options === false) return this.drop(item, 'not-connected');
    const queue = (this.#queue ??= this.#makeQueue(options));
    if (queue.push(item) && !queue.needsDrain) return true;
    this.#wantDrain = true;
    return false;
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.#queue?.peek();
  }

  /** Takes the oldest item out, to be written to the connection. */
  shift(): T | undefined {
    return this.#queue?.shift();
  }

  /** Drops an item the owner will not send (given after `close()`, say): counted, and reported through `onDrop`. Returns false, for `send()` to return. */
  drop(item: T, reason: DropReason): false {
    this.count(reason);
    this.#onDrop(item, reason);
    return false;
  }

  /** Counts a drop the owner reports itself (something that was not in the queue). */
  count(reason: DropReason): void {
    (this.#dropped ??= { ...NO_DROPS })[reason]++;
  }

  /** Drops everything still queued, oldest first, each with an event: on `close()` and on a give-up. */
  clear(reason: 'closed' | 'give-up'): void {
    this.#queue?.clear(reason);
  }

  /** True while a `'drain'` is owed: a send returned false and the owner has not emitted it yet. */
  get owingDrain(): boolean {
    return this.#wantDrain;
  }

  /** A send returned false for a reason of the transport's (its own buffer is full): `'drain'` is owed. */
  owesDrain(): void {
    this.#wantDrain = true;
  }

  /**
   * True once when the owner should emit `'drain'`: one is owed, nothing is
   * queued, and the transport's own buffer has room (`transportFull` false).
   */
  drainDue(transportFull: boolean): boolean {
    if (!this.#wantDrain || transportFull || this.length > 0) return false;
    this.#wantDrain = false;
    return true;
  }

  /** Drops by reason, and in all. */
  dropped(): DropCounts {
    const dropped = this.#dropped;
    if (dropped === undefined) return noDrops();
    let total = 0;
    for (const n of Object.values(dropped)) total += n;
    return { ...dropped, total };
  }

  #makeQueue(options: ResolvedQueueOptions): OutboundQueue<T> {
    const queue = new OutboundQueue<T>({
      ...options,
      name: this.#name,
      publish: false,
      ...(this.#sizeOf === undefined ? {} : { sizeOf: this.#sizeOf }),
    });
    queue.on('drop', ({ item, reason }) => this.drop(item, reason));
    return queue;
  }
}
