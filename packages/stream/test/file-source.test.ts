import { appendFile, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SourceError, fileSource, resumablePipeline, type ResumableSource } from '@holdfast/stream';
import { describe, expect, it } from 'vitest';
import { guardEachTest } from './support/guard.js';
import { randomEntity } from './support/range-server.js';
import { CollectSink, HashSink } from './support/sinks.js';

const resources = guardEachTest();

async function tempFile(data: Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'holdfast-file-'));
  resources.add({ close: () => rm(dir, { recursive: true, force: true }) });
  const path = join(dir, 'data.bin');
  await writeFile(path, data);
  return path;
}

/**
 * `source`, except that its first open ends cleanly after `bytes` (a short
 * read), and `between` runs before the second open: the pipe then opens the
 * file again from there, which is when fileSource checks it is the same file.
 */
function breakAfter(source: ResumableSource, bytes: number, between: () => Promise<void> = () => Promise.resolve()): ResumableSource {
  return async (offset, context) => {
    if (context.attempt > 1) {
      await between();
      return source(offset, context);
    }
    const whole = await source(offset, context);
    return Readable.from(
      (async function* () {
        let left = bytes;
        for await (const chunk of whole as AsyncIterable<Buffer>) {
          yield chunk.subarray(0, left);
          left -= Math.min(left, chunk.length);
          if (left === 0) return;
        }
      })(),
      { objectMode: false },
    );
  };
}

describe('fileSource', () => {
  it('reads the file and states its size as the total; a short read is continued from the byte it stopped at', async () => {
    const entity = randomEntity(1_000_000, 81);
    const path = await tempFile(entity.body);
    const sink = new HashSink();
    const pipe = resumablePipeline(breakAfter(fileSource(path), 300_000), sink);
    await pipe;
    expect(sink.sha256).toBe(entity.sha256);
    expect(pipe.stats()).toMatchObject({ total: 1_000_000, bytes: 1_000_000, opens: 2, resumes: 0 });
  });

  it('a file rewritten between two opens is refused (source-changed), never spliced', async () => {
    const entity = randomEntity(500_000, 82);
    const path = await tempFile(entity.body);
    const sink = new CollectSink();
    const rewrite = async (): Promise<void> => {
      await writeFile(path, randomEntity(500_000, 83).body);
      // Same size; a later modification time is what tells.
      await utimes(path, new Date(), new Date(Date.now() + 10_000));
    };
    const error = await resumablePipeline(breakAfter(fileSource(path), 100_000, rewrite), sink).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ reason: 'source-changed', fault: { transient: false } });
    expect(sink.destroyed).toBe(true);
    expect(sink.data.equals(entity.body.subarray(0, 100_000))).toBe(true);
  });

  it('a file appended to, or replaced by another file under the same name, is refused', async () => {
    const entity = randomEntity(200_000, 84);
    const appended = await tempFile(entity.body);
    const grown = await resumablePipeline(
      breakAfter(fileSource(appended), 50_000, () => appendFile(appended, 'more')),
      new CollectSink(),
    ).catch((e: unknown) => e);
    expect(grown).toMatchObject({ reason: 'source-changed' });

    const replaced = await tempFile(entity.body);
    const swap = async (): Promise<void> => {
      await writeFile(`${replaced}.new`, entity.body);
      await rename(`${replaced}.new`, replaced);
    };
    const other = await resumablePipeline(breakAfter(fileSource(replaced), 50_000, swap), new CollectSink()).catch((e: unknown) => e);
    expect(other).toMatchObject({ reason: 'source-changed' });
    expect((other as Error).message).toContain('another file');
  });

  it('a missing file fails the pipe with the error itself, not retried', async () => {
    let opens = 0;
    const missing = fileSource(join(tmpdir(), 'holdfast-no-such-file.bin'));
    const error = await resumablePipeline((offset, context) => {
      opens++;
      return missing(offset, context);
    }, new CollectSink()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ENOENT' });
    expect(opens).toBe(1);
  });

  it('options are checked', () => {
    expect(() => fileSource(42 as never)).toThrow(/'path' must be a string or a file: URL, got 42/);
    expect(() => fileSource('x', { highWaterMark: 0 })).toThrow(/option 'highWaterMark' must be an integer >= 1, got 0/);
    expect(() => fileSource('x', { hwm: 1 } as never)).toThrow(/unknown option 'hwm'/);
  });
});
