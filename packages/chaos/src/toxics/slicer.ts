import type { EndSignal, StageEnvironment, StageOutlet, ToxicStage } from '../stage.js';
import { TimedQueue } from '../timed-queue.js';
import type { Toxic } from '../toxic.js';

type SlicerToxic = Extract<Toxic, { type: 'slicer' }>;

/**
 * Cuts every chunk into slices of `average_size` +/- `size_variation` bytes
 * and sends them `delay` µs apart, the way a real network fragments a write.
 * Timers run at millisecond granularity, so delays below 1000 µs round up to
 * about 1 ms; `delay: 0` writes the slices back to back (the reader may then
 * still receive several in one read).
 */
export function createSlicerStage(toxic: SlicerToxic, out: StageOutlet, env: StageEnvironment): ToxicStage {
  const queue = new TimedQueue();
  const { average_size: average, size_variation: variation, delay } = toxic.attributes;
  const gapMs = delay / 1000;
  const sliceSize = (): number => Math.max(1, average + (variation > 0 ? Math.floor(env.random() * (2 * variation + 1)) - variation : 0));
  return {
    toxic,
    push(chunk: Buffer) {
      let at = Math.max(performance.now(), queue.lastDue);
      for (let offset = 0; offset < chunk.length;) {
        const slice = chunk.subarray(offset, offset + sliceSize());
        offset += slice.length;
        queue.schedule(at, () => out.push(slice));
        at += gapMs;
      }
      // The gap after the last slice separates it from the next chunk's first one.
      if (gapMs > 0) queue.schedule(at, () => undefined);
    },
    end(signal: EndSignal) {
      queue.schedule(performance.now(), () => out.end(signal));
    },
    remove: () => queue.flush(),
    dispose: () => queue.clear(),
  };
}
