import { describe, expect, it } from 'vitest';
import { TypedEvents } from '../src/events.js';

interface Events {
  tick: number;
  other: string;
}

describe('TypedEvents', () => {
  it('calls each listener once per emit, in the order added; adding the same function twice does nothing', () => {
    const events = new TypedEvents<Events>();
    const calls: string[] = [];
    const a = (n: number): void => void calls.push(`a${n}`);
    const b = (n: number): void => void calls.push(`b${n}`);
    expect(events.listenerCount('tick')).toBe(0);
    events.emit('tick', 0);
    events.on('tick', a);
    events.on('tick', a);
    expect(events.listenerCount('tick')).toBe(1);
    events.emit('tick', 1);
    events.on('tick', b);
    events.on('tick', a);
    expect(events.listenerCount('tick')).toBe(2);
    events.emit('tick', 2);
    events.off('tick', a);
    events.emit('tick', 3);
    events.off('tick', b);
    events.off('tick', b);
    events.emit('tick', 4);
    expect(calls).toEqual(['a1', 'a2', 'b2', 'b3']);
    expect(events.listenerCount('tick')).toBe(0);
  });

  it('a listener added or removed during an emit takes effect from the next emit', () => {
    const events = new TypedEvents<Events>();
    const calls: string[] = [];
    const late = (n: number): void => void calls.push(`late${n}`);
    const second = (n: number): void => void calls.push(`second${n}`);
    events.on('tick', (n) => {
      calls.push(`first${n}`);
      if (n === 1) {
        events.off('tick', second);
        events.on('tick', late);
      }
    });
    events.on('tick', second);
    events.emit('tick', 1);
    events.emit('tick', 2);
    expect(calls).toEqual(['first1', 'second1', 'first2', 'late2']);
  });

  it('once, the returned remover and clear()', () => {
    const events = new TypedEvents<Events>();
    const calls: string[] = [];
    events.once('other', (s) => calls.push(`once:${s}`));
    const off = events.on('other', (s) => calls.push(`on:${s}`));
    events.emit('other', 'x');
    off();
    events.emit('other', 'y');
    events.on('tick', () => calls.push('tick'));
    events.clear();
    events.emit('tick', 1);
    expect(calls).toEqual(['once:x', 'on:x']);
    expect(events.listenerCount('tick')).toBe(0);
  });

  it('a throwing listener becomes a warning and the others still run', async () => {
    const events = new TypedEvents<Events>();
    const calls: number[] = [];
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    events.on('tick', () => {
      throw new Error('listener bug');
    });
    events.on('tick', (n) => calls.push(n));
    expect(() => events.emit('tick', 7)).not.toThrow();
    expect(calls).toEqual([7]);
    expect((await warned).message).toContain('listener bug');
  });
});
