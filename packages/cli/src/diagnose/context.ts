import type { StepReport } from './report.js';
import { StepRecord } from './step.js';

/** What every step may use: the options, the addresses found so far, and the live display. */
export interface DiagnoseOptions {
  /** Per network operation (lookup, connect, handshake, answer). Default 5 000 ms. */
  readonly timeoutMs?: number;
  /** How long to hold an idle keep-alive connection to see when the server closes it. Default 6 000 ms (above the common client idle timeouts). */
  readonly idleWaitMs?: number;
  /** Extra CA certificates (PEM) to trust, besides the system's. */
  readonly ca?: string | Buffer;
  /** Headers to send (HTTP, WebSocket, OTLP): values are never printed. */
  readonly headers?: Readonly<Record<string, string>>;
  /** For `otlp`: the endpoint and protocol, instead of the OTEL_EXPORTER_OTLP_* variables. */
  readonly endpoint?: string;
  readonly protocol?: 'grpc' | 'http/protobuf' | 'http/json';
  /** Where OTEL_* and NODE_TLS_REJECT_UNAUTHORIZED are read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
}

export interface StepObserver {
  started?(step: string): void;
  finished?(report: StepReport): void;
}

export class DiagnoseContext {
  readonly timeoutMs: number;
  readonly idleWaitMs: number;
  /** CAs to trust besides the system's: --ca, and for OTLP the collector's certificate from the configuration. */
  readonly extraCas: (string | Buffer)[] = [];
  readonly headers: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly options: DiagnoseOptions;
  readonly steps: StepReport[] = [];
  readonly #observer: StepObserver;

  constructor(options: DiagnoseOptions, observer: StepObserver = {}) {
    this.options = options;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.idleWaitMs = options.idleWaitMs ?? 6000;
    if (options.ca !== undefined) this.extraCas.push(options.ca);
    this.headers = options.headers ?? {};
    this.env = options.env ?? process.env;
    this.#observer = observer;
  }

  get aborted(): boolean {
    return this.options.signal?.aborted === true;
  }

  /** Runs one step: timed, shown live, and an unexpected error becomes a problem finding instead of a crash. */
  async step<T>(name: string, work: (record: StepRecord) => Promise<T>): Promise<{ report: StepReport; value: T | undefined }> {
    this.#observer.started?.(name);
    const record = new StepRecord(name);
    if (this.aborted) {
      // Ctrl-C, or the caller's signal: the steps left are shown as not run.
      record.skip('skipped: stopped');
      const report = record.report(0);
      this.steps.push(report);
      this.#observer.finished?.(report);
      return { report, value: undefined };
    }
    const started = performance.now();
    let value: T | undefined;
    try {
      value = await work(record);
    } catch (error) {
      record.summary ||= 'failed';
      record.detail(`unexpected: ${error instanceof Error ? error.message : String(error)}`);
      if (record.findings.length === 0) record.find('diagnose-error', 'problem', error instanceof Error ? error.message : String(error));
    }
    const report = record.report(performance.now() - started);
    this.steps.push(report);
    this.#observer.finished?.(report);
    return { report, value };
  }

  /** Records a step that cannot run because an earlier one failed. */
  skip(name: string, why: string): void {
    this.#observer.started?.(name);
    const record = new StepRecord(name);
    record.skip(why);
    const report = record.report(0);
    this.steps.push(report);
    this.#observer.finished?.(report);
  }
}
