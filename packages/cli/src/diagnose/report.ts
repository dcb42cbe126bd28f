import type { CauseId } from './causes.js';

export type Verdict = 'ok' | 'warning' | 'problem' | 'skipped';

/** A cause found, with what was seen that points at it. */
export interface Finding {
  readonly cause: CauseId;
  readonly verdict: 'warning' | 'problem';
  /** What was observed, in plain words (never a credential). */
  readonly seen: string;
  /** What to change. */
  readonly fix: string;
}

/** One step of a diagnosis: what was checked, how it went, and what it found. */
export interface StepReport {
  /** `dns`, `tcp`, `tls`, `http`, `websocket`, `mongodb`, `otlp`… */
  readonly step: string;
  readonly verdict: Verdict;
  /** One line. */
  readonly summary: string;
  /** Lines of detail under it. */
  readonly details: readonly string[];
  readonly findings: readonly Finding[];
  readonly durationMs: number;
  /** Figures for --json (addresses, timings, versions…). */
  readonly data: Readonly<Record<string, unknown>>;
}

export interface DiagnoseReport {
  /** The target as given, credentials removed. */
  readonly target: string;
  readonly kind: string;
  /** The worst step verdict. */
  readonly verdict: 'ok' | 'warning' | 'problem';
  readonly steps: readonly StepReport[];
  readonly findings: readonly Finding[];
}

export function worst(verdicts: readonly Verdict[]): 'ok' | 'warning' | 'problem' {
  if (verdicts.includes('problem')) return 'problem';
  if (verdicts.includes('warning')) return 'warning';
  return 'ok';
}
