import { Readable, finished } from 'node:stream';
import { RetryError, retry, type AttemptInfo, type Fault, type RetryOptions, type TypedEvents } from '@holdfast/core';
import type { ResumablePipeEvents, ResumablePipeStats } from './events.js';
import type { PipeSettings } from './options.js';
import type { OpenContext, ResumableSource } from './source.js';
import { SourceError } from './source-error.js';

/** One open of the source, from the call to `open` until it ends, fails, stalls or is abandoned. */
interface Segment {
  /** Ends the segment with an error: the source is destroyed, the try fails with `error`. */
  readonly fail: (error: unknown) => void;
}

const ignore = (): void => undefined;

/**
 * The readable end the rest of the pipeline sees: one stream made of as many
 * opens of the source as it takes. The transforms and the destination never
 * see a source fail, end early or change; they see bytes, in order, each once,
 * then an end, or the error the pipe failed with.
 *
 * Bytes are counted here, where they enter the pipe: what a broken connection
 * still had in flight never arrived, so the next open starts exactly after the
 * last byte pushed. The source flows while the pipe wants data and is paused
 * while the pipe is full, so backpressure reaches it across every reopen, and
 * the stall clock runs only while the pipe is waiting for the source.
 */
export class ResumingReadable extends Readable {
  readonly #open: ResumableSource;
  readonly #settings: PipeSettings;
  readonly #events: TypedEvents<ResumablePipeEvents>;
  /** Aborted when this stream is destroyed: ends the retry loop, its sleep and the current open. */
  readonly #stopped = new AbortController();
  readonly #retryOptions: RetryOptions;

  #offset = 0;
  #total: number | undefined;
  #opens = 0;
  #resumes = 0;
  #stalls = 0;
  /** The open being read, undefined while the loop sleeps or before it starts. */
  #segment: Segment | undefined;
  #source: Readable | undefined;
  /** This stream paused `#source` because the pipe was full. */
  #sourcePaused = false;
  /** The fault that ended the last open, for the next open's context. */
  #lastFault: Fault | undefined;
  /** The retry loop; settles (never rejects) once no open, sleep or timer of it is left. */
  #loop: Promise<void> | undefined;
  /** The pipe asked for data (`_read`) and has not been filled up since. */
  #wanting = false;
  /** Since when the pipe has been waiting for a byte from the current open. */
  #waitingSince = 0;
  #stallTimer: NodeJS.Timeout | undefined;
  #stallVerdict: NodeJS.Immediate | undefined;
  #lastProgressAt = 0;
  /** Every byte is in; only the end is left to push. */
  #complete = false;

  constructor(open: ResumableSource, settings: PipeSettings, events: TypedEvents<ResumablePipeEvents>) {
    super({ highWaterMark: settings.highWaterMark });
    this.#open = open;
    this.#settings = settings;
    this.#events = events;
    const { attempts, schedule, budget, deadlineMs, shouldRetry, name } = settings;
    this.#retryOptions = {
      attempts,
      schedule,
      signal: this.#stopped.signal,
      // Reading an entity again from an offset changes nothing anywhere: always safe to repeat.
      operation: { idempotent: true },
      name,
      ...(budget === undefined ? {} : { budget }),
      ...(deadlineMs === undefined ? {} : { deadlineMs }),
      ...(shouldRetry === undefined ? {} : { shouldRetry }),
      onRetry: ({ attempt, delayMs, fault }) => {
        this.#resumes++;
        this.#lastFault = fault;
        this.#events.emit('resume', { event: 'resume', name, attempt, delayMs: Math.round(delayMs), fault, offset: this.#offset });
      },
      onGiveUp: ({ attempts: made, reason, fault }) => {
        this.#events.emit('give-up', { event: 'give-up', name, attempts: made, reason, fault, offset: this.#offset });
      },
    };
  }

  stats(): ResumablePipeStats {
    return { bytes: this.#offset, total: this.#total, opens: this.#opens, resumes: this.#resumes, stalls: this.#stalls };
  }

  /** Resolves once the retry loop has ended and left nothing running. */
  settled(): Promise<void> {
    return this.#loop ?? Promise.resolve();
  }

  override _read(): void {
    if (this.#complete) return;
    if (!this.#wanting) {
      this.#wanting = true;
      this.#waitingSince = performance.now();
      this.#armStallTimer();
    }
    if (this.#loop === undefined) {
      this.#loop = this.#run();
      return;
    }
    if (this.#sourcePaused) {
      this.#sourcePaused = false;
      this.#source?.resume();
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#stopped.abort(error ?? undefined);
    this.#stopWatching();
    this.settled().then(
      () => callback(error),
      () => callback(error),
    );
  }

  async #run(): Promise<void> {
    try {
      await retry((info) => this.#readToEnd(info), this.#retryOptions);
      if (this.destroyed) return;
      this.#complete = true;
      this.#stopWatching();
      this.#emitProgress();
      this.push(null);
    } catch (error) {
      this.#stopWatching();
      // Destroyed from outside (the caller's abort, a failing destination): that error is the pipe's, not this one.
      if (!this.destroyed) this.destroy(pipeError(error));
    }
  }

  /**
   * One try: opens the source at the current offset and reads it to its end.
   * A source that ends cleanly before the stated length after delivering
   * something is opened again at once (a server that serves a long entity in
   * several ranges); one that ends without delivering anything is a fault.
   */
  async #readToEnd(info: AttemptInfo): Promise<void> {
    for (;;) {
      const from = this.#offset;
      // Every byte arrived and only the end went missing (a reset after the last byte): nothing is left to open for.
      if (this.#total !== undefined && from >= this.#total) return;
      await this.#readOnce(info.signal);
      const total = this.#total;
      if (total === undefined || this.#offset >= total) return;
      if (this.#offset === from) {
        throw new SourceError('ended-early', `the source ended at byte ${from} of ${total} without delivering anything`);
      }
    }
  }

  /** Opens the source once and pushes what it delivers; resolves when it ends cleanly, rejects when it fails. */
  #readOnce(attemptSignal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const controller = new AbortController();
      const stopped = this.#stopped.signal;
      let settled = false;
      let source: Readable | undefined;
      let unwatch: (() => void) | undefined;

      const settle = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        stopped.removeEventListener('abort', onAbort);
        attemptSignal?.removeEventListener('abort', onAbort);
        unwatch?.();
        if (source !== undefined) {
          source.off('data', onData);
          // A source left behind may still report an error (a late reset); nobody must have to hear it.
          source.on('error', ignore);
          if (!source.destroyed) source.destroy();
        }
        if (this.#segment === segment) {
          this.#segment = undefined;
          this.#source = undefined;
        }
        if (error === undefined) resolve();
        else {
          if (!controller.signal.aborted) controller.abort(error);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the source's or the caller's error, passed on unchanged for classify()
          reject(error);
        }
      };
      const segment: Segment = { fail: settle };
      function onAbort(this: AbortSignal): void {
        settle(this.reason);
      }

      const onData = (chunk: unknown): void => {
        if (settled) return;
        if (!(chunk instanceof Uint8Array)) {
          settle(
            new TypeError(
              `resumablePipeline: the source must deliver bytes (Buffer or Uint8Array), got ${typeof chunk}; do not set an encoding on it`,
            ),
          );
          return;
        }
        const offset = this.#offset + chunk.length;
        const total = this.#total;
        if (total !== undefined && offset > total) {
          settle(new SourceError('too-long', `the source delivered more than its length of ${total} bytes (${offset} at least)`));
          return;
        }
        this.#offset = offset;
        const now = performance.now();
        if (now - this.#lastProgressAt >= this.#settings.progressIntervalMs) {
          this.#lastProgressAt = now;
          this.#emitProgress();
        }
        if (this.push(chunk)) this.#waitingSince = now;
        else {
          this.#wanting = false;
          this.#sourcePaused = true;
          source?.pause();
        }
      };

      const attach = (opened: unknown): void => {
        if (!isReadable(opened)) {
          settle(new TypeError(`resumablePipeline: open() must return a Readable or a promise of one, got ${describe(opened)}`));
          return;
        }
        if (settled) {
          opened.on('error', ignore);
          opened.destroy();
          return;
        }
        try {
          unwatch = finished(opened, { writable: false }, (error) => {
            if (error !== undefined && error !== null) settle(error);
            else settle();
          });
        } catch (error) {
          // Not a stream finished() can watch (a Readable look-alike); nothing of it was attached yet.
          settle(new TypeError(`resumablePipeline: open() must return a Readable, got an object stream.finished() cannot watch`, { cause: error }));
          return;
        }
        source = opened;
        this.#source = opened;
        opened.on('data', onData);
        this.#sourcePaused = !this.#wanting;
        if (this.#sourcePaused) opened.pause();
      };

      if (stopped.aborted) {
        settle(stopped.reason);
        return;
      }
      stopped.addEventListener('abort', onAbort);
      attemptSignal?.addEventListener('abort', onAbort);
      this.#opens++;
      this.#segment = segment;
      this.#waitingSince = performance.now();
      this.#armStallTimer();
      const context: OpenContext = {
        attempt: this.#opens,
        signal: controller.signal,
        fault: this.#lastFault,
        setTotal: (bytes) => {
          if (!settled) this.#setTotal(bytes, settle);
        },
      };
      this.#lastFault = undefined;
      let opened: ReturnType<ResumableSource>;
      try {
        opened = this.#open(this.#offset, context);
      } catch (error) {
        settle(error);
        return;
      }
      if (isPromiseLike(opened)) {
        Promise.resolve(opened).then(attach, (error: unknown) => settle(error));
      } else attach(opened);
    });
  }

  #setTotal(bytes: number, fail: (error: unknown) => void): void {
    if (!(Number.isSafeInteger(bytes) && bytes >= 0)) {
      fail(new TypeError(`resumablePipeline: setTotal() takes an integer number of bytes >= 0, got ${String(bytes)}`));
      return;
    }
    const known = this.#total;
    if (known === undefined) {
      if (this.#offset > bytes) fail(new SourceError('too-long', `the source states a length of ${bytes} bytes, but ${this.#offset} were delivered`));
      else this.#total = bytes;
    } else if (known !== bytes) {
      fail(new SourceError('length-changed', `the source stated a length of ${known} bytes, now ${bytes}`));
    }
  }

  #emitProgress(): void {
    const { name } = this.#settings;
    this.#events.emit('progress', { event: 'progress', name, bytes: this.#offset, total: this.#total, resumes: this.#resumes });
  }

  /** One timer per pipe, not one per chunk: it wakes once per `stallTimeoutMs` and looks at how long the pipe has waited. */
  #armStallTimer(): void {
    const limitMs = this.#settings.stallTimeoutMs;
    if (
      this.#stallTimer !== undefined ||
      this.#stallVerdict !== undefined ||
      limitMs === Number.POSITIVE_INFINITY ||
      this.#complete ||
      this.destroyed
    ) {
      return;
    }
    this.#stallTimer = setTimeout(this.#checkStall, limitMs);
    this.#stallTimer.unref();
  }

  readonly #checkStall = (): void => {
    this.#stallTimer = undefined;
    const waitedMs = this.#waitedMs();
    if (waitedMs === undefined) return;
    const limitMs = this.#settings.stallTimeoutMs;
    if (waitedMs < limitMs) {
      this.#stallTimer = setTimeout(this.#checkStall, Math.max(1, Math.ceil(limitMs - waitedMs)));
      this.#stallTimer.unref();
      return;
    }
    // Timers run before I/O in a turn of the event loop: after the loop was busy (a long GC, a blocking
    // task), a chunk may be waiting in the socket. Let this turn's I/O run, then decide.
    this.#stallVerdict = setImmediate(this.#confirmStall);
    this.#stallVerdict.unref();
  };

  readonly #confirmStall = (): void => {
    this.#stallVerdict = undefined;
    const waitedMs = this.#waitedMs();
    if (waitedMs === undefined) return;
    const limitMs = this.#settings.stallTimeoutMs;
    if (waitedMs < limitMs) {
      this.#stallTimer = setTimeout(this.#checkStall, Math.max(1, Math.ceil(limitMs - waitedMs)));
      this.#stallTimer.unref();
      return;
    }
    this.#stalls++;
    this.#segment?.fail(
      new SourceError('stalled', `no byte from the source for ${Math.round(waitedMs)} ms while the pipe waited (stallTimeoutMs ${limitMs})`),
    );
  };

  /** How long the pipe has waited for the open being read; undefined when it is not waiting (the pipe is full, or the loop sleeps). */
  #waitedMs(): number | undefined {
    // Not waiting: the next _read() or open arms the timer again.
    if (!this.#wanting || this.#segment === undefined) return undefined;
    return performance.now() - this.#waitingSince;
  }

  #stopWatching(): void {
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    clearImmediate(this.#stallVerdict);
    this.#stallVerdict = undefined;
  }
}

/**
 * What the pipe fails with: an error that trying again cannot help as itself
 * (a refusal, a source's own mistake: it already says what happened, and
 * the `give-up` event has the count), anything else as the retry loop's
 * verdict (`RetryError`: attempts, deadline, budget, shouldRetry).
 */
function pipeError(error: unknown): Error {
  if (error instanceof RetryError && error.reason === 'not-transient' && error.cause instanceof Error) return error.cause;
  return error instanceof Error ? error : new Error(String(error));
}

function isReadable(value: unknown): value is Readable {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Readable>;
  return (
    typeof candidate.on === 'function' &&
    typeof candidate.pause === 'function' &&
    typeof candidate.resume === 'function' &&
    typeof candidate.destroy === 'function'
  );
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function' && !isReadable(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  if (typeof (value as { getReader?: unknown }).getReader === 'function') return 'a web ReadableStream (wrap it with Readable.fromWeb())';
  return 'an object that is not a Readable';
}
