/**
 * What a demo scenario is: a fault, injected into real connections, and the
 * clients that live through it side by side (a plain one first, then
 * holdfast), each measured in the same run. A scenario says what its
 * holdfast side must achieve (`checks`); the demo's exit code is 0 only
 * when every check held.
 */
export const METRICS = {
  requests: 'requests',
  successes: 'succeeded',
  retries: 'retries',
  duplicates: 'duplicates',
  outcomeUnknown: 'outcome unknown',
  appliedButFailed: 'applied, told failed',
  cutOff: 'cut off after sending',
  unanswered: 'reached the app, unanswered',
  reconnects: 'reconnects',
  bytesVerified: 'bytes verified',
  spansLost: 'spans lost',
  lost: 'lost',
  lostSilently: 'lost silently',
  attemptsWhileDown: 'attempts while down',
  recoveryMs: 'first success after',
} as const;

/** Every number a scenario can report; a table shows the ones its scenario lists. */
export type MetricKey = keyof typeof METRICS;

export type Metrics = Partial<Record<MetricKey, number>>;

/** One client's figures in one scenario. */
export interface ClientRow {
  /** What ran, in the user's words: `fetch (undici)`, `holdfast createHttpClient`. */
  readonly client: string;
  readonly holdfast: boolean;
  readonly metrics: Metrics;
}

/** Something holdfast's side had to achieve, and whether it did. */
export interface Check {
  readonly ok: boolean;
  readonly text: string;
}

export interface ScenarioOutcome {
  readonly rows: readonly ClientRow[];
  readonly checks: readonly Check[];
  /** Facts measured in the run that the table has no column for. */
  readonly notes?: readonly string[];
}

export interface ScenarioContext {
  /** The live display: what is happening now, and how far along (0..1). */
  progress(text: string, fraction?: number): void;
  /** A milestone ("the server restarts"). */
  note(text: string): void;
}

export interface Scenario {
  /** For `--scenario`: `http-get`, `ws-restart`… */
  readonly name: string;
  /** One line: the transport and the fault. */
  readonly title: string;
  /** What is injected and how, in one or two sentences. */
  readonly fault: string;
  /** The table's columns, in order. */
  readonly columns: readonly MetricKey[];
  /** Column headings that read better for this scenario (`requests` → `clients`). */
  readonly labels?: Partial<Record<MetricKey, string>>;
  run(context: ScenarioContext): Promise<ScenarioOutcome>;
}

/** A check that holds when `value` equals `expected`, worded with both. */
export function expectEqual(text: string, value: number, expected: number): Check {
  return { ok: value === expected, text: `${text}: ${value}${value === expected ? '' : ` (expected ${expected})`}` };
}
