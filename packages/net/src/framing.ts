/**
 * Message framing on a byte stream. A frame is encoded into one Buffer and
 * handed to one socket in one write, so a message belongs to exactly one
 * connection: if that connection dies, the rest of the frame dies with it and
 * the next connection starts on a frame boundary.
 *
 * - `raw`: no framing; each `write()` is a unit for queueing, `'data'` chunks arrive as TCP delivers them.
 * - `lines`: a message is followed by `\n`; a received `\r\n` also ends a line (the `\r` is removed).
 * - `length-prefixed`: a 4-byte unsigned big-endian length, then that many bytes.
 */
import { HoldfastError } from '@holdfast/core';

export type Framing = 'raw' | 'lines' | 'length-prefixed';

export const FRAMINGS: readonly Framing[] = ['raw', 'lines', 'length-prefixed'];

export const LENGTH_PREFIX_BYTES = 4;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** Receives the frames a decoder finds; `message` may be a view into the received chunk. */
export type FrameSink = (message: Buffer) => void;

/**
 * A received frame is larger than the configured limit: the stream cannot be
 * trusted any more. Not transient: the peer would send the same again.
 */
export class FrameTooLargeError extends HoldfastError {
  constructor(size: number, limit: number) {
    const message = `received a frame of ${size} bytes or more, above maxMessageBytes (${limit}); the connection was dropped`;
    super(message, {
      kind: 'protocol',
      code: 'HOLDFAST_FRAME_TOO_LARGE',
      phase: 'response',
      transient: false,
      hint: 'a message larger than maxMessageBytes arrived: raise maxMessageBytes if the peer really sends messages that big, or check that both sides use the same framing',
      message,
    });
  }
}

export interface FrameDecoder {
  /** Feeds one received chunk; calls the sink once per complete frame. Throws FrameTooLargeError. */
  push(chunk: Buffer): void;
  /** Bytes of an incomplete frame held back (lost if the connection dies now). */
  readonly pendingBytes: number;
}

/**
 * The bytes of an incomplete frame, kept as the chunks they arrived in and
 * joined once, when the frame completes: a frame cut into many chunks costs
 * one copy, not one per chunk, and a chunk is never copied just because the
 * previous one ended mid-frame.
 */
class Pending {
  readonly #parts: Buffer[] = [];
  bytes = 0;

  add(part: Buffer): void {
    this.#parts.push(part);
    this.bytes += part.length;
  }

  /** The kept bytes followed by `last`, as one Buffer; empties the store. */
  take(last: Buffer): Buffer {
    const parts = this.#parts;
    const total = this.bytes + last.length;
    let joined: Buffer;
    if (parts.length === 1 && last.length === 0) joined = parts[0] as Buffer;
    else {
      parts.push(last);
      joined = Buffer.concat(parts, total);
    }
    parts.length = 0;
    this.bytes = 0;
    return joined;
  }

  /** The byte at `index` of the kept bytes (index < bytes). */
  byteAt(index: number): number {
    let i = index;
    for (const part of this.#parts) {
      if (i < part.length) return part[i] as number;
      i -= part.length;
    }
    return 0;
  }
}

export class LineDecoder implements FrameDecoder {
  readonly #sink: FrameSink;
  readonly #maxBytes: number;
  readonly #pending = new Pending();

  constructor(sink: FrameSink, maxBytes: number) {
    this.#sink = sink;
    this.#maxBytes = maxBytes;
  }

  get pendingBytes(): number {
    return this.#pending.bytes;
  }

  push(chunk: Buffer): void {
    const sink = this.#sink;
    const max = this.#maxBytes;
    const length = chunk.length;
    let start = 0;
    let end = chunk.indexOf(NEWLINE);
    const pending = this.#pending;
    if (pending.bytes > 0) {
      if (end === -1) {
        if (pending.bytes + length > max) throw new FrameTooLargeError(pending.bytes + length, max);
        pending.add(chunk);
        return;
      }
      // Only the line that straddles the chunks is joined; the rest of the chunk is split in place.
      const line = pending.take(chunk.subarray(0, end));
      const stop = line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN ? line.length - 1 : line.length;
      if (stop > max) throw new FrameTooLargeError(stop, max);
      sink(stop === line.length ? line : line.subarray(0, stop));
      start = end + 1;
      end = start < length ? chunk.indexOf(NEWLINE, start) : -1;
    }
    while (end !== -1) {
      const stop = end > start && chunk[end - 1] === CARRIAGE_RETURN ? end - 1 : end;
      if (stop - start > max) throw new FrameTooLargeError(stop - start, max);
      // Buffer's own subarray (all JavaScript, inlined here) is the cheapest way to make the message's view.
      sink(chunk.subarray(start, stop));
      start = end + 1;
      end = start < length ? chunk.indexOf(NEWLINE, start) : -1;
    }
    if (start < length) {
      if (length - start > max) throw new FrameTooLargeError(length - start, max);
      pending.add(chunk.subarray(start));
    }
  }
}

export class LengthPrefixedDecoder implements FrameDecoder {
  readonly #sink: FrameSink;
  readonly #maxBytes: number;
  readonly #pending = new Pending();
  /** Header plus body bytes of the frame being completed; -1 while its header is incomplete. */
  #frameBytes = -1;

  constructor(sink: FrameSink, maxBytes: number) {
    this.#sink = sink;
    this.#maxBytes = maxBytes;
  }

  get pendingBytes(): number {
    return this.#pending.bytes;
  }

  push(chunk: Buffer): void {
    const length = chunk.length;
    let offset = 0;
    if (this.#pending.bytes > 0) {
      offset = this.#complete(chunk);
      if (offset === -1) return;
    }
    const sink = this.#sink;
    const max = this.#maxBytes;
    while (length - offset >= LENGTH_PREFIX_BYTES) {
      const size = chunk.readUInt32BE(offset);
      if (size > max) throw new FrameTooLargeError(size, max);
      const end = offset + LENGTH_PREFIX_BYTES + size;
      if (end > length) break;
      sink(chunk.subarray(offset + LENGTH_PREFIX_BYTES, end));
      offset = end;
    }
    if (offset < length) {
      this.#pending.add(chunk.subarray(offset));
      this.#frameBytes = length - offset >= LENGTH_PREFIX_BYTES ? LENGTH_PREFIX_BYTES + chunk.readUInt32BE(offset) : -1;
    }
  }

  /** Completes the kept frame with the head of `chunk`; returns where the rest of the chunk starts, or -1 when it was all kept. */
  #complete(chunk: Buffer): number {
    const pending = this.#pending;
    if (this.#frameBytes === -1) {
      const missing = LENGTH_PREFIX_BYTES - pending.bytes;
      if (chunk.length < missing) {
        pending.add(chunk);
        return -1;
      }
      let size = 0;
      for (let i = 0; i < LENGTH_PREFIX_BYTES; i++)
        size = size * 256 + (i < pending.bytes ? pending.byteAt(i) : (chunk[i - pending.bytes] as number));
      if (size > this.#maxBytes) throw new FrameTooLargeError(size, this.#maxBytes);
      this.#frameBytes = LENGTH_PREFIX_BYTES + size;
    }
    const missing = this.#frameBytes - pending.bytes;
    if (chunk.length < missing) {
      pending.add(chunk);
      return -1;
    }
    const frame = pending.take(chunk.subarray(0, missing));
    this.#frameBytes = -1;
    this.#sink(frame.subarray(LENGTH_PREFIX_BYTES));
    return missing;
  }
}

export function createDecoder(framing: Exclude<Framing, 'raw'>, sink: FrameSink, maxBytes: number): FrameDecoder {
  return framing === 'lines' ? new LineDecoder(sink, maxBytes) : new LengthPrefixedDecoder(sink, maxBytes);
}

/** Bytes a framing adds to each message on the wire: the delimiter or the length prefix. */
export function frameOverhead(framing: Framing): number {
  return framing === 'raw' ? 0 : framing === 'lines' ? 1 : LENGTH_PREFIX_BYTES;
}

/** What `write()` / `send()` accept. Strings are sent as UTF-8. */
export type Payload = string | Uint8Array;

function toBuffer(payload: Payload): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}

/**
 * The bytes of one message as they go on the wire. `raw` and `lines` with a
 * string stay strings (the socket encodes them without an extra copy).
 * Throws RangeError for a message that the framing cannot carry.
 */
export function encodeFrame(framing: Framing, payload: Payload, maxBytes: number): string | Buffer {
  if (framing === 'raw') return typeof payload === 'string' ? payload : toBuffer(payload);
  if (framing === 'lines') {
    if (typeof payload === 'string') {
      if (payload.includes('\n')) throw new RangeError("a message sent with framing 'lines' must not contain '\\n'");
      // UTF-8 takes at most 3 bytes per UTF-16 unit, so short strings need no byte count.
      if (payload.length * 3 > maxBytes && Buffer.byteLength(payload) > maxBytes) throw tooLarge(Buffer.byteLength(payload), maxBytes);
      return `${payload}\n`;
    }
    if (payload.includes(NEWLINE)) throw new RangeError("a message sent with framing 'lines' must not contain '\\n'");
    if (payload.byteLength > maxBytes) throw tooLarge(payload.byteLength, maxBytes);
    const frame = Buffer.allocUnsafe(payload.byteLength + 1);
    frame.set(payload, 0);
    frame[payload.byteLength] = NEWLINE;
    return frame;
  }
  // One allocation per message: the header and the body are written into the same Buffer.
  if (typeof payload === 'string') {
    const size = payload.length * 3 <= maxBytes ? Buffer.byteLength(payload) : checkedByteLength(payload, maxBytes);
    const frame = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + size);
    frame.writeUInt32BE(size, 0);
    frame.write(payload, LENGTH_PREFIX_BYTES, 'utf8');
    return frame;
  }
  if (payload.byteLength > maxBytes) throw tooLarge(payload.byteLength, maxBytes);
  const frame = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + payload.byteLength);
  frame.writeUInt32BE(payload.byteLength, 0);
  frame.set(payload, LENGTH_PREFIX_BYTES);
  return frame;
}

function checkedByteLength(payload: string, maxBytes: number): number {
  const size = Buffer.byteLength(payload);
  if (size > maxBytes) throw tooLarge(size, maxBytes);
  return size;
}

function tooLarge(size: number, limit: number): RangeError {
  return new RangeError(`a message of ${size} bytes is above maxMessageBytes (${limit})`);
}
