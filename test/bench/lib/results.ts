/**
 * The benchmarks' headline figures in a structured form, beside the Markdown
 * tables they print: each bench calls `recordFigure()` with the numbers of a
 * table it printed, and `pnpm bench:report` (test/bench/report.ts) writes what
 * was recorded as JSON and draws it as SVG charts. Recording prints nothing
 * and changes nothing a bench measures: it keeps a few objects in memory.
 *
 * A figure is one metric over the contenders of one run: holdfast beside the
 * raw transport and the peers, measured in the same rounds.
 */
import os from 'node:os';
import type { Environment } from './environment.js';

/** One contender's value in a figure. */
export interface FigureValue {
  readonly contender: string;
  /** The headline value: a median over rounds, a count, a ratio… as the bench's table shows it. */
  readonly value: number;
  /** holdfast's own rows are drawn highlighted. Default: the contender's name contains "holdfast". */
  readonly holdfast?: boolean;
  /** A spread around the value (lowest–highest of the rounds, or the middle half), drawn as a whisker. */
  readonly low?: number;
  readonly high?: number;
  /**
   * The value's ratio to the figure's baseline as the bench computed it (e.g. the median of per-round ratios).
   * Default, when the figure has a baseline: this value divided by the baseline's.
   */
  readonly ratio?: number;
  /** A few words shown beside the value (e.g. "2 of 3 rounds"). */
  readonly note?: string;
}

export interface Figure {
  /** Unique within the bench: kebab-case, used in file names (`<bench>-<id>.svg`). */
  readonly id: string;
  readonly title: string;
  /** What the values count, with the unit: `requests/s`, `ns per call`, `requests applied twice`. */
  readonly metric: string;
  readonly better: 'higher' | 'lower';
  /** The contender `ratio` refers to (the raw transport, or the plain client). */
  readonly baseline?: string;
  /** How the values were made: rounds, sizes, what the spread is. */
  readonly note?: string;
  readonly values: readonly FigureValue[];
}

export interface RecordedFigure extends Figure {
  readonly values: readonly (FigureValue & { readonly holdfast: boolean })[];
}

export interface BenchRecord {
  readonly bench: string;
  readonly smoke: boolean;
  readonly startedAt: string;
  readonly durationMs: number;
  /** os.loadavg() (1, 5, 15 min) when the bench started and ended: how busy the machine was. */
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly figures: readonly RecordedFigure[];
}

const ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

interface Running {
  readonly bench: string;
  readonly smoke: boolean;
  readonly startedAt: number;
  readonly loadStart: readonly number[];
  readonly figures: RecordedFigure[];
}

let current: Running | undefined;

/** Called by the runner before a bench starts. */
export function beginBench(bench: string, smoke: boolean): void {
  if (current !== undefined) endBench();
  current = { bench, smoke, startedAt: Date.now(), loadStart: loadAverage(), figures: [] };
}

function loadAverage(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100);
}

/** Called by the runner after a bench ended; returns what it recorded. */
export function endBench(): BenchRecord {
  if (current === undefined) throw new Error('endBench() without beginBench()');
  const { bench, smoke, startedAt, loadStart, figures } = current;
  current = undefined;
  return {
    bench,
    smoke,
    startedAt: new Date(startedAt).toISOString(),
    durationMs: Date.now() - startedAt,
    loadAverage: { start: loadStart, end: loadAverage() },
    figures,
  };
}

/**
 * Records one headline figure of the running bench. Values that are not
 * finite (a contender that never recovered: `Infinity`; none measured: `NaN`)
 * are kept as `null` in the JSON and drawn as "none".
 */
export function recordFigure(figure: Figure): void {
  // A bench run on its own (not through the runner) records into an anonymous slot, so it never throws for that.
  current ??= { bench: 'unnamed', smoke: false, startedAt: Date.now(), loadStart: loadAverage(), figures: [] };
  if (!ID.test(figure.id)) throw new RangeError(`figure id '${figure.id}' must be kebab-case (a-z, 0-9, '-')`);
  if (current.figures.some((f) => f.id === figure.id)) throw new RangeError(`figure id '${figure.id}' recorded twice in ${current.bench}`);
  if (figure.values.length === 0) throw new RangeError(`figure '${figure.id}' has no values`);
  if (figure.baseline !== undefined && !figure.values.some((v) => v.contender === figure.baseline)) {
    throw new RangeError(`figure '${figure.id}': baseline '${figure.baseline}' is not one of its contenders`);
  }
  const base = figure.values.find((v) => v.contender === figure.baseline)?.value;
  const ratioTo = (value: number): number | undefined =>
    base !== undefined && Number.isFinite(base) && base !== 0 && Number.isFinite(value) ? value / base : undefined;
  current.figures.push({
    ...figure,
    values: figure.values.map((v) => {
      const ratio = v.ratio ?? (v.contender === figure.baseline ? undefined : ratioTo(v.value));
      return { ...v, holdfast: v.holdfast ?? /holdfast/i.test(v.contender), ...(ratio === undefined ? {} : { ratio }) };
    }),
  });
}

/** One bench's entry in results.json: what it recorded, and where it ran. */
export interface BenchReport extends BenchRecord {
  readonly environment: Environment;
}

/**
 * Every bench's latest report, sorted by name: what docs/bench/results.json
 * holds. In the file (serializeResults()), each environment is written once
 * in `environments` and a bench names its own by index, and a value that is
 * not finite is `null` (JSON has no NaN).
 */
export interface ResultsFile {
  readonly format: 1;
  readonly benches: readonly BenchReport[];
}

/** `previous` with `reports` replacing the entries of the same benches (a re-run of some benches keeps the others). */
export function mergeResults(previous: ResultsFile | undefined, reports: readonly BenchReport[]): ResultsFile {
  const byName = new Map((previous?.benches ?? []).map((b) => [b.bench, b]));
  for (const report of reports) byName.set(report.bench, report);
  return { format: 1, benches: [...byName.values()].sort((a, b) => a.bench.localeCompare(b.bench)) };
}

/** results.json's text (before formatting): `{ format, environments, benches }`, each bench's `environment` an index. */
export function serializeResults(results: ResultsFile): string {
  const environments: Environment[] = [];
  const index = new Map<string, number>();
  const benches = results.benches.map((bench) => {
    const key = JSON.stringify(bench.environment);
    if (!index.has(key)) index.set(key, environments.push(bench.environment) - 1);
    return { ...bench, environment: index.get(key) };
  });
  return JSON.stringify({ format: results.format, environments, benches });
}

/** Reads results.json back, failing with what is wrong rather than drawing a broken page from it. */
export function parseResults(text: string): ResultsFile {
  type Loose = Partial<Record<string, unknown>>;
  const fail = (what: string): never => {
    throw new Error(`results.json: ${what}`);
  };
  const object = (value: unknown): Loose => (typeof value === 'object' && value !== null ? value : {});
  const array = (value: unknown): unknown[] => (Array.isArray(value) ? (value as unknown[]) : []);
  const data = object(JSON.parse(text));
  if (data.format !== 1) fail(`format ${String(data.format)}, expected 1`);
  if (!Array.isArray(data.benches)) fail('no benches array');
  if (!Array.isArray(data.environments)) fail('no environments array');
  const environments = array(data.environments).map(object);
  const benches: BenchReport[] = [];
  for (const bench of array(data.benches).map(object)) {
    const where = `bench ${String(bench.bench)}`;
    const environment = typeof bench.environment === 'number' ? environments[bench.environment] : undefined;
    if (environment === undefined) fail(`${where}: environment ${String(bench.environment)} is not an index into environments`);
    if (typeof bench.bench !== 'string' || typeof bench.durationMs !== 'number' || typeof bench.startedAt !== 'string') {
      fail(`${where}: name, startedAt or durationMs missing`);
    }
    if (typeof object(environment!.machine).cpu !== 'string') fail(`${where}: its environment has no machine`);
    if (!Array.isArray(bench.figures)) fail(`${where}: no figures array`);
    for (const figure of array(bench.figures).map(object)) {
      if (typeof figure.id !== 'string' || typeof figure.title !== 'string' || typeof figure.metric !== 'string' || !Array.isArray(figure.values)) {
        fail(`${where}: figure ${String(figure.id)} lacks id, title, metric or values`);
      }
      for (const v of array(figure.values).map(object)) {
        if (typeof v.contender !== 'string' || !(typeof v.value === 'number' || v.value === null) || typeof v.holdfast !== 'boolean') {
          fail(`${where}: figure ${String(figure.id)}: a value lacks contender, value or holdfast`);
        }
      }
    }
    benches.push({ ...(bench as unknown as BenchReport), environment: environment as unknown as Environment });
  }
  return { format: 1, benches };
}
