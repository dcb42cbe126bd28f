/**
 * One command for every benchmark: `pnpm bench` (full) or `pnpm bench:smoke`
 * (a few iterations each, to prove they still run; CI uses it). Pass names to
 * run only some: `pnpm bench classify retry`. `pnpm bench:report` runs them
 * too and writes their figures as JSON and charts (test/bench/report.ts).
 */
import { benchNames, runBenches } from './lib/runner.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const only = args.filter((a) => !a.startsWith('--'));

const names = benchNames(only);
if (names.length === 0) {
  console.error(`no benchmark matches ${only.join(', ')}`);
  process.exit(1);
}
await runBenches(names, { smoke });
