import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface MongoServerProcess {
  readonly port: number;
  readonly address: string;
  /** Resets every connection, stops listening and listens again `downMs` later; resolves with the epoch ms (fractional) it listened again. */
  restart(downMs: number): Promise<number>;
  stop(): Promise<void>;
}

const script = fileURLToPath(new URL('./mongo-server.ts', import.meta.url));

/** Starts the wire-protocol test server in a child process; it ends with this process (its stdin closes). */
export function startMongoServerProcess(mode: 'standalone' | 'replica-set' = 'standalone'): Promise<MongoServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waiters: ((line: string) => void)[] = [];
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      waiters.shift()?.(line);
    }
  });
  const nextLine = (): Promise<string> => new Promise((resolve) => waiters.push(resolve));
  return nextLine().then((first) => {
    const { port } = JSON.parse(first) as { port: number };
    return {
      port,
      address: `127.0.0.1:${port}`,
      async restart(downMs: number) {
        const answer = nextLine();
        child.stdin.write(`restart ${downMs}\n`);
        return Number((await answer).split(' ')[1]);
      },
      async stop() {
        process.off('exit', killOnExit);
        child.stdin.end();
        await exited;
      },
    };
  });
}
