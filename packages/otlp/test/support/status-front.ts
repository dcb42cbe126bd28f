import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP server in front of the collector's OTLP/HTTP port that answers
 * the first `count` requests itself with `status` (and `headers`), as an
 * overloaded, restarting or misconfigured collector (or a gateway before it)
 * would, and forwards every later request to the collector unchanged.
 */
export interface StatusFront {
  readonly url: string;
  /** Date.now() of each request received, answered or forwarded. */
  readonly requests: number[];
  close(): Promise<void>;
}

export async function startStatusFront(collectorPort: number, status: number, count: number, headers: Record<string, string> = {}): Promise<StatusFront> {
  const requests: number[] = [];
  const server = http.createServer((req, res) => {
    requests.push(Date.now());
    if (requests.length <= count) {
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'text/plain', ...headers });
        res.end(`answered ${status} by the test`);
      });
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port: collectorPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
