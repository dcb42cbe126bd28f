import type { EndSignal, StageOutlet, ToxicStage } from '../stage.js';
import type { Toxic } from '../toxic.js';

type LimitDataToxic = Extract<Toxic, { type: 'limit_data' }>;

/**
 * Lets exactly `bytes` bytes through in this direction, then closes the
 * connection (the rest of the chunk that crossed the limit, and everything
 * after it, is dropped).
 */
export function createLimitDataStage(toxic: LimitDataToxic, out: StageOutlet): ToxicStage {
  const limit = toxic.attributes.bytes;
  let passed = 0;
  let closed = false;
  let removed = false;
  return {
    toxic,
    push(chunk: Buffer) {
      if (closed) {
        out.drop(chunk.length, toxic.name);
        return;
      }
      if (removed) {
        out.push(chunk);
        return;
      }
      const take = Math.min(chunk.length, limit - passed);
      if (take > 0) {
        passed += take;
        out.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      }
      if (passed >= limit) {
        closed = true;
        if (take < chunk.length) out.drop(chunk.length - take, toxic.name);
        out.end({ kind: 'close', cause: toxic.name });
      }
    },
    end(signal: EndSignal) {
      if (closed) return;
      closed = true;
      out.end(signal);
    },
    remove() {
      removed = true;
    },
    dispose() {
      closed = true;
    },
  };
}
