import { HoldfastError } from './errors.js';
import { TypedEvents, type Listener } from './events.js';
import { formatValue, rule } from './options.js';
import { queueOptionRules, resolveQueueOptions, type OverflowPolicy, type QueueOptions } from './queue-options.js';

/** Why a queue dropped an item: by the overflow policy, for being bigger than `maxBytes`, or by `clear(reason)` (a subset of core's `DropReason`). */
export type QueueDropReason = 'overflow' | 'too-large' | ClearReason;

/** Why the rest of a queue was thrown away: the owner closed, gave up reconnecting, or just cleared it. */
export type ClearReason = 'closed' | 'give-up' | 'cleared';

/** `QueueOptions` (the one queue shape: `maxItems`, `maxBytes`, `overflow`, high-water marks), plus how to measure and name this queue. */
export interface OutboundQueueOptions<T> extends QueueOptions {
  /**
   * Size of one item, a finite number >= 0. Default: `byteLength` of strings
   * (UTF-8), Buffers, typed arrays, DataViews and ArrayBuffers; 1 for anything
   * else, so for plain objects `bytes` counts items.
   */
  readonly sizeOf?: (item: T) => number;
  /** Shown in events and errors, to tell queues apart. Default `'queue'`. */
  readonly name?: string;
  /**
   * Publish the queue's events on `holdfast:drop` and `holdfast:queue`.
   * Default true; an owner that reports the drops as its own events (core's
   * `SendBuffer`, inside net's and ws's sockets) turns it off, so that each
   * drop is published once.
   */
  readonly publish?: boolean;
}

export interface QueueDropEvent<T> {
  readonly event: 'drop';
  readonly name: string;
  readonly item: T;
  readonly reason: QueueDropReason;
  readonly policy: OverflowPolicy;
}

export interface QueueLevelEvent {
  readonly event: 'high-water' | 'drain';
  readonly name: string;
  readonly length: number;
  readonly bytes: number;
}

export interface OutboundQueueEvents<T> {
  /** An item was lost; published on `holdfast:drop`. */
  drop: QueueDropEvent<T>;
  /** The queue reached a high-water mark: producers should pause. Published on `holdfast:queue`. */
  'high-water': QueueLevelEvent;
  /** After `'high-water'`, the queue has emptied: producers may resume. Published on `holdfast:queue`. */
  drain: QueueLevelEvent;
}

export interface OutboundQueueStats {
  readonly length: number;
  readonly bytes: number;
  /** Every `push()` call since construction. */
  readonly pushed: number;
  /** Items taken out with `shift()`. */
  readonly delivered: number;
  /** Pushes refused with `QueueFullError` (policy `'reject'`); the caller kept the item. */
  readonly rejected: number;
  /** Items lost, in total and by reason; each one had a `'drop'` event. */
  readonly dropped: Readonly<Record<QueueDropReason, number>> & { readonly total: number };
}

/**
 * `push()` refused an item under the `'reject'` policy: the queue is full, or
 * the item alone is larger than `maxBytes`. Nothing was sent and the item was
 * not kept: the caller still holds it (`error.item`) and decides.
 */
export class QueueFullError<T = unknown> extends HoldfastError {
  readonly reason: 'overflow' | 'too-large';
  readonly item: T;

  constructor(name: string, reason: 'overflow' | 'too-large', item: T, detail: string) {
    const message =
      reason === 'too-large'
        ? `queue '${name}': the item (${detail}) is larger than maxBytes on its own; it was not queued`
        : `queue '${name}' is full (${detail}); the item was not queued (overflow policy 'reject')`;
    super(message, {
      kind: 'unknown',
      code: 'HOLDFAST_QUEUE_FULL',
      phase: 'connect',
      // An overflow may clear once the connection is back; an oversized item never fits.
      transient: reason === 'overflow',
      hint:
        reason === 'too-large'
          ? 'split the item or raise maxBytes'
          : 'the connection has been down long enough to fill the queue; wait for drain, raise maxItems/maxBytes, or choose a drop policy',
      message,
    });
    this.reason = reason;
    this.item = item;
  }
}

const CLEAR_REASONS: readonly ClearReason[] = ['closed', 'give-up', 'cleared'];
// Compacting the backing array costs O(length); doing it only when the dead head is this large keeps shift() O(1) amortised.
const COMPACT_AFTER = 1024;

const OUTBOUND_QUEUE_RULES = {
  ...queueOptionRules,
  sizeOf: rule.function('returning a size >= 0'),
  name: rule.string(),
  publish: rule.boolean(),
};

/** The default `sizeOf`: byte length for binary data and strings, 1 for anything else. */
export function defaultSizeOf(item: unknown): number {
  if (typeof item === 'string') return Buffer.byteLength(item);
  if (ArrayBuffer.isView(item) || item instanceof ArrayBuffer) return item.byteLength;
  return 1;
}

interface Entry<T> {
  readonly item: T;
  readonly size: number;
}

// One object for every queue (a long-lived connection owns one).
const QUEUE_CHANNELS = { drop: 'drop', 'high-water': 'queue', drain: 'queue' } as const;

/**
 * What is sent while a connection is down waits here, bounded by count and
 * by size, with an explicit overflow policy. Nothing leaves the queue without
 * a trace: an item is either taken out with `shift()` (delivered), refused by
 * `push()` with a `QueueFullError` (policy `'reject'`, the caller keeps it), or
 * dropped with a `'drop'` event and a counter. So at any moment
 * `pushed = delivered + rejected + dropped.total + length`.
 */
export class OutboundQueue<T> {
  readonly name: string;
  readonly maxItems: number;
  readonly maxBytes: number;
  readonly overflow: OverflowPolicy;
  readonly highWaterMarkBytes: number;
  readonly highWaterMarkItems: number;

  readonly #sizeOf: (item: T) => number;
  readonly #events: TypedEvents<OutboundQueueEvents<T>>;
  // Slots before #head are already taken out (undefined), so shift() does not move the array.
  #entries: (Entry<T> | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  #needsDrain = false;
  #pushed = 0;
  #delivered = 0;
  #rejected = 0;
  readonly #dropped: Record<QueueDropReason, number> = { overflow: 0, 'too-large': 0, closed: 0, 'give-up': 0, cleared: 0 };

  constructor(options: OutboundQueueOptions<T> = {}) {
    const resolved = resolveQueueOptions('OutboundQueue', options, { rules: OUTBOUND_QUEUE_RULES });
    const { sizeOf = defaultSizeOf, name = 'queue', publish = true } = options;
    this.#events = new TypedEvents<OutboundQueueEvents<T>>(publish ? QUEUE_CHANNELS : false);
    this.name = name;
    this.maxItems = resolved.maxItems;
    this.maxBytes = resolved.maxBytes;
    this.overflow = resolved.overflow;
    this.highWaterMarkBytes = resolved.highWaterMarkBytes;
    this.highWaterMarkItems = resolved.highWaterMarkItems;
    this.#sizeOf = sizeOf;
  }

  get length(): number {
    return this.#entries.length - this.#head;
  }

  /** Total size of the items held, as measured by `sizeOf`. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True from `'high-water'` until `'drain'`: a writer should return false from `write()`. */
  get needsDrain(): boolean {
    return this.#needsDrain;
  }

  /**
   * Appends an item. Returns true when the item is now in the queue, false when
   * it was dropped (`'drop-newest'` overflow, or larger than `maxBytes`), each
   * with a `'drop'` event. Under `'drop-oldest'` older items are evicted, each
   * with a `'drop'` event, until the new one fits. Under `'reject'` a full
   * queue or an oversized item throws `QueueFullError` and nothing changes.
   */
  push(item: T): boolean {
    const size = this.#measure(item);
    this.#pushed++;
    if (size > this.maxBytes) return this.#refuse(item, 'too-large', `${size} bytes > ${this.maxBytes}`);
    if (!this.#fits(size)) {
      if (this.overflow === 'reject') return this.#refuse(item, 'overflow', `${this.length} items, ${this.#bytes} bytes`);
      if (this.overflow === 'drop-newest') return this.#refuse(item, 'overflow', '');
      while (!this.#fits(size)) {
        const oldest = this.#removeHead();
        this.#drop(oldest.item, 'overflow');
      }
    }
    this.#entries.push({ item, size });
    this.#bytes += size;
    if (!this.#needsDrain && (this.#bytes >= this.highWaterMarkBytes || this.length >= this.highWaterMarkItems)) {
      this.#needsDrain = true;
      this.#emitLevel('high-water');
    }
    return true;
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.#entries[this.#head]?.item;
  }

  /** Removes and returns the oldest item (counted as delivered). */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const { item } = this.#removeHead();
    this.#delivered++;
    this.#checkDrained();
    return item;
  }

  /**
   * Drops every item still queued, oldest first, each with a `'drop'` event
   * carrying `reason`: what a transport does on `close()` or when it gives up.
   * Returns how many were dropped.
   */
  clear(reason: ClearReason = 'cleared'): number {
    if (!CLEAR_REASONS.includes(reason)) {
      throw new RangeError(`OutboundQueue.clear: reason must be 'closed', 'give-up' or 'cleared', got ${formatValue(reason)}`);
    }
    let count = 0;
    while (this.length > 0) {
      const { item } = this.#removeHead();
      count++;
      this.#drop(item, reason);
    }
    this.#checkDrained();
    return count;
  }

  stats(): OutboundQueueStats {
    const dropped = { ...this.#dropped };
    const total = Object.values(dropped).reduce((sum, n) => sum + n, 0);
    return {
      length: this.length,
      bytes: this.#bytes,
      pushed: this.#pushed,
      delivered: this.#delivered,
      rejected: this.#rejected,
      dropped: { ...dropped, total },
    };
  }

  /** Adds a listener (`drop`, `high-water`, `drain`); returns a function that removes it. */
  on<K extends keyof OutboundQueueEvents<T>>(name: K, listener: Listener<OutboundQueueEvents<T>[K]>): () => void {
    return this.#events.on(name, listener);
  }

  once<K extends keyof OutboundQueueEvents<T>>(name: K, listener: Listener<OutboundQueueEvents<T>[K]>): () => void {
    return this.#events.once(name, listener);
  }

  off<K extends keyof OutboundQueueEvents<T>>(name: K, listener: Listener<OutboundQueueEvents<T>[K]>): void {
    this.#events.off(name, listener);
  }

  #measure(item: T): number {
    const size = this.#sizeOf(item);
    if (typeof size !== 'number' || !(size >= 0) || size === Infinity) {
      throw new TypeError(`OutboundQueue '${this.name}': sizeOf(item) must return a finite number >= 0, got ${formatValue(size)}`);
    }
    return size;
  }

  #fits(size: number): boolean {
    return this.length + 1 <= this.maxItems && this.#bytes + size <= this.maxBytes;
  }

  #refuse(item: T, reason: 'overflow' | 'too-large', detail: string): false {
    if (this.overflow === 'reject') {
      this.#rejected++;
      throw new QueueFullError(this.name, reason, item, detail);
    }
    this.#drop(item, reason);
    return false;
  }

  /** Only called on a non-empty queue. */
  #removeHead(): Entry<T> {
    const entry = this.#entries[this.#head] as Entry<T>;
    // Release the reference at once: a queue of large buffers must not pin them until compaction.
    this.#entries[this.#head] = undefined;
    this.#head++;
    this.#bytes -= entry.size;
    if (this.#head === this.#entries.length) {
      this.#entries = [];
      this.#head = 0;
      // Sizes may be fractional; an empty queue holds exactly zero bytes.
      this.#bytes = 0;
    } else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return entry;
  }

  #drop(item: T, reason: QueueDropReason): void {
    this.#dropped[reason]++;
    this.#events.emit('drop', { event: 'drop', name: this.name, item, reason, policy: this.overflow });
  }

  #checkDrained(): void {
    if (this.#needsDrain && this.length === 0) {
      this.#needsDrain = false;
      this.#emitLevel('drain');
    }
  }

  #emitLevel(event: 'high-water' | 'drain'): void {
    this.#events.emit(event, { event, name: this.name, length: this.length, bytes: this.#bytes });
  }
}
