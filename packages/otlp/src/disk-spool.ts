import { mkdirSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Batches kept on disk so that they survive an app restart. A batch is kept
 * as the OTLP request bytes the exporter would send (the SDK's span and log
 * objects cannot be rebuilt from disk, but their encoded request can be sent
 * again as-is), one file per batch, written to a temporary name and renamed
 * so a crash mid-write never leaves half a batch to replay. Nothing secret is
 * stored: the endpoint and headers come from the configuration of the process
 * that replays the files.
 */
export interface SpoolCodec<Batch> {
  /** Which files this exporter can send: signal and encoding, e.g. `traces.pb`. */
  readonly kind: string;
  serialize(batch: Batch): Uint8Array | undefined;
  /** Sends request bytes made by `serialize()`; rejects like one export attempt. */
  send(bytes: Uint8Array): Promise<void>;
}

export interface SpooledBatch {
  readonly file: string;
  readonly items: number;
  readonly encoded: Uint8Array;
}

// Zero-padded milliseconds first, so that a plain sort replays in the order the batches were made.
const NAME = /^(\d{15})-(\d+)-(\d+)-(\d+)\.([a-z]+\.[a-z]+)$/;

export class DiskSpool {
  readonly dir: string;
  readonly #kind: string;
  readonly #maxBytes: number;
  readonly #sizes = new Map<string, number>();
  #bytes = 0;
  #seq = 0;

  constructor(dir: string, kind: string, maxBytes: number) {
    this.dir = dir;
    this.#kind = kind;
    this.#maxBytes = maxBytes;
    mkdirSync(dir, { recursive: true });
  }

  get bytes(): number {
    return this.#bytes;
  }

  get files(): number {
    return this.#sizes.size;
  }

  /** Writes one batch; returns its file, or undefined when the spool is full. Throws on a disk error. */
  write(encoded: Uint8Array, items: number): string | undefined {
    if (this.#bytes + encoded.byteLength > this.#maxBytes) return undefined;
    const name = `${String(Date.now()).padStart(15, '0')}-${process.pid}-${this.#seq++}-${items}.${this.#kind}`;
    const file = join(this.dir, name);
    const temporary = join(this.dir, `.${name}.tmp`);
    writeFileSync(temporary, encoded);
    renameSync(temporary, file);
    this.#sizes.set(file, encoded.byteLength);
    this.#bytes += encoded.byteLength;
    return file;
  }

  remove(file: string): void {
    try {
      unlinkSync(file);
    } catch {
      // Already gone (another replay, a cleanup): nothing is left to send either way.
    }
    this.#bytes -= this.#sizes.get(file) ?? 0;
    this.#sizes.delete(file);
  }

  /** The batches a previous run left, oldest first. Files of another signal or encoding are left alone. */
  restore(): SpooledBatch[] {
    const restored: SpooledBatch[] = [];
    for (const name of readdirSync(this.dir).sort()) {
      const match = NAME.exec(name);
      if (match === null || match[5] !== this.#kind) continue;
      const file = join(this.dir, name);
      try {
        const encoded = readFileSync(file);
        this.#sizes.set(file, encoded.byteLength);
        this.#bytes += encoded.byteLength;
        restored.push({ file, items: Number(match[4]), encoded });
      } catch {
        // Unreadable or removed meanwhile: skipped, the rest still replays.
      }
    }
    return restored;
  }
}
