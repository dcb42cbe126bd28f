import type { Readable } from 'node:stream';

/**
 * Where a command reads and writes. The bin passes the process's own streams;
 * tests pass their own, so every command runs in-process as it would in a
 * terminal (or a CI log).
 */
export interface CommandIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly stdin: Readable;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT/SIGTERM by the bin: long-running commands stop cleanly and resolve. */
  readonly signal?: AbortSignal;
}

/** The part of a writable stream the commands use; a TTY adds `isTTY` and `columns`. */
export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Exit codes shared by every command. */
export const EXIT = {
  /** Done, and what was asked held (the demo's holdfast side behaved; diagnose found no problem). */
  ok: 0,
  /** Done, and it did not hold: a demo expectation failed, diagnose found a problem. */
  failed: 1,
  /** The command line was wrong (unknown command or option, a bad value). */
  usage: 2,
  /** Stopped by Ctrl-C before it was done (128 + SIGINT, as shells report it). */
  interrupted: 130,
} as const;

/**
 * A mistake in the command line (or in the arguments of the programmatic
 * API, hence a TypeError, as Node's own argument errors are): printed with the
 * command's usage, exit code 2.
 */
export class UsageError extends TypeError {
  override readonly name = 'UsageError';
}
