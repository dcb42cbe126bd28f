import { formatBytes, formatCount, formatMs } from '../display/format.js';
import type { Style } from '../display/style.js';
import { renderTable } from '../display/table.js';
import type { DemoReport, ScenarioReport } from './run-demo.js';
import { METRICS } from './scenario.js';
import type { MetricKey } from './scenario.js';

/** The final tables: one per scenario, then the verdict. */
export function renderDemoReport(report: DemoReport, style: Style): string {
  const parts = report.scenarios.map((s) => renderScenario(s, style));
  const failed = report.scenarios.filter((s) => !s.ok);
  parts.push(
    failed.length === 0
      ? style.green(`✓ holdfast did what it should in all ${report.scenarios.length} scenarios (${formatMs(report.durationMs)}, Node ${report.node})`)
      : style.red(`✗ ${failed.length} of ${report.scenarios.length} scenarios failed a check: ${failed.map((s) => s.name).join(', ')}`),
  );
  return parts.join('\n\n') + '\n';
}

function renderScenario(scenario: ScenarioReport, style: Style): string {
  const header = `${style.bold(scenario.name)}  ${scenario.title}`;
  const lines = [header, style.dim(scenario.fault)];
  if (scenario.rows.length > 0) {
    const headings = ['client', ...scenario.columns.map((c) => scenario.labels[c] ?? METRICS[c])];
    const rows = scenario.rows.map((row) => [
      row.holdfast ? style.cyan(row.client) : row.client,
      ...scenario.columns.map((c) => formatMetric(c, row.metrics[c])),
    ]);
    lines.push('', renderTable(headings, rows, ['left', ...scenario.columns.map(() => 'right' as const)]));
  }
  if (scenario.notes.length > 0) lines.push('', ...scenario.notes.map((n) => style.dim(n)));
  lines.push('', ...scenario.checks.map((c) => (c.ok ? `${style.green('✓')} ${c.text}` : `${style.red('✗')} ${c.text}`)));
  return lines.join('\n');
}

function formatMetric(key: MetricKey, value: number | undefined): string {
  if (value === undefined) return '–';
  if (key === 'bytesVerified') return formatBytes(value);
  if (key === 'recoveryMs') return value < 0 ? 'never' : formatMs(value);
  return formatCount(value);
}
