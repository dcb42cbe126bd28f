import { MockOtlpServer } from '@elastic/mockotlpserver';

/**
 * A real OTLP receiver (HTTP and gRPC) on loopback, port 0, that counts what
 * it received by span id, so a test can tell lost spans from duplicates.
 * mockotlpserver publishes every request on process-wide diagnostics
 * channels, so one test file runs one collector at a time.
 */
export interface Collector {
  readonly httpUrl: string;
  readonly grpcUrl: string;
  readonly httpPort: number;
  readonly grpcPort: number;
  /** Times each span id arrived. */
  readonly spans: Map<string, number>;
  metricRequests: number;
  /** Export requests that carried each metric name. */
  readonly metricNames: Map<string, number>;
  logRecords: number;
  /** Times each log record body (a string) arrived. */
  readonly logBodies: Map<string, number>;
  close(): Promise<void>;
}

interface Ports {
  readonly httpPort?: number;
  readonly grpcPort?: number;
}

type Json = Record<string, unknown>;
const list = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);

function idOf(value: unknown): string {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return String(value);
}

export async function startCollector(ports: Ports = {}, into?: Collector): Promise<Collector> {
  const spans = into?.spans ?? new Map<string, number>();
  const collector: Collector = {
    httpUrl: '',
    grpcUrl: '',
    httpPort: 0,
    grpcPort: 0,
    spans,
    metricRequests: into?.metricRequests ?? 0,
    metricNames: into?.metricNames ?? new Map<string, number>(),
    logRecords: into?.logRecords ?? 0,
    logBodies: into?.logBodies ?? new Map<string, number>(),
    close: async () => {
      // mockotlpserver never unsubscribes its channel listeners: a closed collector must stop counting.
      closed = true;
      await server.close();
    },
  };
  let closed = false;
  const onTrace = (request: unknown): void => {
    if (closed) return;
    for (const rs of list((request as Json).resourceSpans)) {
      for (const ss of list(rs.scopeSpans)) {
        for (const span of list(ss.spans)) {
          const id = idOf(span.spanId);
          spans.set(id, (spans.get(id) ?? 0) + 1);
        }
      }
    }
  };
  const onMetrics = (request: unknown): void => {
    if (closed) return;
    collector.metricRequests++;
    const names = new Set<string>();
    for (const rm of list((request as Json).resourceMetrics)) {
      for (const sm of list(rm.scopeMetrics)) for (const metric of list(sm.metrics)) names.add(String(metric.name));
    }
    for (const name of names) collector.metricNames.set(name, (collector.metricNames.get(name) ?? 0) + 1);
  };
  const onLogs = (request: unknown): void => {
    if (closed) return;
    for (const rl of list((request as Json).resourceLogs)) {
      for (const sl of list(rl.scopeLogs)) {
        for (const record of list(sl.logRecords)) {
          collector.logRecords++;
          const body = (record.body as Json | undefined)?.stringValue;
          if (typeof body === 'string') collector.logBodies.set(body, (collector.logBodies.get(body) ?? 0) + 1);
        }
      }
    }
  };
  const server = new MockOtlpServer({
    logLevel: 'error',
    services: ['http', 'grpc'],
    httpHostname: '127.0.0.1',
    grpcHostname: '127.0.0.1',
    httpPort: ports.httpPort ?? 0,
    grpcPort: ports.grpcPort ?? 0,
    onTrace,
    onMetrics,
    onLogs,
  });
  await server.start();
  const http = server.httpUrl as URL;
  const grpc = server.grpcUrl as URL;
  return Object.assign(collector, {
    httpUrl: `http://127.0.0.1:${http.port}`,
    grpcUrl: `http://127.0.0.1:${grpc.port}`,
    httpPort: Number(http.port),
    grpcPort: Number(grpc.port),
  });
}
