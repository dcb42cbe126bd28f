import type { ChaosProxy } from '@holdfast/chaos';

/** One fault on one connection: a real RST after `afterBytes`, or a FIN (limit_data) after `afterBytes`. */
export interface PlannedFault {
  readonly type: 'reset_peer' | 'limit_data';
  /** Bytes of the response (headers included) that pass before the fault. */
  readonly afterBytes: number;
}

/**
 * Puts the next planned fault on each new connection through the proxy, and
 * takes it away once it has cut that connection (the RST or FIN sent, not
 * merely triggered: removed earlier, a triggered toxic would let the bytes
 * after the ones it dropped through until the reset goes out). Returns how
 * many faults have fired so far.
 */
export function injectFaults(proxy: ChaosProxy, plan: readonly PlannedFault[]): () => number {
  let next = 0;
  let fired = 0;
  let active: string | undefined;
  proxy.on('connection', () => {
    const fault = plan[next];
    if (active !== undefined || fault === undefined) return;
    active = `planned-${next++}`;
    proxy.addToxic(
      fault.type === 'reset_peer'
        ? { name: active, type: 'reset_peer', attributes: { after_bytes: fault.afterBytes } }
        : { name: active, type: 'limit_data', attributes: { bytes: fault.afterBytes } },
    );
  });
  proxy.on('fault', (event) => {
    if (event.cause !== active || (event.action !== 'reset' && event.action !== 'close')) return;
    proxy.removeToxic(active);
    active = undefined;
    fired++;
  });
  return () => fired;
}

/** A plan of `count` faults of random type, each after a random number of bytes in [min, max). */
export function randomPlan(count: number, random: () => number, min: number, max: number): PlannedFault[] {
  return Array.from({ length: count }, () => ({
    type: random() < 0.5 ? 'reset_peer' : 'limit_data',
    afterBytes: Math.floor(min + random() * (max - min)),
  }));
}

/** mulberry32: a small deterministic PRNG, so a failing plan can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
