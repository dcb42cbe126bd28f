/**
 * One command for every benchmark: `pnpm bench` (full) or `pnpm bench:smoke`
 * (a few iterations each, to prove they still run; CI uses it). Pass names to
 * run only some: `pnpm bench classify retry`.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchOptions } from './lib/report.js';

const dir = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const only = args.filter((a) => !a.startsWith('--'));

const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((name) => f.startsWith(name)))
  .sort();

if (files.length === 0) {
  console.error(`no benchmark matches ${only.join(', ')}`);
  process.exit(1);
}

const options: BenchOptions = { smoke };
for (const file of files) {
  const mod = (await import(pathToFileURL(dir + file).href)) as { default: (o: BenchOptions) => Promise<void> };
  console.log(`\n### ${file.replace('.bench.ts', '')}${smoke ? ' (smoke)' : ''}`);
  await mod.default(options);
}
