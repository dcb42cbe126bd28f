/**
 * `pnpm bench:report [name…] [--smoke] [--out dir] [--render-only]`: runs the
 * benchmarks in full (or only those named) and writes into docs/bench/:
 * results.json (every bench's recorded figures, with the machine and the
 * versions), one SVG chart per figure (`<bench>-<figure>.svg`), and
 * README.md, the page that shows them all. The files are rewritten as soon as
 * each bench ends, so a run stopped half-way keeps what it measured; naming
 * benches re-runs those and keeps the others' entries.
 *
 * `--smoke` runs each bench's smoke mode and writes to a new temporary
 * directory unless `--out` says otherwise: its figures mean nothing and must
 * never replace a real report. `--render-only` runs nothing: it redraws the
 * charts and the page from the results.json already in the directory.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { environment } from './lib/environment.js';
import { chartFile, renderPage } from './lib/report-page.js';
import { mergeResults, parseResults, serializeResults, type BenchReport, type ResultsFile } from './lib/results.js';
import { benchNames, runBenches } from './lib/runner.js';
import { barChart } from './lib/svg-chart.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const known = ['--smoke', '--out', '--render-only'];
const unknown = args.filter((a) => a.startsWith('--') && !known.includes(a));
if (unknown.length > 0) {
  console.error(`unknown option ${unknown.join(', ')}; accepted: ${known.join(', ')}`);
  process.exit(1);
}
const outIndex = args.indexOf('--out');
if (outIndex >= 0 && (args[outIndex + 1] === undefined || args[outIndex + 1]!.startsWith('--'))) {
  console.error('--out needs a directory');
  process.exit(1);
}
const smoke = args.includes('--smoke');
const out =
  outIndex >= 0
    ? resolve(process.env.INIT_CWD ?? process.cwd(), args[outIndex + 1]!)
    : smoke
      ? mkdtempSync(join(tmpdir(), 'holdfast-bench-report-'))
      : join(root, 'docs/bench');
const only = args.filter((a, i) => !a.startsWith('--') && !(outIndex >= 0 && i === outIndex + 1));
const resultsPath = join(out, 'results.json');

// The JSON is formatted as the repository's Prettier would, so `prettier --check .` passes on a committed report.
const prettierOptions = { ...(await resolveConfig(join(root, 'package.json'))), parser: 'json' } as const;

function readResults(): ResultsFile | undefined {
  return existsSync(resultsPath) ? parseResults(readFileSync(resultsPath, 'utf8')) : undefined;
}

/** Writes results.json, redraws every chart (removing the charts of figures no longer recorded) and the page. */
async function writeAll(results: ResultsFile): Promise<void> {
  writeFileSync(resultsPath, await format(serializeResults(results), prettierOptions));
  const charts = new Map(results.benches.flatMap((b) => b.figures.map((f) => [chartFile(b.bench, f), barChart(f)] as const)));
  for (const file of readdirSync(out)) if (file.endsWith('.svg') && !charts.has(file)) rmSync(join(out, file));
  for (const [file, svg] of charts) writeFileSync(join(out, file), svg);
  writeFileSync(join(out, 'README.md'), renderPage(results.benches));
}

mkdirSync(out, { recursive: true });
if (args.includes('--render-only')) {
  const results = readResults();
  // No run recorded yet: only the page, saying how to make one.
  if (results === undefined) writeFileSync(join(out, 'README.md'), renderPage([]));
  else await writeAll(results);
  console.log(`report redrawn in ${out}/README.md`);
} else {
  const names = benchNames(only);
  if (names.length === 0) {
    console.error(`no benchmark matches ${only.join(', ')}`);
    process.exit(1);
  }
  const env = environment();
  const started = performance.now();
  let results = readResults();
  for (const name of names) {
    const [record] = await runBenches([name], { smoke });
    const report: BenchReport = { ...record!, environment: env };
    results = mergeResults(results, [report]);
    await writeAll(results);
  }
  console.log(`\n${names.length} bench(es) in ${Math.round((performance.now() - started) / 1000)} s; report in ${out}/README.md`);
}
