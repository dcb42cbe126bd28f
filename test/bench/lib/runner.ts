/**
 * Runs the benchmarks of test/bench/ one after the other in this process,
 * printing their tables as they go and collecting the figures each records
 * (lib/results.ts). A bench that records no figure fails the run: a new
 * bench must say what its headline figures are, or the report leaves it out
 * silently.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchOptions } from './report.js';
import { beginBench, endBench, type BenchRecord } from './results.js';

const dir = fileURLToPath(new URL('..', import.meta.url));

/** The bench names (file names without `.bench.ts`) matching `only` (prefixes; all when empty), sorted. */
export function benchNames(only: readonly string[] = []): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.slice(0, -'.bench.ts'.length))
    .filter((name) => only.length === 0 || only.some((prefix) => name.startsWith(prefix)))
    .sort();
}

export async function runBenches(names: readonly string[], options: BenchOptions): Promise<BenchRecord[]> {
  const records: BenchRecord[] = [];
  for (const name of names) {
    const mod = (await import(pathToFileURL(`${dir}${name}.bench.ts`).href)) as { default: (o: BenchOptions) => Promise<void> };
    console.log(`\n### ${name}${options.smoke ? ' (smoke)' : ''}`);
    beginBench(name, options.smoke);
    await mod.default(options);
    const record = endBench();
    if (record.figures.length === 0)
      throw new Error(`bench ${name} recorded no figure: call recordFigure() (test/bench/lib/results.ts) for its headline table`);
    records.push(record);
  }
  return records;
}
