import net from 'node:net';
import tls from 'node:tls';
import type { Socket } from 'node:net';

/**
 * One HTTP/1.1 request on a connection of our own, read by hand. A library
 * client would hide what diagnose needs to see: when the first byte came,
 * what the server said about keep-alive, and when it closed the connection
 * once idle (Node's http.Agent even drops a socket whose Keep-Alive hint is
 * too short before the server does).
 */
export interface RawResponse {
  readonly status: number;
  readonly version: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly connectMs: number;
  readonly firstByteMs: number;
  readonly bodyBytes: number;
}

export interface ExchangeOptions {
  readonly host: string;
  readonly address: string;
  readonly port: number;
  readonly tls: false | { readonly servername?: string; readonly ca?: (string | Buffer)[] };
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  readonly timeoutMs: number;
}

export class ExchangeError extends Error {
  override readonly name = 'ExchangeError';
  constructor(
    message: string,
    readonly code: string,
    /** What the peer sent instead of an HTTP response, if anything. */
    readonly received: Buffer,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Sends the request, reads the whole response, and leaves the connection open (idle) for the caller. */
export function exchange(options: ExchangeOptions): Promise<{ response: RawResponse; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const socket: Socket =
      options.tls === false
        ? net.connect({ host: options.address, port: options.port })
        : tls.connect({ host: options.address, port: options.port, ...options.tls, rejectUnauthorized: true, ALPNProtocols: ['http/1.1'] });
    let connectMs = 0;
    let firstByteMs = 0;
    let buffered = Buffer.alloc(0);
    let head: { status: number; version: string; headers: Record<string, string>; bodyStart: number } | undefined;
    let done = false;
    const fail = (message: string, code: string, cause?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      reject(new ExchangeError(message, code, buffered.subarray(0, 256), cause));
    };
    const timer = setTimeout(
      () =>
        fail(
          head === undefined ? `no answer within ${options.timeoutMs} ms` : `the response did not end within ${options.timeoutMs} ms`,
          'ETIMEDOUT',
        ),
      options.timeoutMs,
    );
    socket.once(options.tls === false ? 'connect' : 'secureConnect', () => {
      connectMs = performance.now() - t0;
      const lines = [
        `${options.method} ${options.path} HTTP/1.1`,
        `Host: ${options.host}`,
        ...Object.entries(options.headers).map(([k, v]) => `${k}: ${v}`),
      ];
      if (options.body !== undefined) lines.push(`Content-Length: ${options.body.length}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (options.body !== undefined) socket.write(options.body);
    });
    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      if (firstByteMs === 0) firstByteMs = performance.now() - t0;
      buffered = Buffer.concat([buffered, chunk]);
      if (head === undefined) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) {
          if (
            !buffered
              .subarray(0, 5)
              .toString('latin1')
              .startsWith('HTTP/'.slice(0, Math.min(5, buffered.length)))
          )
            return fail('the answer is not HTTP/1.x', 'NOT_HTTP');
          if (buffered.length > MAX_HEAD_BYTES) fail('the response head is too large', 'NOT_HTTP');
          return;
        }
        const parsed = parseHead(buffered.subarray(0, end).toString('latin1'));
        if (parsed === undefined) return fail('the answer is not HTTP/1.x', 'NOT_HTTP');
        if (parsed.status >= 100 && parsed.status < 200) {
          buffered = buffered.subarray(end + 4);
          return;
        }
        head = { ...parsed, bodyStart: end + 4 };
      }
      const complete = bodyComplete(head.headers, buffered.subarray(head.bodyStart), options.method);
      if (complete === 'too-large') return fail('the body is larger than diagnose reads', 'TOO_LARGE');
      if (complete !== undefined) {
        done = true;
        clearTimeout(timer);
        socket.removeAllListeners('data');
        resolve({
          response: { status: head.status, version: head.version, headers: head.headers, connectMs, firstByteMs, bodyBytes: complete },
          socket,
        });
      }
    });
    socket.once('end', () => {
      // A response without a length ends with the connection.
      if (head !== undefined && head.headers['content-length'] === undefined && !/chunked/i.test(head.headers['transfer-encoding'] ?? '')) {
        done = true;
        clearTimeout(timer);
        resolve({
          response: {
            status: head.status,
            version: head.version,
            headers: head.headers,
            connectMs,
            firstByteMs,
            bodyBytes: buffered.length - head.bodyStart,
          },
          socket,
        });
        return;
      }
      fail(
        head === undefined ? 'the server closed the connection without answering' : 'the server closed the connection in the middle of the response',
        'ECONNRESET_CLOSED',
      );
    });
    socket.once('error', (error: NodeJS.ErrnoException) => fail(error.message, error.code ?? 'ERROR', error));
  });
}

function parseHead(text: string): { status: number; version: string; headers: Record<string, string> } | undefined {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const match = /^HTTP\/(\d\.\d) (\d{3})/.exec(statusLine);
  if (match === null) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(match[2]), version: match[1] as string, headers };
}

/** Bytes of body once the body is complete, undefined while more is expected. */
function bodyComplete(headers: Readonly<Record<string, string>>, body: Buffer, method: string): number | 'too-large' | undefined {
  if (method === 'HEAD') return 0;
  const length = headers['content-length'];
  if (length !== undefined) {
    const n = Number(length);
    if (n > MAX_BODY_BYTES) return 'too-large';
    return body.length >= n ? n : undefined;
  }
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    if (body.length > MAX_BODY_BYTES) return 'too-large';
    // Walk the chunks: each is "<hex size>\r\n<data>\r\n", the last has size 0 (then trailers and an empty line).
    let at = 0;
    let total = 0;
    for (;;) {
      const lineEnd = body.indexOf('\r\n', at);
      if (lineEnd === -1) return undefined;
      const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
      if (!Number.isFinite(size)) return undefined;
      if (size === 0) return body.indexOf('\r\n\r\n', lineEnd) !== -1 ? total : undefined;
      at = lineEnd + 2 + size + 2;
      total += size;
      if (at > body.length) return undefined;
    }
  }
  return undefined;
}

/** Waits for the peer to close an idle connection; resolves with the milliseconds it took, or undefined if it did not within `limitMs`. */
export function idleClose(socket: Socket, limitMs: number): Promise<{ closedAfterMs: number | undefined; how: 'fin' | 'reset' | 'open' }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const finish = (how: 'fin' | 'reset' | 'open'): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ closedAfterMs: how === 'open' ? undefined : performance.now() - t0, how });
    };
    const timer = setTimeout(() => finish('open'), limitMs);
    if (socket.destroyed || socket.readableEnded) return finish('fin');
    socket.once('end', () => finish('fin'));
    socket.once('error', () => finish('reset'));
    socket.once('close', () => finish('fin'));
    socket.resume();
  });
}
