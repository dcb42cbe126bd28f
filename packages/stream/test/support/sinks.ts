import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';

/** A destination that hashes and counts what it is given; `delayMs` makes it a slow consumer. */
export class HashSink extends Writable {
  readonly #hash = createHash('sha256');
  bytes = 0;
  writes = 0;
  #digest: string | undefined;

  constructor(
    private readonly delayMs: (writeIndex: number) => number = () => 0,
    highWaterMark = 16 * 1024,
  ) {
    super({ highWaterMark });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    const delay = this.delayMs(this.writes++);
    if (delay > 0) setTimeout(callback, delay);
    else callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#digest = this.#hash.digest('hex');
    callback();
  }

  /** The sha256 of everything written, once the sink finished. */
  get sha256(): string | undefined {
    return this.#digest;
  }
}

/** Collects what it is given, to compare a partial output with the entity's start. */
export class CollectSink extends Writable {
  readonly chunks: Buffer[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    callback();
  }

  get data(): Buffer {
    return Buffer.concat(this.chunks);
  }
}
