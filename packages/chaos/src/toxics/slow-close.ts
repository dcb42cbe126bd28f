import type { EndSignal, StageOutlet, ToxicStage } from '../stage.js';
import type { Toxic } from '../toxic.js';

type SlowCloseToxic = Extract<Toxic, { type: 'slow_close' }>;

/**
 * Data passes untouched; a close (FIN, or a close by a toxic before this one)
 * is held for `delay` ms. A reset is not a close and passes at once.
 */
export function createSlowCloseStage(toxic: SlowCloseToxic, out: StageOutlet): ToxicStage {
  let held: { signal: EndSignal; timer: NodeJS.Timeout } | undefined;
  const release = (): void => {
    if (held === undefined) return;
    const { signal, timer } = held;
    held = undefined;
    clearTimeout(timer);
    out.end(signal);
  };
  return {
    toxic,
    push: (chunk) => out.push(chunk),
    end(signal: EndSignal) {
      if (signal.kind === 'reset' || held !== undefined) {
        out.end(signal);
        return;
      }
      const timer = setTimeout(release, toxic.attributes.delay);
      timer.unref();
      held = { signal, timer };
    },
    remove: release,
    dispose() {
      if (held !== undefined) clearTimeout(held.timer);
      held = undefined;
    },
  };
}
