import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What the child collector counted since its last reset. */
export interface CollectorSummary {
  /** Spans received, duplicates included. */
  readonly spans: number;
  /** Distinct span ids received. */
  readonly unique: number;
  /** Export requests received. */
  readonly requests: number;
}

export interface CollectorReport extends CollectorSummary {
  /** Times each span id arrived. */
  readonly counts: Map<string, number>;
  /** Date.now() at each span id's first arrival. */
  readonly firstAt: Map<string, number>;
}

/** The parent's handle on otlp-collector.ts running in a child process. */
export interface CollectorProcess {
  readonly httpPort: number;
  readonly grpcPort: number;
  /** Stops the collector as a crash would (open connections destroyed, ports closed). */
  stop(): Promise<void>;
  /** Listens again on the same ports. */
  start(): Promise<void>;
  reset(): Promise<void>;
  summary(): Promise<CollectorSummary>;
  report(): Promise<CollectorReport>;
  /** Ends the child process and waits for it to exit. */
  close(): Promise<void>;
}

const script = fileURLToPath(new URL('./otlp-collector.ts', import.meta.url));

type Answer = { seq: number; error?: string } & Record<string, unknown>;

export async function startCollectorProcess(): Promise<CollectorProcess> {
  const child: ChildProcess = fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending = new Map<number, { resolve: (answer: Answer) => void; reject: (error: Error) => void }>();
  let seq = 0;
  child.on('message', (answer: Answer) => {
    const waiter = pending.get(answer.seq);
    pending.delete(answer.seq);
    if (answer.error !== undefined) waiter?.reject(new Error(`otlp collector: ${answer.error}`));
    else waiter?.resolve(answer);
  });
  void exited.then(() => {
    for (const waiter of pending.values()) waiter.reject(new Error('otlp collector process exited'));
    pending.clear();
  });
  const ask = (cmd: string, extra: Record<string, unknown> = {}): Promise<Answer> =>
    new Promise<Answer>((resolve, reject) => {
      const id = ++seq;
      pending.set(id, { resolve, reject });
      child.send({ seq: id, cmd, ...extra });
    });

  const ports = (await ask('start')) as Answer & { httpPort: number; grpcPort: number };
  return {
    httpPort: ports.httpPort,
    grpcPort: ports.grpcPort,
    async stop() {
      await ask('stop');
    },
    async start() {
      await ask('start', { httpPort: ports.httpPort, grpcPort: ports.grpcPort });
    },
    async reset() {
      await ask('reset');
    },
    summary: async () => (await ask('summary')) as Answer & CollectorSummary,
    async report() {
      const raw = (await ask('report')) as Answer & CollectorSummary & { ids: string; counts: number[]; firstAt: number[] };
      const counts = new Map<string, number>();
      const firstAt = new Map<string, number>();
      const ids = raw.ids === '' ? [] : raw.ids.split(',');
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        counts.set(id, raw.counts[i]!);
        firstAt.set(id, raw.firstAt[i]!);
      }
      return { spans: raw.spans, unique: raw.unique, requests: raw.requests, counts, firstAt };
    },
    async close() {
      process.off('exit', killOnExit);
      if (child.connected) child.disconnect();
      await exited;
    },
  };
}
