import { formatMs } from '../display/format.js';
import type { LiveBoard } from '../display/live-board.js';
import { VERSION } from '../version.js';
import type { Check, ClientRow, MetricKey, Scenario } from './scenario.js';
import { SCENARIOS } from './scenarios/index.js';

export interface ScenarioReport {
  readonly name: string;
  readonly title: string;
  readonly fault: string;
  readonly columns: readonly MetricKey[];
  readonly labels: Partial<Record<MetricKey, string>>;
  readonly durationMs: number;
  /** Every check held. */
  readonly ok: boolean;
  readonly rows: readonly ClientRow[];
  readonly checks: readonly Check[];
  readonly notes: readonly string[];
}

export interface DemoReport {
  readonly holdfast: string;
  readonly node: string;
  readonly platform: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly scenarios: readonly ScenarioReport[];
}

/** A scenario that runs longer than this is stopped and counted as failed. */
const SCENARIO_LIMIT_MS = 45_000;

/**
 * Runs the chosen scenarios one after another (each one's clients side by
 * side), showing each live on `board`, and returns every figure measured.
 * Once `signal` aborts, no further scenario starts.
 */
export async function runDemo(scenarios: readonly Scenario[] = SCENARIOS, board?: LiveBoard, signal?: AbortSignal): Promise<DemoReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const reports: ScenarioReport[] = [];
  for (const scenario of scenarios) {
    // Ctrl-C: the scenario running ends (its servers closed), the next ones do not start.
    if (signal?.aborted === true) break;
    const row = board?.row(scenario.name, { announce: scenario.title });
    row?.update(scenario.title);
    const t0 = performance.now();
    let report: ScenarioReport;
    try {
      const outcome = await withLimit(
        scenario.run({
          progress: (text, fraction) => row?.update(text, fraction),
          note: (text) => row?.note(text),
        }),
        SCENARIO_LIMIT_MS,
        scenario.name,
      );
      const checks = outcome.checks;
      report = base(scenario, performance.now() - t0, outcome.rows, checks, outcome.notes ?? []);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      report = base(scenario, performance.now() - t0, [], [{ ok: false, text: `the scenario failed: ${message}` }], []);
    }
    reports.push(report);
    const failed = report.checks.filter((c) => !c.ok);
    row?.finish(
      report.ok ? 'ok' : 'problem',
      `${scenario.title} ${formatMs(report.durationMs)}`,
      failed.map((c) => `✗ ${c.text}`),
    );
  }
  board?.stop();
  return {
    holdfast: VERSION,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    startedAt,
    durationMs: Math.round(performance.now() - started),
    ok: reports.length === scenarios.length && reports.every((r) => r.ok),
    scenarios: reports,
  };
}

function base(
  scenario: Scenario,
  durationMs: number,
  rows: readonly ClientRow[],
  checks: readonly Check[],
  notes: readonly string[],
): ScenarioReport {
  return {
    name: scenario.name,
    title: scenario.title,
    fault: scenario.fault,
    columns: scenario.columns,
    labels: scenario.labels ?? {},
    durationMs: Math.round(durationMs),
    ok: checks.length > 0 && checks.every((c) => c.ok),
    rows,
    checks,
    notes,
  };
}

function withLimit<T>(promise: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} did not finish within ${formatMs(ms)}`)), ms);
    timer.unref();
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}
