/**
 * The delay a gRPC server asks for before the next attempt: the OTLP spec's
 * throttling signal is a `google.rpc.RetryInfo` in the status details, which
 * grpc-js hands over undecoded in the `grpc-status-details-bin` trailer. Read
 * with a few lines of protobuf wire format rather than a proto library:
 * Status { details = 3: repeated Any }, Any { type_url = 1, value = 2 },
 * RetryInfo { retry_delay = 1: Duration }, Duration { seconds = 1, nanos = 2 }.
 */
const RETRY_INFO = 'google.rpc.RetryInfo';

interface Field {
  readonly number: number;
  readonly varint?: number;
  readonly bytes?: Uint8Array;
}

function* fields(buffer: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = buffer[pos++];
      if (byte === undefined) throw new RangeError('truncated varint');
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new RangeError('varint too long');
  };
  while (pos < buffer.length) {
    const key = varint();
    const number = Math.floor(key / 8);
    switch (key % 8) {
      case 0:
        yield { number, varint: varint() };
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const length = varint();
        if (pos + length > buffer.length) throw new RangeError('truncated field');
        yield { number, bytes: buffer.subarray(pos, pos + length) };
        pos += length;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        throw new RangeError('unsupported wire type');
    }
  }
}

/** Milliseconds of the RetryInfo in a `grpc-status-details-bin` value; undefined when there is none or it is malformed. */
export function retryInfoDelayMs(statusDetails: Uint8Array): number | undefined {
  try {
    for (const detail of fields(statusDetails)) {
      if (detail.number !== 3 || detail.bytes === undefined) continue;
      let typeUrl = '';
      let value: Uint8Array | undefined;
      for (const field of fields(detail.bytes)) {
        if (field.number === 1 && field.bytes !== undefined) typeUrl = Buffer.from(field.bytes).toString('utf8');
        if (field.number === 2 && field.bytes !== undefined) value = field.bytes;
      }
      if (!typeUrl.endsWith(`/${RETRY_INFO}`) || value === undefined) continue;
      for (const delay of fields(value)) {
        if (delay.number !== 1 || delay.bytes === undefined) continue;
        let seconds = 0;
        let nanos = 0;
        for (const part of fields(delay.bytes)) {
          if (part.number === 1) seconds = part.varint ?? 0;
          if (part.number === 2) nanos = part.varint ?? 0;
        }
        const ms = seconds * 1_000 + nanos / 1_000_000;
        return Number.isFinite(ms) && ms >= 0 ? Math.round(ms) : undefined;
      }
    }
  } catch {
    // Malformed details: no pushback, the schedule's own delay applies.
  }
  return undefined;
}
