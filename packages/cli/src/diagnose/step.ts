import { classify, redactText } from '@holdfast/core';
import type { Fault } from '@holdfast/core';
import { CAUSES } from './causes.js';
import type { CauseId } from './causes.js';
import type { Finding, StepReport, Verdict } from './report.js';
import { worst } from './report.js';

/** Collects one step's findings and details; `report()` gives the verdict (the worst finding). */
export class StepRecord {
  readonly step: string;
  readonly details: string[] = [];
  readonly findings: Finding[] = [];
  readonly data: Record<string, unknown> = {};
  summary = '';
  skipped = false;

  constructor(step: string) {
    this.step = step;
  }

  detail(line: string): void {
    this.details.push(redactText(line));
  }

  /** A cause found: `seen` says what was observed, `fix` defaults to the cause's. */
  find(cause: CauseId, verdict: 'warning' | 'problem', seen: string, fix: string = CAUSES[cause].fix): void {
    this.findings.push({ cause, verdict, seen: redactText(seen), fix });
  }

  skip(summary: string): void {
    this.skipped = true;
    this.summary = summary;
  }

  report(durationMs: number): StepReport {
    const verdict: Verdict = this.skipped ? 'skipped' : worst(this.findings.map((f) => f.verdict));
    return {
      step: this.step,
      verdict,
      summary: redactText(this.summary),
      details: this.details,
      findings: this.findings,
      durationMs: Math.round(durationMs),
      data: this.data,
    };
  }
}

/** The error's code, message and core's hint, as one line a person can act on. */
export function describeError(error: unknown): { fault: Fault; text: string } {
  const fault = classify(error);
  const message = error instanceof Error ? error.message : String(error);
  const code = fault.code !== 'UNKNOWN' && !message.includes(fault.code) ? `${fault.code}: ` : '';
  return { fault, text: redactText(`${code}${message}`) };
}

/** A promise that rejects with an ETIMEDOUT error after `ms`, for operations without a timeout of their own. */
export function timeoutAfter(ms: number, what: string, signal?: AbortSignal): { promise: Promise<never>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what} did not answer within ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
    signal?.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' })), { once: true });
  });
  promise.catch(() => undefined);
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Races `work` against a timeout and always clears the timer. */
export async function within<T>(work: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  const timeout = timeoutAfter(ms, what, signal);
  try {
    return await Promise.race([work, timeout.promise]);
  } finally {
    timeout.cancel();
  }
}

export function round(ms: number): number {
  return ms < 10 ? Math.round(ms * 10) / 10 : Math.round(ms);
}
