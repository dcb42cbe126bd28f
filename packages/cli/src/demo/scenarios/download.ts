import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createChaosProxy } from '@holdfast/chaos';
import type { ChaosProxy } from '@holdfast/chaos';
import { httpSource } from '@holdfast/http';
import { resumablePipeline } from '@holdfast/stream';
import { Agent, fetch } from 'undici';
import { formatBytes } from '../../display/format.js';
import type { Scenario } from '../scenario.js';
import { startFileServer } from '../servers/file-server.js';

const SIZE = 8 * 1024 * 1024;
const RESET_EVERY_BYTES = 1_500_000;
const RESETS = 4;

/** A sink that hashes what it is given and counts it. */
class HashSink extends Writable {
  readonly hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly onBytes: (bytes: number) => void) {
    super();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes(this.bytes);
    callback();
  }
}

export const download: Scenario = {
  name: 'download',
  title: 'A download reset in the middle of the body',
  fault: `An ${formatBytes(SIZE)} file with a strong ETag. The proxy resets each connection (real TCP RST) after ${(RESET_EVERY_BYTES / 1e6).toFixed(1)} MB of the body, ${RESETS} times. The result is checked against the file's sha256.`,
  columns: ['requests', 'successes', 'reconnects', 'bytesVerified'],
  labels: { requests: 'downloads', successes: 'complete', reconnects: 'resumes' },
  async run(context) {
    const servers = await Promise.all([startFileServer(SIZE), startFileServer(SIZE)]);
    const proxies = await Promise.all(servers.map((s) => createChaosProxy({ upstream: { host: '127.0.0.1', port: s.port } })));
    for (const proxy of proxies) {
      let resets = 0;
      proxy.addToxic({ name: 'cut', type: 'reset_peer', stream: 'downstream', attributes: { after_bytes: RESET_EVERY_BYTES, timeout: 20 } });
      proxy.on('fault', (event) => {
        if (event.action === 'reset' && event.cause === 'cut' && ++resets === RESETS) proxy.removeToxic('cut');
      });
    }
    const [plainServer, holdfastServer] = servers;
    const [plainProxy, holdfastProxy] = proxies as [ChaosProxy, ChaosProxy];
    const plainAgent = new Agent();
    const holdfastAgent = new Agent();
    let plainBytes = 0;
    let holdfastBytes = 0;
    const tick = (): void => context.progress(`${formatBytes(plainBytes + holdfastBytes)} received`, (plainBytes + holdfastBytes) / (2 * SIZE));
    try {
      const plainSink = new HashSink((n) => ((plainBytes = n), tick()));
      const plainRun = (async () => {
        const response = await fetch(`${plainProxy.url()}/file.bin`, { dispatcher: plainAgent });
        if (response.body === null) throw new Error('no body');
        await pipeline(response.body, plainSink);
      })().then(
        () => undefined,
        (error: unknown) => error as Error,
      );

      const holdfastSink = new HashSink((n) => ((holdfastBytes = n), tick()));
      const pipe = resumablePipeline(httpSource(`${holdfastProxy.url()}/file.bin`, { dispatcher: holdfastAgent }), holdfastSink);
      pipe.on('resume', (e) => context.note(`${e.fault.code} at ${formatBytes(e.offset)}: resuming from there`));
      const holdfastRun = pipe.then(
        () => undefined,
        (error: unknown) => error as Error,
      );
      const [plainError, holdfastError] = await Promise.all([plainRun, holdfastRun]);
      const plainOk = plainError === undefined && plainSink.hash.digest('hex') === plainServer.sha256;
      const holdfastHash = holdfastSink.hash.digest('hex');
      const holdfastOk = holdfastError === undefined && holdfastHash === holdfastServer.sha256;
      return {
        rows: [
          {
            client: 'fetch + stream.pipeline',
            holdfast: false,
            metrics: { requests: 1, successes: plainOk ? 1 : 0, reconnects: 0, bytesVerified: plainOk ? SIZE : 0 },
          },
          {
            client: 'holdfast resumablePipeline(httpSource)',
            holdfast: true,
            metrics: { requests: 1, successes: holdfastOk ? 1 : 0, reconnects: pipe.stats().resumes, bytesVerified: holdfastOk ? SIZE : 0 },
          },
        ],
        checks: [
          {
            ok: holdfastOk,
            text: holdfastOk
              ? `holdfast: the file is complete and its sha256 matches (${holdfastHash.slice(0, 16)}…)`
              : `holdfast: the download ${holdfastError === undefined ? 'has the wrong sha256' : `failed: ${holdfastError.message}`}`,
          },
        ],
        notes: [
          `fetch ${plainError === undefined ? 'finished' : `failed with ${describe(plainError)}`} after ${formatBytes(plainSink.bytes)}: a plain download starts again from byte 0, or leaves a truncated file.`,
          `holdfast asked for the rest with Range and If-Range at the first byte it did not have, ${pipe.stats().resumes} times, and would refuse to splice a file that changed meanwhile.`,
        ],
      };
    } finally {
      await Promise.all([plainAgent.close(), holdfastAgent.close()]);
      await Promise.all(proxies.map((p) => p.close()));
      await Promise.all(servers.map((s) => s.close()));
    }
  },
};

function describe(error: Error): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code !== undefined ? `${error.message} (${cause.code})` : error.message;
}
