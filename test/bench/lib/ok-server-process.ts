import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface OkServerProcess {
  readonly origin: string;
  /** Kills the server process and waits until it is gone. */
  stop(): Promise<void>;
}

const serverScript = fileURLToPath(new URL('./ok-server.ts', import.meta.url));

/**
 * Starts `ok-server.ts` in a child node process. The child is killed by
 * `stop()`, when starting fails, and when this process exits; it also exits
 * by itself when our end of its stdin closes.
 */
export function startOkServerProcess(): Promise<OkServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', serverScript], { stdio: ['pipe', 'pipe', 'inherit'] });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise<OkServerProcess>((resolve, reject) => {
    let output = '';
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stop().then(() => reject(error));
    };
    const timer = setTimeout(() => fail(new Error('the benchmark server did not start within 15 s')), 15_000);
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`the benchmark server exited before listening (code ${code})`)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      const newline = output.indexOf('\n');
      if (newline === -1 || settled) return;
      settled = true;
      clearTimeout(timer);
      const { port } = JSON.parse(output.slice(0, newline)) as { port: number };
      resolve({ origin: `http://127.0.0.1:${port}`, stop });
    });
  });
}
