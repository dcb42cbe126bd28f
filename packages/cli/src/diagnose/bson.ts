/**
 * Just enough BSON and MongoDB wire protocol to say `hello`: an OP_MSG with
 * one document, and the reply read into plain values. Written here so that
 * `holdfast diagnose mongodb://…` needs no driver and sees each step of the
 * handshake itself (the driver would hide a reset behind a server-selection
 * timeout).
 */
export type BsonValue = number | bigint | string | boolean | null | Date | Uint8Array | BsonValue[] | { [key: string]: BsonValue };

export function encodeDocument(document: Readonly<Record<string, BsonValue>>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of Object.entries(document)) parts.push(encodeElement(key, value));
  const body = Buffer.concat(parts);
  const out = Buffer.alloc(4 + body.length + 1);
  out.writeInt32LE(out.length, 0);
  body.copy(out, 4);
  return out;
}

function encodeElement(key: string, value: BsonValue): Buffer {
  const name = Buffer.from(`${key}\0`, 'utf8');
  const tagged = (type: number, payload: Buffer): Buffer => Buffer.concat([Buffer.from([type]), name, payload]);
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(value);
      return tagged(0x10, b);
    }
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value);
    return tagged(0x01, b);
  }
  if (typeof value === 'bigint') {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(value);
    return tagged(0x12, b);
  }
  if (typeof value === 'string') {
    const text = Buffer.from(`${value}\0`, 'utf8');
    const b = Buffer.alloc(4);
    b.writeInt32LE(text.length);
    return tagged(0x02, Buffer.concat([b, text]));
  }
  if (typeof value === 'boolean') return tagged(0x08, Buffer.from([value ? 1 : 0]));
  if (value === null) return tagged(0x0a, Buffer.alloc(0));
  if (value instanceof Date) {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(value.getTime()));
    return tagged(0x09, b);
  }
  if (value instanceof Uint8Array) {
    const b = Buffer.alloc(5);
    b.writeInt32LE(value.length);
    return tagged(0x05, Buffer.concat([b, Buffer.from(value)]));
  }
  if (Array.isArray(value)) return tagged(0x04, encodeDocument(Object.fromEntries(value.map((v, i) => [String(i), v]))));
  return tagged(0x03, encodeDocument(value));
}

export function decodeDocument(buffer: Buffer, offset = 0): Record<string, BsonValue> {
  const size = buffer.readInt32LE(offset);
  if (size < 5 || offset + size > buffer.length) throw new RangeError('a truncated BSON document');
  const end = offset + size - 1;
  const out: Record<string, BsonValue> = {};
  let at = offset + 4;
  while (at < end) {
    const type = buffer[at++] as number;
    const nameEnd = buffer.indexOf(0, at);
    if (nameEnd === -1 || nameEnd > end) throw new RangeError('a malformed BSON name');
    const key = buffer.toString('utf8', at, nameEnd);
    at = nameEnd + 1;
    switch (type) {
      case 0x01:
        out[key] = buffer.readDoubleLE(at);
        at += 8;
        break;
      case 0x02: {
        const length = buffer.readInt32LE(at);
        out[key] = buffer.toString('utf8', at + 4, at + 4 + length - 1);
        at += 4 + length;
        break;
      }
      case 0x03:
      case 0x04: {
        const length = buffer.readInt32LE(at);
        const inner = decodeDocument(buffer, at);
        out[key] = type === 0x04 ? Object.values(inner) : inner;
        at += length;
        break;
      }
      case 0x05: {
        const length = buffer.readInt32LE(at);
        out[key] = buffer.subarray(at + 5, at + 5 + length);
        at += 5 + length;
        break;
      }
      case 0x07:
        out[key] = buffer.subarray(at, at + 12);
        at += 12;
        break;
      case 0x08:
        out[key] = buffer[at] === 1;
        at += 1;
        break;
      case 0x09:
        out[key] = new Date(Number(buffer.readBigInt64LE(at)));
        at += 8;
        break;
      case 0x0a:
        out[key] = null;
        break;
      case 0x10:
        out[key] = buffer.readInt32LE(at);
        at += 4;
        break;
      case 0x11:
      case 0x12:
        out[key] = buffer.readBigInt64LE(at);
        at += 8;
        break;
      case 0x13:
        out[key] = buffer.subarray(at, at + 16);
        at += 16;
        break;
      default:
        // A type hello never carries: stop reading here rather than guess its length.
        return out;
    }
  }
  return out;
}

const OP_MSG = 2013;

/** An OP_MSG carrying one command document. */
export function opMsg(requestId: number, command: Readonly<Record<string, BsonValue>>): Buffer {
  const document = encodeDocument(command);
  const header = Buffer.alloc(21);
  header.writeInt32LE(21 + document.length, 0);
  header.writeInt32LE(requestId, 4);
  header.writeInt32LE(0, 8);
  header.writeInt32LE(OP_MSG, 12);
  header.writeUInt32LE(0, 16);
  header[20] = 0;
  return Buffer.concat([header, document]);
}

/** Reads one OP_MSG reply from `buffer` if it holds a whole one: its document and how many bytes it took. */
export function readOpMsg(buffer: Buffer): { document: Record<string, BsonValue>; bytes: number; responseTo: number } | undefined {
  if (buffer.length < 16) return undefined;
  const length = buffer.readInt32LE(0);
  if (length < 21 || length > 48 * 1024 * 1024) throw new RangeError(`not a MongoDB message (length ${length})`);
  if (buffer.length < length) return undefined;
  const opCode = buffer.readInt32LE(12);
  if (opCode !== OP_MSG) throw new RangeError(`not an OP_MSG reply (opCode ${opCode})`);
  if (buffer[20] !== 0) throw new RangeError('an OP_MSG reply without a body section');
  return { document: decodeDocument(buffer, 21), bytes: length, responseTo: buffer.readInt32LE(8) };
}
