import type { EndSignal, StageOutlet, ToxicStage } from '../stage.js';
import type { Toxic } from '../toxic.js';

type TimeoutToxic = Extract<Toxic, { type: 'timeout' }>;

/**
 * From the moment it applies (the connection opened, or the toxic was added
 * to an open connection) no data passes in this direction: it is dropped,
 * and the peer sees a silent connection. After `timeout` ms the connection
 * is closed; with `timeout: 0` it stays silent until the toxic is removed.
 */
export function createTimeoutStage(toxic: TimeoutToxic, out: StageOutlet): ToxicStage {
  let active = true;
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  const stopTimer = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const finish = (signal: EndSignal): void => {
    stopTimer();
    if (ended) return;
    ended = true;
    out.end(signal);
  };
  if (toxic.attributes.timeout > 0) {
    timer = setTimeout(() => finish({ kind: 'close', cause: toxic.name }), toxic.attributes.timeout);
    timer.unref();
  }
  return {
    toxic,
    push(chunk: Buffer) {
      if (active || ended) out.drop(chunk.length, toxic.name);
      else out.push(chunk);
    },
    end: finish,
    remove() {
      active = false;
      stopTimer();
    },
    dispose: stopTimer,
  };
}
