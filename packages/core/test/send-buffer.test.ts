import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { QueueFullError, type DropReason } from '@holdfast/core';
import { SendBuffer, resolveQueueOptions } from '@holdfast/core/internal';

function buffer(queue: Parameters<typeof resolveQueueOptions>[1] | false) {
  const drops: [string, DropReason][] = [];
  const options = queue === false ? false : resolveQueueOptions('Test', queue, { path: 'queue' });
  const sends = new SendBuffer<string>('test', options, (item, reason) => drops.push([item, reason]));
  return { sends, drops };
}

describe('SendBuffer (the send side net and ws share)', () => {
  it('queues while down; overflow drops are counted by reason and reported once each, and not published by the inner queue', () => {
    const published: unknown[] = [];
    const onDrop = (message: unknown): void => void published.push(message);
    diagnosticsChannel.subscribe('holdfast:drop', onDrop);
    try {
      const { sends, drops } = buffer({ maxItems: 2 });
      // The high-water mark defaults to min(1024, maxItems): from the second item, wait for 'drain'.
      expect([sends.push('a'), sends.push('b'), sends.push('c')]).toEqual([true, false, false]);
      expect(drops).toEqual([['a', 'overflow']]);
      expect([sends.length, sends.shift(), sends.length]).toEqual([2, 'b', 1]);
      sends.clear('closed');
      expect(drops).toEqual([
        ['a', 'overflow'],
        ['c', 'closed'],
      ]);
      expect(sends.dropped()).toMatchObject({ overflow: 1, closed: 1, total: 2 });
      expect(published).toEqual([]);
    } finally {
      diagnosticsChannel.unsubscribe('holdfast:drop', onDrop);
    }
  });

  it("queue: false drops as 'not-connected'; 'reject' throws QueueFullError and the caller keeps the item", () => {
    const off = buffer(false);
    expect(off.sends.push('x')).toBe(false);
    expect(off.drops).toEqual([['x', 'not-connected']]);
    const strict = buffer({ maxItems: 1, overflow: 'reject' });
    strict.sends.push('kept');
    expect(() => strict.sends.push('refused')).toThrow(QueueFullError);
    expect(strict.drops).toEqual([]);
  });

  it("returns false at the high-water mark and owes one 'drain': due once the queue emptied and the transport has room", () => {
    const { sends } = buffer({ highWaterMarkItems: 2 });
    expect(sends.push('1')).toBe(true);
    expect(sends.push('2')).toBe(false);
    expect(sends.drainDue(false)).toBe(false);
    sends.shift();
    sends.shift();
    expect(sends.drainDue(true)).toBe(false);
    expect(sends.drainDue(false)).toBe(true);
    expect(sends.drainDue(false)).toBe(false);
    sends.owesDrain();
    expect(sends.drainDue(false)).toBe(true);
  });

  it('queue options have one shape, one set of defaults and errors that name the option the user wrote', () => {
    expect(resolveQueueOptions('Thing', undefined)).toEqual({
      maxItems: 10_000,
      maxBytes: 8 * 1024 * 1024,
      overflow: 'drop-oldest',
      highWaterMarkItems: 1024,
      highWaterMarkBytes: 16 * 1024,
    });
    expect(() => resolveQueueOptions('ReconnectingThing', { maxMessages: 5 } as never, { path: 'queue' })).toThrow(
      "ReconnectingThing: unknown option 'queue.maxMessages'",
    );
    expect(() => resolveQueueOptions('ReconnectingThing', { maxBytes: 10, highWaterMarkBytes: 20 }, { path: 'queue' })).toThrow(
      "ReconnectingThing: option 'queue.highWaterMarkBytes' must be a number > 0 and <= maxBytes (10), got 20",
    );
  });
});
