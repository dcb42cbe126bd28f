import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGunzip } from 'node:zlib';

/**
 * A real HTTP server in front of the collector's OTLP/HTTP port that answers
 * the first `count` requests itself with `status` (and `headers`), as an
 * overloaded, restarting or misconfigured collector (or a gateway before it)
 * would, and forwards every later request to the collector, gunzipped when
 * it came with `content-encoding: gzip` (mockotlpserver does not decode it).
 */
export interface StatusFront {
  readonly url: string;
  /** Date.now() of each request received, answered or forwarded. */
  readonly requests: number[];
  /** Each request's content-encoding header ('' when none). */
  readonly encodings: string[];
  close(): Promise<void>;
}

export async function startStatusFront(
  collectorPort: number,
  status: number,
  count: number,
  headers: Record<string, string> = {},
): Promise<StatusFront> {
  const requests: number[] = [];
  const encodings: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(Date.now());
    encodings.push(req.headers['content-encoding'] ?? '');
    if (requests.length <= count) {
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'text/plain', ...headers });
        res.end(`answered ${status} by the test`);
      });
      return;
    }
    const gzipped = req.headers['content-encoding'] === 'gzip';
    const { 'content-encoding': _encoding, 'content-length': length, ...rest } = req.headers;
    const forwarded = gzipped ? rest : { ...rest, ...(length === undefined ? {} : { 'content-length': length }) };
    const upstream = http.request({ host: '127.0.0.1', port: collectorPort, method: req.method, path: req.url, headers: forwarded }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    if (!gzipped) {
      req.pipe(upstream);
      return;
    }
    const gunzip = createGunzip();
    gunzip.on('error', () => {
      upstream.destroy();
      res.destroy();
    });
    req.pipe(gunzip).pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    encodings,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
