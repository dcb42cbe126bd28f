import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { HoldfastError, OutboundQueue, QueueFullError, type OverflowPolicy, type OutboundQueueOptions, type QueueDropEvent } from '@holdfast/core';
import { defaultSizeOf } from '../src/queue.js';

function recorded<T>(options: OutboundQueueOptions<T>) {
  const queue = new OutboundQueue<T>(options);
  const drops: QueueDropEvent<T>[] = [];
  const levels: string[] = [];
  queue.on('drop', (e) => drops.push(e));
  queue.on('high-water', (e) => levels.push(`high-water@${e.length}/${e.bytes}`));
  queue.on('drain', (e) => levels.push(`drain@${e.length}/${e.bytes}`));
  return { queue, drops, levels };
}

const drain = <T>(queue: OutboundQueue<T>): T[] => {
  const out: T[] = [];
  while (queue.length > 0) out.push(queue.shift()!);
  return out;
};

describe('OutboundQueue', () => {
  it('drop-oldest evicts from the head when the count bound is reached, one event per item', () => {
    const { queue, drops } = recorded<string>({ maxItems: 3, overflow: 'drop-oldest' });
    for (const item of ['a', 'b', 'c', 'd', 'e']) expect(queue.push(item)).toBe(true);
    expect(drops.map((d) => [d.item, d.reason, d.policy])).toEqual([
      ['a', 'overflow', 'drop-oldest'],
      ['b', 'overflow', 'drop-oldest'],
    ]);
    expect(drain(queue)).toEqual(['c', 'd', 'e']);
    expect(queue.stats()).toMatchObject({ pushed: 5, delivered: 3, rejected: 0, dropped: { overflow: 2, total: 2 } });
  });

  it('drop-oldest evicts as many items as needed for a big item to fit the byte bound', () => {
    const { queue, drops } = recorded<Buffer>({ maxBytes: 10, overflow: 'drop-oldest' });
    const small = [Buffer.alloc(3, 1), Buffer.alloc(3, 2), Buffer.alloc(3, 3)];
    for (const b of small) queue.push(b);
    expect(queue.bytes).toBe(9);
    const big = Buffer.alloc(8, 9);
    expect(queue.push(big)).toBe(true);
    // 9 + 8 > 10: the first two go (3 + 8 = 11 still too much), then the third (8 fits alone).
    expect(drops.map((d) => d.item)).toEqual(small);
    expect(queue.length).toBe(1);
    expect(queue.bytes).toBe(8);
    expect(queue.peek()).toBe(big);
  });

  it('drop-newest keeps what is queued and drops the new item with an event', () => {
    const { queue, drops } = recorded<string>({ maxItems: 2, overflow: 'drop-newest' });
    expect(queue.push('a')).toBe(true);
    expect(queue.push('b')).toBe(true);
    expect(queue.push('c')).toBe(false);
    expect(drops).toEqual([{ event: 'drop', name: 'queue', item: 'c', reason: 'overflow', policy: 'drop-newest' }]);
    expect(drain(queue)).toEqual(['a', 'b']);
  });

  it('drop-newest honours the byte bound too', () => {
    const { queue, drops } = recorded<string>({ maxBytes: 5, overflow: 'drop-newest' });
    expect(queue.push('abc')).toBe(true);
    expect(queue.push('def')).toBe(false);
    expect(queue.push('de')).toBe(true);
    expect(drops.map((d) => d.item)).toEqual(['def']);
    expect(queue.bytes).toBe(5);
  });

  it('reject throws QueueFullError carrying the item, and changes nothing', () => {
    const { queue, drops } = recorded<string>({ maxItems: 1, overflow: 'reject', name: 'ws-send' });
    queue.push('kept');
    let caught: unknown;
    try {
      queue.push('refused');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(QueueFullError);
    expect(caught).toBeInstanceOf(HoldfastError);
    const error = caught as QueueFullError<string>;
    expect(error.item).toBe('refused');
    expect(error.reason).toBe('overflow');
    expect(error.code).toBe('HOLDFAST_QUEUE_FULL');
    expect(error.fault).toMatchObject({ phase: 'connect', transient: true });
    expect(error.message).toContain("queue 'ws-send' is full");
    expect(error.message).not.toContain('refused');
    expect(drops).toEqual([]);
    expect(queue.length).toBe(1);
    expect(queue.stats()).toMatchObject({ pushed: 2, rejected: 1, dropped: { total: 0 } });
  });

  it.each<OverflowPolicy>(['drop-oldest', 'drop-newest'])('%s drops an item larger than maxBytes as too-large, evicting nothing', (overflow) => {
    const { queue, drops } = recorded<string>({ maxBytes: 4, overflow });
    queue.push('ab');
    expect(queue.push('abcde')).toBe(false);
    expect(drops.map((d) => [d.item, d.reason])).toEqual([['abcde', 'too-large']]);
    expect(queue.length).toBe(1);
    expect(queue.stats().dropped['too-large']).toBe(1);
  });

  it('reject refuses an item larger than maxBytes with reason too-large (not transient)', () => {
    const queue = new OutboundQueue<string>({ maxBytes: 4, overflow: 'reject' });
    expect(() => queue.push('abcde')).toThrow(QueueFullError);
    expect(() => queue.push('abcdef')).toThrow(
      expect.objectContaining({ reason: 'too-large', item: 'abcdef', fault: expect.objectContaining({ transient: false }) }),
    );
    expect(() => queue.push('abcdef')).toThrow(/larger than maxBytes/);
    expect(queue.stats()).toMatchObject({ pushed: 3, rejected: 3, length: 0 });
  });

  it.each<OverflowPolicy>(['reject', 'drop-oldest', 'drop-newest'])(
    '%s: every pushed item is delivered, rejected, dropped with an event, or still queued, exactly once',
    (overflow) => {
      const { queue, drops } = recorded<string>({ maxItems: 7, maxBytes: 40, overflow });
      const pushed: string[] = [];
      const delivered: string[] = [];
      const rejected: string[] = [];
      // A deterministic mix of sizes (1..12 bytes, some over maxBytes) and interleaved shifts.
      let seed = 7;
      const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648);
      for (let i = 0; i < 500; i++) {
        const item = `${i}:`.padEnd(1 + (next() % 12), 'x') + (i % 97 === 0 ? 'y'.repeat(50) : '');
        pushed.push(item);
        try {
          queue.push(item);
        } catch (error) {
          rejected.push((error as QueueFullError<string>).item);
        }
        if (next() % 3 === 0 && queue.length > 0) delivered.push(queue.shift()!);
        expect(queue.length).toBeLessThanOrEqual(7);
        expect(queue.bytes).toBeLessThanOrEqual(40);
      }
      const cleared = queue.clear('give-up');
      expect(cleared).toBeGreaterThan(0);
      const dropped = drops.map((d) => d.item);
      expect([...delivered, ...rejected, ...dropped].sort()).toEqual([...pushed].sort());
      const stats = queue.stats();
      expect(stats.pushed).toBe(pushed.length);
      expect(stats.delivered).toBe(delivered.length);
      expect(stats.rejected).toBe(rejected.length);
      expect(stats.dropped.total).toBe(dropped.length);
      expect(stats.dropped['give-up']).toBe(cleared);
      expect(stats.pushed).toBe(stats.delivered + stats.rejected + stats.dropped.total + stats.length);
      expect(stats.length).toBe(0);
      expect(stats.bytes).toBe(0);
      if (overflow === 'reject') expect(stats.dropped.overflow).toBe(0);
      else expect(stats.rejected).toBe(0);
    },
  );

  it('signals backpressure: high-water at the byte mark, drain once emptied, needsDrain in between', () => {
    const { queue, levels } = recorded<string>({ maxBytes: 100, highWaterMarkBytes: 10 });
    queue.push('12345');
    expect(queue.needsDrain).toBe(false);
    queue.push('67890');
    expect(queue.needsDrain).toBe(true);
    queue.push('more');
    expect(levels).toEqual(['high-water@2/10']);
    queue.shift();
    queue.shift();
    expect(queue.needsDrain).toBe(true);
    queue.shift();
    expect(queue.needsDrain).toBe(false);
    expect(levels).toEqual(['high-water@2/10', 'drain@0/0']);
  });

  it('signals backpressure at the item mark, and clear() drains', () => {
    const { queue, levels, drops } = recorded<object>({ highWaterMarkItems: 3 });
    for (let i = 0; i < 4; i++) queue.push({ i });
    expect(levels).toEqual(['high-water@3/3']);
    expect(queue.clear('closed')).toBe(4);
    expect(drops.map((d) => d.reason)).toEqual(['closed', 'closed', 'closed', 'closed']);
    expect(levels).toEqual(['high-water@3/3', 'drain@0/0']);
    expect(queue.clear()).toBe(0);
    expect(levels).toHaveLength(2);
  });

  it('publishes drops on holdfast:drop and levels on holdfast:queue', () => {
    const seen: unknown[] = [];
    const onDrop = (m: unknown): void => void seen.push(m);
    const onQueue = (m: unknown): void => void seen.push(m);
    diagnosticsChannel.subscribe('holdfast:drop', onDrop);
    diagnosticsChannel.subscribe('holdfast:queue', onQueue);
    try {
      const queue = new OutboundQueue<string>({ name: 'otlp', maxItems: 1, highWaterMarkItems: 1, overflow: 'drop-newest' });
      queue.push('a');
      queue.push('b');
    } finally {
      diagnosticsChannel.unsubscribe('holdfast:drop', onDrop);
      diagnosticsChannel.unsubscribe('holdfast:queue', onQueue);
    }
    expect(seen).toEqual([
      { event: 'high-water', name: 'otlp', length: 1, bytes: 1 },
      { event: 'drop', name: 'otlp', item: 'b', reason: 'overflow', policy: 'drop-newest' },
    ]);
  });

  it('keeps order and byte count across many shifts (head compaction)', () => {
    const queue = new OutboundQueue<number>({ maxItems: Infinity, highWaterMarkItems: 5000 });
    for (let i = 0; i < 3000; i++) queue.push(i);
    for (let i = 0; i < 2000; i++) expect(queue.shift()).toBe(i);
    for (let i = 3000; i < 3500; i++) queue.push(i);
    expect(queue.length).toBe(1500);
    expect(queue.bytes).toBe(1500);
    expect(queue.peek()).toBe(2000);
    expect(drain(queue)).toEqual(Array.from({ length: 1500 }, (_, i) => 2000 + i));
    expect(queue.shift()).toBeUndefined();
    expect(queue.peek()).toBeUndefined();
  });

  it('measures strings in UTF-8 bytes, binary data by byteLength, anything else as 1', () => {
    expect(defaultSizeOf('héllo')).toBe(6);
    expect(defaultSizeOf(Buffer.alloc(7))).toBe(7);
    expect(defaultSizeOf(new Uint16Array(4))).toBe(8);
    expect(defaultSizeOf(new DataView(new ArrayBuffer(5)))).toBe(5);
    expect(defaultSizeOf(new ArrayBuffer(3))).toBe(3);
    expect(defaultSizeOf({ big: 'x'.repeat(100) })).toBe(1);
    expect(defaultSizeOf(42)).toBe(1);
  });

  it('uses a custom sizeOf, and refuses a bad size without counting the push', () => {
    const queue = new OutboundQueue<{ n: number }>({ sizeOf: (item) => item.n, maxBytes: 10 });
    queue.push({ n: 4 });
    expect(queue.bytes).toBe(4);
    expect(() => queue.push({ n: -1 })).toThrow(/sizeOf\(item\) must return a finite number >= 0, got -1/);
    expect(() => queue.push({ n: Number.NaN })).toThrow(TypeError);
    expect(queue.stats()).toMatchObject({ pushed: 1, length: 1 });
  });

  it('a throwing drop listener does not break the queue', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const queue = new OutboundQueue<string>({ maxItems: 1 });
      queue.on('drop', () => {
        throw new Error('listener bug');
      });
      queue.push('a');
      expect(queue.push('b')).toBe(true);
      expect(queue.stats().dropped.overflow).toBe(1);
      expect(drain(queue)).toEqual(['b']);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.some((w) => w.includes("'drop'") && w.includes('listener bug'))).toBe(true);
  });

  it('once() and off() remove listeners', () => {
    const queue = new OutboundQueue<string>({ maxItems: 1, overflow: 'drop-newest' });
    let once = 0;
    let on = 0;
    queue.once('drop', () => once++);
    const listener = (): void => {
      on++;
    };
    queue.on('drop', listener);
    queue.push('a');
    queue.push('b');
    queue.off('drop', listener);
    queue.push('c');
    expect([once, on]).toEqual([1, 1]);
  });

  it('validates options with messages that name the option, the value and what is accepted', () => {
    const cases: [OutboundQueueOptions<unknown>, string][] = [
      [{ maxItems: 0 }, "OutboundQueue: option 'maxItems' must be an integer >= 1 or Infinity, got 0"],
      [{ maxItems: 1.5 }, "option 'maxItems' must be an integer >= 1 or Infinity, got 1.5"],
      [{ maxBytes: -1 }, "option 'maxBytes' must be a number > 0 or Infinity, got -1"],
      [{ maxBytes: Number.NaN }, "option 'maxBytes' must be a number > 0 or Infinity, got NaN"],
      [{ overflow: 'drop-all' as OverflowPolicy }, `option 'overflow' must be 'reject', 'drop-oldest' or 'drop-newest', got "drop-all"`],
      [{ sizeOf: 3 as unknown as () => number }, "option 'sizeOf' must be a function returning a size >= 0, got 3"],
      [{ name: '' }, 'option \'name\' must be a non-empty string, got ""'],
      [{ maxBytes: 100, highWaterMarkBytes: 200 }, "option 'highWaterMarkBytes' must be a number > 0 and <= maxBytes (100), got 200"],
      [{ maxItems: 5, highWaterMarkItems: 6 }, "option 'highWaterMarkItems' must be an integer >= 1 and <= maxItems (5), got 6"],
    ];
    for (const [options, message] of cases) expect(() => new OutboundQueue(options)).toThrow(message);
    expect(() => new OutboundQueue(null as unknown as object)).toThrow('OutboundQueue: options must be an object, got null');
    expect(() => new OutboundQueue({ maxItem: 5 } as object)).toThrow("OutboundQueue: unknown option 'maxItem' (did you mean maxItems?)");
    expect(() => new OutboundQueue().clear('oops' as 'closed')).toThrow(/reason must be 'closed', 'give-up' or 'cleared', got "oops"/);
  });

  it('has documented defaults', () => {
    const queue = new OutboundQueue();
    expect([queue.maxItems, queue.maxBytes, queue.overflow, queue.highWaterMarkBytes, queue.highWaterMarkItems, queue.name]).toEqual([
      10_000,
      8 * 1024 * 1024,
      'drop-oldest',
      16 * 1024,
      1024,
      'queue',
    ]);
    const tiny = new OutboundQueue({ maxItems: 10, maxBytes: 100 });
    expect([tiny.highWaterMarkItems, tiny.highWaterMarkBytes]).toEqual([10, 100]);
  });
});
