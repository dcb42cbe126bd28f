import { open as openFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { checkOptions, formatValue, rule } from '@holdfast/core/internal';
import type { OpenContext, ResumableSource } from './source.js';
import { SourceError } from './source-error.js';

export interface FileSourceOptions {
  /** Bytes per read. Default 64 KiB. */
  readonly highWaterMark?: number;
}

/** What identifies the file the first open read: the same path may name another file later (replaced, rotated, rewritten). */
interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

const RULES = { highWaterMark: rule.integer(1) };

/**
 * A file as a resumable source (a network file system that drops out, a
 * file read while it may be replaced). The first open records the file's
 * identity (device, inode, size, modification time) and states its size as
 * the total; a later open of another file, or of the same file after it
 * changed, fails with `SourceError('source-changed')` instead of splicing.
 */
export function fileSource(path: string | URL, options: FileSourceOptions = {}): ResumableSource {
  if (!(typeof path === 'string' || path instanceof URL))
    throw new TypeError(`fileSource: 'path' must be a string or a file: URL, got ${formatValue(path)}`);
  const { highWaterMark = 64 * 1024 } = checkOptions('fileSource', options, RULES);
  let first: FileIdentity | undefined;
  return async (offset: number, context: OpenContext): Promise<Readable> => {
    const handle = await openFile(path, 'r');
    try {
      const stat = await handle.stat();
      const now: FileIdentity = { dev: stat.dev, ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs };
      if (offset === 0 || first === undefined) first = now;
      else if (now.dev !== first.dev || now.ino !== first.ino)
        throw new SourceError('source-changed', `${String(path)} is another file than when the transfer started`);
      else if (now.size !== first.size || now.mtimeMs !== first.mtimeMs) {
        throw new SourceError(
          'source-changed',
          `${String(path)} changed since the transfer started (size ${first.size} -> ${now.size}, mtime ${first.mtimeMs} -> ${now.mtimeMs})`,
        );
      }
      context.signal.throwIfAborted();
      context.setTotal(now.size);
      return handle.createReadStream({ start: offset, highWaterMark, autoClose: true });
    } catch (error) {
      await handle.close();
      throw error;
    }
  };
}
