/**
 * The OTLP benchmark's collector, run in its own process
 * (`node --import tsx otlp-collector.ts`, with an IPC channel) so that the
 * benchmark process measures only the app and its exporter. It is
 * mockotlpserver (OTLP/HTTP with protobuf or JSON, and OTLP/gRPC) on
 * 127.0.0.1, which decodes every request; each span id it receives is counted
 * with the time it first arrived, so lost spans and duplicates are counted
 * from what really arrived.
 *
 * IPC requests `{ seq, cmd }`, each answered with `{ seq, ... }`:
 * - `start` (optional `httpPort`, `grpcPort`; 0 or absent picks free ports): listen; answers the ports.
 * - `stop`: a collector crash: every open connection is destroyed, then the ports are closed (new connections are refused).
 * - `reset`: forget the spans counted so far.
 * - `summary`: `{ spans, unique, requests }` since the last reset.
 * - `report`: the same plus `ids` (hex span ids, comma-separated), `counts` and `firstAt` (Date.now() of the first arrival), one entry per unique id.
 * It exits when the IPC channel closes.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';

interface MockOtlpServerLike {
  start(): Promise<void>;
  close(): Promise<void>;
  httpUrl: URL | null;
  grpcUrl: URL | null;
  /** Not part of mockotlpserver's API: its http.Server, reached to destroy open connections as a crash would. */
  _httpService?: { _server?: Server | null };
}

// The receiver comes from @holdfast/otlp's devDependencies (the version its tests use).
const load = createRequire(new URL('../../packages/otlp/package.json', import.meta.url));
const { MockOtlpServer } = load('@elastic/mockotlpserver') as {
  MockOtlpServer: new (options: Record<string, unknown>) => MockOtlpServerLike;
};

type Json = Record<string, unknown>;
const list = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);
const idOf = (value: unknown): string => (value instanceof Uint8Array ? Buffer.from(value).toString('hex') : String(value));

const counts = new Map<string, number>();
const firstAt = new Map<string, number>();
let spans = 0;
let requests = 0;
let server: MockOtlpServerLike | undefined;

/** A new server gets a new callback: mockotlpserver never unsubscribes a closed server's, so a stale one must stop counting. */
function counter(): { onTrace: (request: unknown) => void; retire: () => void } {
  let live = true;
  return {
    retire: () => (live = false),
    onTrace: (request) => {
      if (!live) return;
      requests++;
      const now = Date.now();
      for (const rs of list((request as Json).resourceSpans)) {
        for (const ss of list(rs.scopeSpans)) {
          for (const span of list(ss.spans)) {
            const id = idOf(span.spanId);
            spans++;
            const seen = counts.get(id);
            if (seen === undefined) {
              counts.set(id, 1);
              firstAt.set(id, now);
            } else counts.set(id, seen + 1);
          }
        }
      }
    },
  };
}

let retire: (() => void) | undefined;

async function start(httpPort = 0, grpcPort = 0): Promise<{ httpPort: number; grpcPort: number }> {
  if (server !== undefined) throw new Error('already started');
  const { onTrace, retire: retireThis } = counter();
  const next = new MockOtlpServer({
    logLevel: 'error',
    services: ['http', 'grpc'],
    httpHostname: '127.0.0.1',
    grpcHostname: '127.0.0.1',
    httpPort,
    grpcPort,
    onTrace,
  });
  await next.start();
  server = next;
  retire = retireThis;
  return { httpPort: Number(next.httpUrl!.port), grpcPort: Number(next.grpcUrl!.port) };
}

async function stop(): Promise<void> {
  const current = server;
  if (current === undefined) return;
  server = undefined;
  retire?.();
  // http.Server.close() would wait for keep-alive connections with a request in progress; a crashed collector does not.
  current._httpService?._server?.closeAllConnections();
  await current.close();
}

function summary(): { spans: number; unique: number; requests: number } {
  return { spans, unique: counts.size, requests };
}

type Request = { seq: number; cmd: 'start'; httpPort?: number; grpcPort?: number } | { seq: number; cmd: 'stop' | 'reset' | 'summary' | 'report' };

async function handle(request: Request): Promise<Json> {
  switch (request.cmd) {
    case 'start':
      return start(request.httpPort, request.grpcPort);
    case 'stop':
      await stop();
      return {};
    case 'reset':
      counts.clear();
      firstAt.clear();
      spans = 0;
      requests = 0;
      return {};
    case 'summary':
      return summary();
    case 'report':
      return { ...summary(), ids: [...counts.keys()].join(','), counts: [...counts.values()], firstAt: [...firstAt.values()] };
  }
}

if (process.send === undefined) throw new Error('otlp-collector.ts runs as a child process with an IPC channel');
process.on('message', (request: Request) => {
  handle(request).then(
    (answer) => process.send?.({ seq: request.seq, ...answer }),
    (error: unknown) => process.send?.({ seq: request.seq, error: error instanceof Error ? error.message : String(error) }),
  );
});
// The benchmark process went away: so does its collector.
process.on('disconnect', () => {
  void stop().finally(() => process.exit(0));
});
