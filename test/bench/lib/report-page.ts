/**
 * docs/bench/README.md, written from results.json: the machine and the
 * versions first, then per bench its figures, each as its chart and as a
 * table (the same numbers, for reading and for diffs).
 */
import type { BenchReport, RecordedFigure } from './results.js';
import { formatValue } from './svg-chart.js';

export function chartFile(bench: string, figure: RecordedFigure): string {
  return `${bench}-${figure.id}.svg`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function minutes(ms: number): string {
  return ms < 90_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 60_000).toFixed(1)} min`;
}

function figureTable(figure: RecordedFigure): string[] {
  const hasRatio = figure.values.some((v) => typeof v.ratio === 'number' && Number.isFinite(v.ratio));
  const hasSpread = figure.values.some((v) => typeof v.low === 'number' && typeof v.high === 'number');
  const hasNote = figure.values.some((v) => v.note !== undefined);
  const headers = [
    'contender',
    figure.metric,
    ...(hasRatio ? [figure.baseline === undefined ? 'ratio (see above)' : `ratio to ${figure.baseline}`] : []),
    ...(hasSpread ? ['spread'] : []),
  ];
  if (hasNote) headers.push('note');
  const rows = figure.values.map((v) => {
    const bold = (s: string): string => (v.holdfast ? `**${s}**` : s);
    const row = [bold(cell(v.contender)), bold(formatValue(v.value))];
    if (hasRatio) row.push(v.contender === figure.baseline ? '1 (baseline)' : typeof v.ratio === 'number' ? v.ratio.toFixed(3) : '');
    if (hasSpread) row.push(typeof v.low === 'number' && typeof v.high === 'number' ? `${formatValue(v.low)} – ${formatValue(v.high)}` : '');
    if (hasNote) row.push(cell(v.note ?? ''));
    return row;
  });
  return [`| ${headers.map(cell).join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

export function renderPage(reports: readonly BenchReport[]): string {
  const lines: string[] = [];
  const push = (...more: string[]): void => void lines.push(...more);
  push(
    '# Benchmarks: holdfast beside its peers',
    '',
    '<!-- Written by `pnpm bench:report` (test/bench/report.ts) from results.json beside it. Do not edit by hand: run it again. -->',
    '',
  );
  if (reports.length === 0) {
    push(
      'No run recorded yet. `npx -y pnpm@9.15.9 bench:report` runs every benchmark in full (on a quiet machine:',
      'it takes a while) and writes here results.json, one SVG chart per headline figure, and this page: holdfast',
      'beside the raw transport and its peers, with ratios, the machine, the load, and the versions used.',
      "`npx -y pnpm@9.15.9 bench:report --smoke` runs each bench's smoke mode instead (what `bench:smoke` runs) to prove",
      'the pipeline, and writes to a new temporary directory: its figures mean nothing.',
      '',
    );
    return lines.join('\n');
  }
  if (reports.some((r) => r.smoke)) {
    push(
      '> **Smoke run.** A few iterations of each bench, to prove the pipeline works: these figures mean nothing. A real report comes from `pnpm bench:report` at a quiet time.',
      '',
    );
  }
  const first = reports[0]!.environment;
  const machines = new Set(reports.map((r) => JSON.stringify(r.environment.machine)));
  const commits = new Set(
    reports.map((r) =>
      r.environment.commit === null ? 'unknown' : `${r.environment.commit.sha}${r.environment.commit.dirty ? ' (with uncommitted changes)' : ''}`,
    ),
  );
  const byStart = [...reports].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const started = byStart.map((r) => r.startedAt);
  const loads = reports.flatMap((r) => [r.loadAverage.start[0] ?? 0, r.loadAverage.end[0] ?? 0]);
  push(
    'Every figure below was measured in one run of each bench: holdfast and the peers in the same',
    'process, in alternating rounds, on the same machine. Each bench prints the same figures as',
    'Markdown tables with more columns (`npx -y pnpm@9.15.9 bench <name>`); results.json beside this',
    'page holds every recorded value. How each bench measures is in its file, `test/bench/<name>.bench.ts`.',
    '',
    '## The machine and the run',
    '',
    '| | |',
    '| --- | --- |',
    `| CPU | ${cell(first.machine.cpu)}, ${first.machine.cores} cores |`,
    `| memory | ${first.machine.memoryGiB} GiB |`,
    `| OS | ${cell(first.machine.os)} |`,
    `| Node.js | ${first.machine.node} (V8 ${first.machine.v8}) |`,
    `| commit | ${[...commits].join(', ')} |`,
    `| run | ${started[0]!.slice(0, 16).replace('T', ' ')} to ${started.at(-1)!.slice(0, 16).replace('T', ' ')} UTC, ${minutes(reports.reduce((s, r) => s + r.durationMs, 0))} of benches |`,
    `| load average (1 / 5 / 15 min) | ${byStart[0]!.loadAverage.start.join(' / ')} at the start, ${byStart.at(-1)!.loadAverage.end.join(' / ')} at the end; 1 min between ${formatValue(Math.min(...loads))} and ${formatValue(Math.max(...loads))} at the benches' starts and ends (${first.machine.cores} cores) |`,
  );
  if (machines.size > 1) push('', "> The benches below ran on more than one machine: see each bench's JSON for its own.");
  push('', '## Versions', '', '| package | version | installed for |', '| --- | --- | --- |');
  for (const p of first.holdfast) push(`| ${p.name} | ${p.version} | (this repository) |`);
  for (const lib of first.libraries) push(`| ${cell(lib.name)} | ${cell(lib.version)} | ${lib.packages.join(', ')} |`);
  push('', '## Benches', '');
  for (const r of reports)
    push(`- [${r.bench}](#${r.bench}) (${r.figures.length} figure${r.figures.length === 1 ? '' : 's'}, ${minutes(r.durationMs)})`);
  for (const r of reports) {
    push(
      '',
      `## ${r.bench}`,
      '',
      `\`npx -y pnpm@9.15.9 bench ${r.bench}\` (test/bench/${r.bench}.bench.ts), ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${minutes(r.durationMs)}, load average ${r.loadAverage.start.join(' / ')} at the start and ${r.loadAverage.end.join(' / ')} at the end.`,
    );
    for (const figure of r.figures) {
      push('', `### ${figure.title}`, '', `![${cell(figure.title)}](${chartFile(r.bench, figure)})`, '');
      if (figure.note !== undefined) push(figure.note, '');
      push(...figureTable(figure));
    }
  }
  return `${lines.join('\n')}\n`;
}
