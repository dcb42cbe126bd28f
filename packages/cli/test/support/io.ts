import { createHook } from 'node:async_hooks';
import { PassThrough } from 'node:stream';
import type { CommandIo } from '../../src/index.js';

/** In-memory streams for running a command in-process, as a terminal (tty) or a log would. */
export interface CapturedIo {
  readonly io: CommandIo;
  readonly stdin: PassThrough;
  readonly controller: AbortController;
  stdout(): string;
  stderr(): string;
}

export function captureIo(options: { tty?: boolean; env?: Record<string, string | undefined> } = {}): CapturedIo {
  let out = '';
  let err = '';
  const stdin = new PassThrough();
  const controller = new AbortController();
  const tty = options.tty ?? false;
  return {
    io: {
      stdout: { write: (text: string) => ((out += text), true), isTTY: tty, columns: 120 },
      stderr: { write: (text: string) => ((err += text), true), isTTY: tty, columns: 120 },
      stdin,
      env: options.env ?? {},
      signal: controller.signal,
    },
    stdin,
    controller,
    stdout: () => out,
    stderr: () => err,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `predicate` holds, polling; rejects with `what` after `timeoutMs`. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Active TCP/TLS sockets and servers of this process. */
export function socketHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP') || r.startsWith('TLS')).length;
}

/**
 * Watches timers created from now on, unref'd ones included (which
 * `process.getActiveResourcesInfo()` does not list): `pending()` counts those
 * neither fired nor cleared.
 */
export function watchTimers(): { pending(): number; stop(): void; stacks(): string[] } {
  const live = new Map<number, string>();
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (type !== 'Timeout') return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 30;
      live.set(
        id,
        `${String((resource as { _onTimeout?: unknown; _idleTimeout?: number })._onTimeout).slice(0, 200)} after ${(resource as { _idleTimeout?: number })._idleTimeout} ms\n${new Error('created here').stack ?? ''}`,
      );
      Error.stackTraceLimit = limit;
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return { pending: () => live.size, stop: () => void hook.disable(), stacks: () => [...live.values()] };
}

/** Lets pending close callbacks run. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

/**
 * Waits, without timers of its own (so a timer watcher sees only the code
 * under test), until `predicate` holds or `timeoutMs` passed.
 */
export async function untilWithoutTimers(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate() && performance.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
}
