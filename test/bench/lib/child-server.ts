import { spawn, type ChildProcess } from 'node:child_process';

/**
 * An HTTP server in its own process, so it does not share the client's event
 * loop: a benchmark then measures the client, not the two fighting over one
 * thread. `source` is the body of a module that must print the port it
 * listens on, alone on a line, once listening.
 */
export interface ChildServer {
  readonly port: number;
  readonly url: string;
  /** Sends one line to the server (a command such as `down` / `up`) and waits for its `ok`. */
  command(line: string): Promise<string>;
  close(): Promise<void>;
}

export async function startChildServer(source: string): Promise<ChildServer> {
  // The server ends with its parent: a benchmark stopped half-way (Ctrl-C, a crash) closes the pipe to its stdin.
  const exitWithParent = "process.stdin.on('end', () => process.exit(0)).resume();\n";
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', exitWithParent + source], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const next = (): Promise<string> =>
    new Promise((resolve) => {
      const line = lines.shift();
      if (line !== undefined) resolve(line);
      else waiters.push(resolve);
    });
  const port = Number(await next());
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async command(line: string) {
      child.stdin!.write(`${line}\n`);
      return next();
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}
