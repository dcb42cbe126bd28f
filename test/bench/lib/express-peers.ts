/**
 * What the express benchmark loads from @holdfast/express's devDependencies:
 * autocannon (no types of its own here: the part used is typed below), the
 * shutdown rounds its tests run, and the redis-server its tests start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export { shutdownRound, CONTENDERS, IDLE_RULES, type ShutdownRound } from '../../../packages/express/test/support/shutdown-round.js';
export { startRedis, type RedisServer } from '../../../packages/express/test/support/redis.js';

export interface AutocannonResult {
  readonly requests: { readonly average: number; readonly total: number };
  readonly latency: { readonly p50: number; readonly p99: number };
  readonly errors: number;
  readonly non2xx: number;
  readonly duration: number;
}

export interface AutocannonOptions {
  readonly url: string;
  readonly connections: number;
  readonly duration: number;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Called for each request; return the request to send (a new Idempotency-Key each time). */
  readonly setupClient?: (client: { setHeaders(headers: Record<string, string>): void }) => void;
  readonly requests?: readonly {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    setupRequest?: (req: Record<string, unknown>) => Record<string, unknown>;
  }[];
}

const requireFromExpress = createRequire(fileURLToPath(new URL('../../../packages/express/package.json', import.meta.url)));
export const autocannon = requireFromExpress('autocannon') as (options: AutocannonOptions) => Promise<AutocannonResult>;

const APP = fileURLToPath(new URL('../../../packages/express/test/support/bench-app.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The benchmark's app in a child process, in one of its modes. */
export interface ExpressApp {
  readonly url: string;
  /** CPU time (µs) the app's process has used so far. */
  cpuMicros(): Promise<number>;
  close(): Promise<void>;
}

export async function startExpressApp(mode: string): Promise<ExpressApp> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', APP, mode], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting: ((line: string) => void)[] = [];
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    out += chunk;
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      waiting.shift()?.(line);
    }
  });
  const nextLine = (): Promise<string> => new Promise((resolve) => waiting.push(resolve));
  const port = await Promise.race([
    nextLine().then(Number),
    new Promise<number>((_, reject) => child.once('exit', (code) => reject(new Error(`the app (${mode}) exited with ${code}`)))),
  ]);
  return {
    url: `http://127.0.0.1:${port}`,
    cpuMicros: () => {
      const line = nextLine();
      child.stdin!.write('cpu\n');
      return line.then(Number);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}
