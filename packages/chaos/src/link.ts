import type { Socket } from 'node:net';
import { createStage } from './create-stage.js';
import type { EndSignal, StageEnvironment, StageOutlet, ToxicStage } from './stage.js';
import type { Toxic, ToxicStream } from './toxic.js';

/** What a link reports to its connection. */
export interface LinkEvents {
  delivered(bytes: number): void;
  dropped(bytes: number, cause: string): void;
  close(cause: string): void;
  reset(cause: string): void;
}

// Beyond this many bytes held by toxics or queued on the destination, the
// source stops being read, so a slow toxic slows the sender (real TCP
// backpressure) instead of growing memory without bound.
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = HIGH_WATER / 2;

/**
 * One direction of a proxied connection: bytes read from `source` pass
 * through the toxics in the order they were added and are written to
 * `destination`. Toxics join and leave while data flows.
 */
export class Link {
  readonly stream: ToxicStream;
  #source: Socket;
  #destination: Socket;
  #events: LinkEvents;
  #env: StageEnvironment;
  #stages: ToxicStage[] = [];
  #sink: StageOutlet;
  #held = 0;
  #delivered = 0;
  #pendingWrites = 0;
  #afterFlush: (() => void)[] = [];
  // What followed each removed stage in the chain when it was removed (null: the destination itself).
  readonly #removedNext = new WeakMap<ToxicStage, ToxicStage | null>();
  #resetTimer: NodeJS.Timeout | undefined;
  #paused = false;
  #disposed = false;
  // A close or reset reached the destination's end of the chain: from then on nothing more may pass, even once the toxic
  // that sent it is gone (removed by a listener of its own drop, while its reset waits out its timeout).
  #cutBy: string | undefined;

  constructor(stream: ToxicStream, source: Socket, destination: Socket, events: LinkEvents, env: StageEnvironment) {
    this.stream = stream;
    this.#source = source;
    this.#destination = destination;
    this.#events = events;
    this.#env = env;
    this.#sink = {
      push: (chunk) => this.#deliver(chunk),
      end: (signal) => this.#finish(signal),
      drop: (bytes, cause) => this.#drop(bytes, cause),
    };
    destination.on('drain', () => this.#checkPressure());
  }

  /** Bytes written to the destination so far. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Names of the toxics acting on this direction, in chain order. */
  get toxicNames(): string[] {
    return this.#stages.map((s) => s.toxic.name);
  }

  addToxic(toxic: Toxic): void {
    if (this.#disposed) return;
    const holder: { stage?: ToxicStage } = {};
    const outlet: StageOutlet = {
      push: (chunk) => {
        if (holder.stage !== undefined) this.#after(holder.stage)?.push(chunk);
      },
      end: (signal) => {
        if (holder.stage !== undefined) this.#after(holder.stage)?.end(signal);
      },
      drop: (bytes, cause) => this.#drop(bytes, cause),
    };
    holder.stage = createStage(toxic, outlet, this.#env);
    this.#stages.push(holder.stage);
  }

  /** Returns whether the toxic was acting on this direction. */
  removeToxic(name: string): boolean {
    const index = this.#stages.findIndex((s) => s.toxic.name === name);
    if (index < 0) return false;
    const stage = this.#stages[index];
    // Flush first, while the stage is still in the chain, so what it held keeps its place in the stream.
    stage?.remove();
    const at = this.#stages.indexOf(stage as ToxicStage);
    this.#removedNext.set(stage as ToxicStage, this.#stages[at + 1] ?? null);
    this.#stages.splice(at, 1);
    return true;
  }

  /** Data read from the source. */
  write(chunk: Buffer): void {
    if (this.#disposed) return;
    if (this.#cutBy !== undefined) {
      this.#events.dropped(chunk.length, this.#cutBy);
      return;
    }
    this.#held += chunk.length;
    (this.#stages[0] ?? this.#sink).push(chunk);
    this.#checkPressure();
  }

  /** The source sent its FIN. */
  end(): void {
    if (this.#disposed || this.#cutBy !== undefined) return;
    (this.#stages[0] ?? this.#sink).end({ kind: 'eof' });
  }

  /** The connection is going away: every timer stops; bytes still held count as dropped. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const stage of this.#stages) stage.dispose();
    this.#stages = [];
    if (this.#resetTimer !== undefined) clearTimeout(this.#resetTimer);
    this.#resetTimer = undefined;
    this.#afterFlush = [];
    if (this.#held > 0) this.#events.dropped(this.#held, 'connection ended');
    this.#held = 0;
  }

  #after(stage: ToxicStage): Pick<StageOutlet, 'push' | 'end'> | undefined {
    if (this.#disposed) return undefined;
    const index = this.#stages.indexOf(stage);
    if (index >= 0) return this.#stages[index + 1] ?? this.#sink;
    // A removed stage can still pass something on: a reset that a 'fault' listener of its own drop removed it
    // during. It goes to what followed the stage when it was removed (or, if that went too, to what followed that).
    if (!this.#removedNext.has(stage)) return undefined;
    let next = this.#removedNext.get(stage) ?? null;
    while (next !== null && !this.#stages.includes(next)) next = this.#removedNext.get(next) ?? null;
    return next ?? this.#sink;
  }

  #deliver(chunk: Buffer): void {
    if (this.#disposed) return;
    this.#held -= chunk.length;
    const destination = this.#destination;
    if (destination.destroyed || destination.writableEnded) {
      this.#events.dropped(chunk.length, 'destination closed');
    } else {
      this.#pendingWrites++;
      destination.write(chunk, () => this.#written());
      this.#delivered += chunk.length;
      this.#events.delivered(chunk.length);
    }
    this.#checkPressure();
  }

  #drop(bytes: number, cause: string): void {
    if (this.#disposed || bytes === 0) return;
    this.#held -= bytes;
    this.#events.dropped(bytes, cause);
    this.#checkPressure();
  }

  #written(): void {
    this.#pendingWrites--;
    if (this.#pendingWrites > 0) return;
    const waiting = this.#afterFlush;
    this.#afterFlush = [];
    for (const run of waiting) run();
  }

  #whenFlushed(run: () => void): void {
    if (this.#pendingWrites === 0) run();
    else this.#afterFlush.push(run);
  }

  #finish(signal: EndSignal): void {
    if (this.#disposed) return;
    switch (signal.kind) {
      case 'eof':
        if (!this.#destination.destroyed && !this.#destination.writableEnded) this.#destination.end();
        return;
      case 'close':
        this.#cutBy = signal.cause;
        this.#events.close(signal.cause);
        return;
      case 'reset':
        this.#cutBy = signal.cause;
        // A RST discards whatever the peer has not read yet, so it waits until the bytes
        // let through before it have left for the kernel, then the toxic's timeout.
        this.#whenFlushed(() => {
          if (this.#disposed || this.#resetTimer !== undefined) return;
          this.#resetTimer = setTimeout(() => {
            this.#resetTimer = undefined;
            this.#events.reset(signal.cause);
          }, signal.delayMs);
          this.#resetTimer.unref();
        });
        return;
    }
  }

  #checkPressure(): void {
    if (this.#disposed) return;
    const pressure = this.#held + this.#destination.writableLength;
    if (!this.#paused && pressure > HIGH_WATER) {
      this.#paused = true;
      this.#source.pause();
    } else if (this.#paused && pressure <= LOW_WATER) {
      this.#paused = false;
      this.#source.resume();
    }
  }
}
