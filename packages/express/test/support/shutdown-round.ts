import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLoad, type ClientKind } from './load.js';

export const CONTENDERS = ['holdfast', 'server.close', 'http-terminator', 'terminus', 'lightship'] as const;
export const IDLE_RULES = ['holdfast', 'holdfast-immediate', 'holdfast-after-response'] as const;

export interface ShutdownRound {
  readonly contender: string;
  readonly client: ClientKind;
  readonly resets: number;
  readonly hangUps: number;
  /** Requests that reached the app and got no answer (for a POST: applied, outcome unknown). */
  readonly unanswered: number;
  readonly other: number;
  readonly answered: number;
  /** From `shutdown` to the contender's `done` (or the process ending); undefined if it never finished. */
  readonly shutdownMs: number | undefined;
}

const CHILD = fileURLToPath(new URL('./shutdown-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * One round: the app in a child process under `contender`, `clients`
 * keep-alive clients sending to it (each connected and answered once, then
 * `warmupMs` more), then the shutdown; the
 * round ends when every client stopped (its new connection was refused) or
 * `graceMs` after the shutdown began (server.close() never ends under load).
 */
export async function shutdownRound(
  contender: string,
  client: ClientKind,
  options: { clients?: number; warmupMs?: number; graceMs?: number } = {},
): Promise<ShutdownRound> {
  const { clients = 50, warmupMs = 300, graceMs = 4_000 } = options;
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-shutdown-'));
  const idsFile = join(dir, 'ids.json');
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, contender, idsFile], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const lines: string[] = [];
    let onLine: (() => void) | undefined;
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      lines.push(...parts);
      onLine?.();
    });
    const nextLine = (): Promise<string> =>
      new Promise((resolve) => {
        const take = (): void => {
          const line = lines.shift();
          if (line === undefined) return;
          onLine = undefined;
          resolve(line);
        };
        onLine = take;
        take();
      });
    const port = Number(await nextLine());
    const load = startLoad(`http://127.0.0.1:${port}`, client, clients);
    // Every client connected and answered first: a connection still in the kernel's accept queue when the listener
    // closes is reset by the kernel, whoever shuts down (see decision 0009); that is the balancer's part (readiness).
    const connectedBy = Date.now() + 10_000;
    while (load.result.clientsAnswered.size < clients && Date.now() < connectedBy) await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, warmupMs));
    const started = performance.now();
    child.stdin.write('shutdown\n');
    let shutdownMs: number | undefined;
    const done = Promise.race([nextLine(), exited]).then(() => {
      shutdownMs = Math.round(performance.now() - started);
    });
    const timeout = new Promise((resolve) => setTimeout(resolve, graceMs));
    await Promise.race([Promise.all([load.finished, done]), timeout]);
    load.stop();
    await load.finished;
    child.stdin.end();
    await exited;
    const arrived = JSON.parse(readFileSync(idsFile, 'utf8')) as string[];
    const unanswered = arrived.filter((id) => !load.result.answeredIds.has(id)).length;
    const r = load.result;
    return {
      contender,
      client,
      resets: r.resets,
      hangUps: r.hangUps,
      unanswered,
      other: Object.values(r.other).reduce((a, b) => a + b, 0),
      answered: r.answered,
      shutdownMs,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
