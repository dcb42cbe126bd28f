import type { EndSignal, StageEnvironment, StageOutlet, ToxicStage } from '../stage.js';
import { TimedQueue } from '../timed-queue.js';
import type { Toxic } from '../toxic.js';

type LatencyToxic = Extract<Toxic, { type: 'latency' }>;

/**
 * Delays every chunk by `latency` +/- `jitter` ms from the moment it arrived.
 * Chunks keep their order (a chunk never leaves before the one ahead of it),
 * so jitter stretches gaps but never reorders a byte stream.
 */
export function createLatencyStage(toxic: LatencyToxic, out: StageOutlet, env: StageEnvironment): ToxicStage {
  const queue = new TimedQueue();
  const { latency, jitter } = toxic.attributes;
  const delay = (): number => Math.max(0, latency + (jitter > 0 ? (env.random() * 2 - 1) * jitter : 0));
  return {
    toxic,
    push(chunk: Buffer) {
      queue.schedule(performance.now() + delay(), () => out.push(chunk));
    },
    end(signal: EndSignal) {
      queue.schedule(performance.now(), () => out.end(signal));
    },
    remove: () => queue.flush(),
    dispose: () => queue.clear(),
  };
}
