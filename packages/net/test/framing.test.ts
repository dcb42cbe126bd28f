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
  });
});
