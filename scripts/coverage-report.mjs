// Prints coverage per package from vitest's json-summary and enforces the
// per-package floors the issues ask for (core: branches >= 90 %).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const floors = { core: { branches: 90 } };
const summary = JSON.parse(readFileSync('coverage/coverage-summary.json', 'utf8'));
const perPackage = new Map();
for (const [file, data] of Object.entries(summary)) {
  if (file === 'total') continue;
  const match = /^packages\/([^/]+)\//.exec(relative(process.cwd(), file));
  if (!match) continue;
  const pkg = match[1];
  const acc = perPackage.get(pkg) ?? { lines: [0, 0], branches: [0, 0], functions: [0, 0], statements: [0, 0] };
  for (const key of Object.keys(acc)) {
    acc[key][0] += data[key].covered;
    acc[key][1] += data[key].total;
  }
  perPackage.set(pkg, acc);
}
const pct = ([covered, total]) => (total === 0 ? 100 : (100 * covered) / total);
let failed = false;
console.log('\ncoverage by package (v8)');
console.log('package        statements  branches  functions     lines');
for (const [pkg, acc] of [...perPackage].sort()) {
  const row = ['statements', 'branches', 'functions', 'lines'].map((k) => pct(acc[k]).toFixed(1).padStart(9));
  console.log(`${pkg.padEnd(14)}${row.join(' ')}`);
  for (const [metric, floor] of Object.entries(floors[pkg] ?? {})) {
    if (pct(acc[metric]) < floor) {
      console.error(`coverage: ${pkg} ${metric} ${pct(acc[metric]).toFixed(1)} % is below the floor of ${floor} %`);
      failed = true;
    }
  }
}
if (failed) process.exit(1);
