import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../src/index.js';
import { exchange, startEchoServer } from './support/echo-server.js';
import { until } from './support/io.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** The bin as `pnpm holdfast …` runs it from the sources: a real process, real signals, real exit codes. */
function holdfast(args: string[]): { done: Promise<number | null>; stdout: () => string; stderr: () => string; kill(signal: NodeJS.Signals): void } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/cli/src/cli.ts', ...args], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return {
    done: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    stdout: () => out,
    stderr: () => err,
    kill: (signal) => child.kill(signal),
  };
}

describe('the holdfast bin', () => {
  it('prints its version, the one in package.json', async () => {
    const run = holdfast(['--version']);
    expect(await run.done).toBe(0);
    expect(run.stdout().trim()).toBe(VERSION);
    expect((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version).toBe(VERSION);
  }, 30_000);

  it('demo: exit 0 and the JSON report; progress as plain lines off a terminal', async () => {
    const run = holdfast(['demo', '--scenario', 'http-get', '--json']);
    expect(await run.done).toBe(0);
    expect((JSON.parse(run.stdout()) as { ok: boolean }).ok).toBe(true);
    expect(run.stderr()).toMatch(/^… http-get HTTP GET while the server resets connections\n✓ http-get/m);
  }, 30_000);

  it('chaos: proxies until SIGINT, then closes and exits 0', async () => {
    const echo = await startEchoServer();
    const run = holdfast(['chaos', '--upstream', `127.0.0.1:${echo.port}`]);
    try {
      await until(() => /→/.test(run.stdout()), 'the proxy to listen', 20_000);
      const port = Number(/127\.0\.0\.1:(\d+) →/.exec(run.stdout())?.[1]);
      expect(await exchange(port, 'through the proxy')).toEqual({ received: 'through the proxy', ended: 'complete' });
      run.kill('SIGINT');
      expect(await run.done).toBe(0);
      expect(run.stdout()).toMatch(/holdfast: \d open\/1 · ↑17 B ↓17 B/);
    } finally {
      run.kill('SIGKILL');
      await echo.close();
    }
  }, 30_000);

  it('a usage error exits 2', async () => {
    const run = holdfast(['diagnose']);
    expect(await run.done).toBe(2);
    expect(run.stderr()).toMatch(/holdfast diagnose: give one target/);
  }, 30_000);
});
