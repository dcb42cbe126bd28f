import { pipeline } from 'node:stream/promises';
import { TypedEvents, type Listener } from '@holdfast/core';
import { formatValue } from '@holdfast/core/internal';
import type { ResumablePipeEvents, ResumablePipeStats } from './events.js';
import { resolveOptions, type ResumablePipelineOptions } from './options.js';
import { ResumingReadable } from './resuming-readable.js';
import type { ResumableSource } from './source.js';

/** A transform or the destination: what `stream.pipeline` takes after its source. */
export type PipelineStage =
  | NodeJS.WritableStream
  | NodeJS.ReadWriteStream
  | ((source: AsyncIterable<Buffer>, options: { signal: AbortSignal }) => AsyncIterable<unknown> | Promise<unknown>);

/**
 * The promise of a resumable pipe, which is also its handle: `await` it for
 * the result, listen to its events, read its counters, or `close()` it.
 */
export interface ResumablePipe extends Promise<void> {
  /** Adds a listener; returns a function that removes it. A listener that throws becomes a process warning. */
  on<K extends keyof ResumablePipeEvents>(event: K, listener: Listener<ResumablePipeEvents[K]>): () => void;
  once<K extends keyof ResumablePipeEvents>(event: K, listener: Listener<ResumablePipeEvents[K]>): () => void;
  off<K extends keyof ResumablePipeEvents>(event: K, listener: Listener<ResumablePipeEvents[K]>): void;
  stats(): ResumablePipeStats;
  /**
   * Stops the pipe as an abort would (every stream destroyed; the pipe's
   * promise rejects with an `AbortError`) and resolves once nothing of it is
   * left running. May be called more than once; after the pipe settled it
   * only resolves.
   */
  close(): Promise<void>;
}

const CHANNELS = { progress: 'stream', resume: 'stream', 'give-up': 'stream' } as const satisfies {
  readonly [K in keyof ResumablePipeEvents]: string;
};

/**
 * `stream.pipeline(source, ...transforms, destination)` whose source survives
 * the connection: when it fails with a transient fault, `open(offset)` is
 * called again with the number of bytes already delivered, and the pipe
 * continues from there. The transforms and the destination are never
 * restarted and never see the break. Everything else is `stream.pipeline`'s:
 * backpressure, `signal`, errors destroying every stream.
 *
 * The last argument may be the options object.
 */
export function resumablePipeline(open: ResumableSource, ...stages: [...PipelineStage[], PipelineStage | ResumablePipelineOptions]): ResumablePipe {
  if (typeof open !== 'function') {
    throw new TypeError(`resumablePipeline: the first argument must be a function (offset, context) => Readable, got ${formatValue(open)}`);
  }
  const args: unknown[] = [...stages];
  const options = isPlainObject(args[args.length - 1]) ? (args.pop() as ResumablePipelineOptions) : undefined;
  if (args.length === 0) throw new TypeError('resumablePipeline: a destination is required after the source');
  const settings = resolveOptions(options);
  const events = new TypedEvents<ResumablePipeEvents>(CHANNELS);
  const head = new ResumingReadable(open, settings, events);
  const piped = (pipeline as (...all: unknown[]) => Promise<void>)(head, ...args, {
    end: settings.end,
    ...(settings.signal === undefined ? {} : { signal: settings.signal }),
  });
  // The pipe settles only once the source's retry loop has too: then no open, sleep, timer or listener of it is left.
  const release = (): void => events.clear();
  const done = piped.then(
    () => head.settled().then(release),
    (error: unknown) =>
      head.settled().then(() => {
        release();
        throw error;
      }),
  );
  let closing: Promise<void> | undefined;
  const handle: Omit<ResumablePipe, keyof Promise<void>> = {
    on: events.on.bind(events),
    once: events.once.bind(events),
    off: events.off.bind(events),
    stats: () => head.stats(),
    close: () =>
      (closing ??= (() => {
        // Whoever awaits the pipe still sees the rejection; nobody else has to.
        done.catch(() => undefined);
        if (!head.destroyed) head.destroy(new DOMException('the pipe was closed', 'AbortError'));
        return done.then(
          () => undefined,
          () => undefined,
        );
      })()),
  };
  return Object.assign(done, handle);
}

function isPlainObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
