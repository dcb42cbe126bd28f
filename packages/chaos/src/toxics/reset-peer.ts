import type { EndSignal, StageOutlet, ToxicStage } from '../stage.js';
import type { Toxic } from '../toxic.js';

type ResetPeerToxic = Extract<Toxic, { type: 'reset_peer' }>;

/**
 * Triggers on the first byte in this direction (after `after_bytes`, a
 * holdfast extension, have passed) or when this direction closes; from then
 * on nothing more passes, and `timeout` ms later both sides of the connection
 * get a real TCP RST. Removing the toxic after it triggered does not cancel
 * the reset, as in Toxiproxy.
 */
export function createResetPeerStage(toxic: ResetPeerToxic, out: StageOutlet): ToxicStage {
  const { timeout, after_bytes: allowance } = toxic.attributes;
  let passed = 0;
  let triggered = false;
  let removed = false;
  const trigger = (): void => {
    triggered = true;
    out.end({ kind: 'reset', cause: toxic.name, delayMs: timeout });
  };
  return {
    toxic,
    push(chunk: Buffer) {
      if (triggered) {
        out.drop(chunk.length, toxic.name);
        return;
      }
      if (removed) {
        out.push(chunk);
        return;
      }
      const take = Math.min(chunk.length, allowance - passed);
      if (take > 0) {
        passed += take;
        out.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      }
      if (take < chunk.length || passed >= allowance) {
        if (take < chunk.length) out.drop(chunk.length - take, toxic.name);
        trigger();
      }
    },
    end(signal: EndSignal) {
      if (triggered) return;
      if (removed || signal.kind === 'reset') out.end(signal);
      else trigger();
    },
    remove() {
      removed = true;
    },
    dispose() {
      triggered = true;
    },
  };
}
