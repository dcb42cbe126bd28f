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
export type Framing = 'raw' | 'lines' | 'length-prefixed';

export const FRAMINGS: readonly Framing[] = ['raw', 'lines', 'length-prefixed'];

export const LENGTH_PREFIX_BYTES = 4;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** Receives the frames a decoder finds; `message` may be a view into the received chunk. */
export type FrameSink = (message: Buffer) => void;

/** A received frame is larger than the configured limit: the stream cannot be trusted any more. */
export class FrameTooLargeError extends Error {
  readonly code = 'HOLDFAST_FRAME_TOO_LARGE';

  constructor(size: number, limit: number) {
    super(`received a frame of ${size} bytes or more, above maxMessageBytes (${limit}); the connection was dropped`);
    this.name = 'FrameTooLargeError';
  }
}

export interface FrameDecoder {
  /** Feeds one received chunk; calls the sink once per complete frame. Throws FrameTooLargeError. */
  push(chunk: Buffer): void;
  /** Bytes of an incomplete frame held back (lost if the connection dies now). */
  readonly pendingBytes: number;
}

export class LineDecoder implements FrameDecoder {
  readonly #sink: FrameSink;
  readonly #maxBytes: number;
  #pending: Buffer | undefined;

  constructor(sink: FrameSink, maxBytes: number) {
    this.#sink = sink;
    this.#maxBytes = maxBytes;
  }

  get pendingBytes(): number {
    return this.#pending?.length ?? 0;
  }

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.#pending !== undefined) {
      data = Buffer.concat([this.#pending, chunk]);
      this.#pending = undefined;
    }
    let start = 0;
    let end = data.indexOf(NEWLINE, start);
    while (end !== -1) {
      const stop = end > start && data[end - 1] === CARRIAGE_RETURN ? end - 1 : end;
      if (stop - start > this.#maxBytes) throw new FrameTooLargeError(stop - start, this.#maxBytes);
      this.#sink(data.subarray(start, stop));
      start = end + 1;
      end = data.indexOf(NEWLINE, start);
    }
    if (start < data.length) {
      if (data.length - start > this.#maxBytes) throw new FrameTooLargeError(data.length - start, this.#maxBytes);
      this.#pending = data.subarray(start);
    }
  }
}

export class LengthPrefixedDecoder implements FrameDecoder {
  readonly #sink: FrameSink;
  readonly #maxBytes: number;
  #pending: Buffer | undefined;

  constructor(sink: FrameSink, maxBytes: number) {
    this.#sink = sink;
    this.#maxBytes = maxBytes;
  }

  get pendingBytes(): number {
    return this.#pending?.length ?? 0;
  }

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.#pending !== undefined) {
      data = Buffer.concat([this.#pending, chunk]);
      this.#pending = undefined;
    }
    let offset = 0;
    while (data.length - offset >= LENGTH_PREFIX_BYTES) {
      const size = data.readUInt32BE(offset);
      if (size > this.#maxBytes) throw new FrameTooLargeError(size, this.#maxBytes);
      const end = offset + LENGTH_PREFIX_BYTES + size;
      if (end > data.length) break;
      this.#sink(data.subarray(offset + LENGTH_PREFIX_BYTES, end));
      offset = end;
    }
    if (offset < data.length) this.#pending = data.subarray(offset);
  }
}

export function createDecoder(framing: Exclude<Framing, 'raw'>, sink: FrameSink, maxBytes: number): FrameDecoder {
  return framing === 'lines' ? new LineDecoder(sink, maxBytes) : new LengthPrefixedDecoder(sink, maxBytes);
}

/** What `write()` / `send()` accept. Strings are sent as UTF-8. */
export type Payload = string | Uint8Array;

function toBuffer(payload: Payload): Buffer {
  return typeof payload === 'string'
    ? Buffer.from(payload, 'utf8')
    : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
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
  const body = toBuffer(payload);
  if (body.length > maxBytes) throw tooLarge(body.length, maxBytes);
  const frame = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, LENGTH_PREFIX_BYTES);
  return frame;
}

function tooLarge(size: number, limit: number): RangeError {
  return new RangeError(`a message of ${size} bytes is above maxMessageBytes (${limit})`);
}
