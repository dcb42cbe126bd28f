import { describe, expect, it } from 'vitest';
import { FrameTooLargeError, LengthPrefixedDecoder, LineDecoder, encodeFrame } from '../src/framing.js';

/** Feeds `bytes` to a decoder cut at every pair of split points, and returns what each cut produced. */
function everySplit(make: (sink: (m: Buffer) => void) => { push(chunk: Buffer): void }, bytes: Buffer): string[][] {
  const results: string[][] = [];
  for (let a = 0; a <= bytes.length; a++) {
    for (let b = a; b <= bytes.length; b++) {
      const out: string[] = [];
      const decoder = make((m) => out.push(m.toString('hex')));
      for (const chunk of [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)]) if (chunk.length > 0) decoder.push(chunk);
      results.push(out);
    }
  }
  return results;
}

const hex = (...parts: (string | Buffer)[]): string[] => parts.map((p) => Buffer.from(p).toString('hex'));

describe('framing', () => {
  it('lines: the same messages come out however the stream is cut, CRLF included', () => {
    const wire = Buffer.from('alpha\nbe\r\n\n\u00e9t\u00e9\nrest-without-end');
    const expected = hex('alpha', 'be', '', '\u00e9t\u00e9');
    for (const result of everySplit((sink) => new LineDecoder(sink, 1000), wire)) expect(result).toEqual(expected);
  });

  it('length-prefixed: the same messages come out however the stream is cut, headers included', () => {
    const messages = [Buffer.from([0, 10, 13, 0xff]), Buffer.alloc(0), Buffer.from('x\ny')];
    const wire = Buffer.concat(messages.map((m) => encodeFrame('length-prefixed', m, 1000) as Buffer));
    const expected = messages.map((m) => m.toString('hex'));
    for (const result of everySplit((sink) => new LengthPrefixedDecoder(sink, 1000), wire)) expect(result).toEqual(expected);
  });

  it('the same messages come out when the stream arrives one byte at a time (a frame held across many chunks)', () => {
    const long = 'x'.repeat(300);
    const lineWire = Buffer.from(`alpha\r\n${long}\n\nlast\r\n`);
    const lines: string[] = [];
    const lineDecoder = new LineDecoder((m) => lines.push(m.toString()), 1000);
    for (let i = 0; i < lineWire.length; i++) {
      lineDecoder.push(lineWire.subarray(i, i + 1));
      // What is held back is exactly the bytes after the last newline.
      expect(lineDecoder.pendingBytes).toBe(i + 1 - (lineWire.lastIndexOf(0x0a, i) + 1));
    }
    expect(lines).toEqual(['alpha', long, '', 'last']);

    const messages = [Buffer.from(long), Buffer.alloc(0), Buffer.from([0, 0, 0, 1])];
    const prefixWire = Buffer.concat(messages.map((m) => encodeFrame('length-prefixed', m, 1000) as Buffer));
    const frames: string[] = [];
    const prefixDecoder = new LengthPrefixedDecoder((m) => frames.push(m.toString('hex')), 1000);
    for (let i = 0; i < prefixWire.length; i++) prefixDecoder.push(prefixWire.subarray(i, i + 1));
    expect(frames).toEqual(messages.map((m) => m.toString('hex')));
    expect(prefixDecoder.pendingBytes).toBe(0);
  });

  it('only a message cut across chunks is copied; the others are views of the chunk they arrived in', () => {
    // Buffer.alloc, unlike Buffer.from, gives each chunk its own memory (not the shared pool).
    const chunk = (text: string): Buffer => {
      const bytes = Buffer.alloc(text.length);
      bytes.write(text);
      return bytes;
    };
    const chunks = [chunk('one\ntw'), chunk('o\nthr'), chunk('ee\nfour\n')];
    const out: Buffer[] = [];
    const decoder = new LineDecoder((m) => out.push(m), 1000);
    for (const chunk of chunks) decoder.push(chunk);
    expect(out.map(String)).toEqual(['one', 'two', 'three', 'four']);
    expect(out[0]!.buffer).toBe(chunks[0]!.buffer);
    for (const c of chunks) expect(out[1]!.buffer).not.toBe(c.buffer);
    expect(out[3]!.buffer).toBe(chunks[2]!.buffer);
  });

  it('a string message is framed with its UTF-8 length', () => {
    const frame = encodeFrame('length-prefixed', '\u00e9t\u00e9', 100) as Buffer;
    expect(frame).toEqual(Buffer.concat([Buffer.from([0, 0, 0, 5]), Buffer.from('\u00e9t\u00e9')]));
    expect(() => encodeFrame('length-prefixed', '\u20ac'.repeat(4), 10)).toThrow('a message of 12 bytes is above maxMessageBytes (10)');
    expect(encodeFrame('length-prefixed', new Uint8Array([7, 8]), 10)).toEqual(Buffer.from([0, 0, 0, 2, 7, 8]));
  });

  it('encodes each message as one frame', () => {
    expect(encodeFrame('lines', 'hi', 10)).toBe('hi\n');
    expect(encodeFrame('lines', Buffer.from('hi'), 10)).toEqual(Buffer.from('hi\n'));
    expect(encodeFrame('raw', 'hi', 10)).toBe('hi');
    expect(encodeFrame('length-prefixed', 'hi', 10)).toEqual(Buffer.from([0, 0, 0, 2, 0x68, 0x69]));
    expect(() => encodeFrame('lines', 'a\nb', 10)).toThrow(RangeError);
    expect(() => encodeFrame('lines', new Uint8Array([1, 10]), 10)).toThrow(RangeError);
    expect(() => encodeFrame('length-prefixed', Buffer.alloc(11), 10)).toThrow('a message of 11 bytes is above maxMessageBytes (10)');
    // Three-byte characters: 4 of them are 12 bytes, over a 10-byte limit although the string has 4 units.
    expect(() => encodeFrame('lines', '\u20ac'.repeat(4), 10)).toThrow('a message of 12 bytes is above maxMessageBytes (10)');
  });

  it('refuses a received frame above the limit before buffering it', () => {
    const lines = new LineDecoder(() => {}, 4);
    expect(() => lines.push(Buffer.from('12345'))).toThrow(FrameTooLargeError);
    const prefixed = new LengthPrefixedDecoder(() => {}, 4);
    expect(() => prefixed.push(Buffer.from([0, 0, 0, 5]))).toThrow(FrameTooLargeError);
    const ok = new LengthPrefixedDecoder(() => {}, 4);
    ok.push(Buffer.from([0, 0, 0, 4, 1]));
    expect(ok.pendingBytes).toBe(5);
    // A frame above the limit is refused even when its header arrives in pieces, and a line that keeps growing across chunks too.
    const split = new LengthPrefixedDecoder(() => {}, 4);
    split.push(Buffer.from([0, 0]));
    expect(() => split.push(Buffer.from([0, 5]))).toThrow(FrameTooLargeError);
    const growing = new LineDecoder(() => {}, 4);
    growing.push(Buffer.from('123'));
    expect(() => growing.push(Buffer.from('45'))).toThrow(FrameTooLargeError);
  });
});
