import type { EndSignal, StageOutlet, ToxicStage } from '../stage.js';
import { TimedQueue } from '../timed-queue.js';
import type { Toxic } from '../toxic.js';

type BandwidthToxic = Extract<Toxic, { type: 'bandwidth' }>;

// A large chunk at a low rate leaves in pieces of this much transmission time,
// so the reader sees a steady trickle rather than one long silence.
const PIECE_MS = 100;

/**
 * Lets data through at `rate` KB/s (1 KB = 1000 bytes, as Toxiproxy counts):
 * each piece leaves when the link would have finished sending it.
 */
export function createBandwidthStage(toxic: BandwidthToxic, out: StageOutlet): ToxicStage {
  const queue = new TimedQueue();
  const bytesPerMs = toxic.attributes.rate; // KB/s == bytes/ms
  const pieceSize = Math.max(1, Math.floor(bytesPerMs * PIECE_MS));
  return {
    toxic,
    push(chunk: Buffer) {
      if (bytesPerMs === 0) {
        queue.schedule(performance.now(), () => out.push(chunk));
        return;
      }
      for (let offset = 0; offset < chunk.length; offset += pieceSize) {
        const piece = chunk.subarray(offset, offset + pieceSize);
        const start = Math.max(performance.now(), queue.lastDue);
        queue.schedule(start + piece.length / bytesPerMs, () => out.push(piece));
      }
    },
    end(signal: EndSignal) {
      queue.schedule(performance.now(), () => out.end(signal));
    },
    remove: () => queue.flush(),
    dispose: () => queue.clear(),
  };
}
