import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { closeServer, listen } from './listen.js';

/**
 * A minimal OTLP/HTTP trace receiver (http/protobuf and http/json on
 * `/v1/traces`) that counts the spans it receives by id, so lost spans and
 * duplicates can be told apart. It can be stopped and started again on the
 * same port: a collector restart. Why the demo has its own instead of a mock
 * collector package: docs/decisions/0011-cli.md.
 */
export interface OtlpReceiver {
  readonly port: number;
  readonly url: string;
  /** Times each span (trace id + span id, hex) arrived. */
  readonly spans: Map<string, number>;
  /** Export requests answered. */
  readonly requests: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans = new Map<string, number>();
  let requests = 0;
  let server: Server | undefined;
  let sockets = new Set<Socket>();
  let port = 0;

  const start = async (): Promise<void> => {
    const own = new Set<Socket>();
    sockets = own;
    server = createServer((req, res) => {
      void readBody(req).then((body) => {
        if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        const json = (req.headers['content-type'] ?? '').includes('json');
        try {
          for (const id of json ? jsonSpanIds(body) : protobufSpanIds(body)) spans.set(id, (spans.get(id) ?? 0) + 1);
        } catch {
          res.writeHead(400).end();
          return;
        }
        requests++;
        if (json) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    server.on('connection', (socket) => {
      own.add(socket);
      socket.once('close', () => own.delete(socket));
    });
    port = await listen(server, port);
  };
  const stop = async (): Promise<void> => {
    const current = server;
    server = undefined;
    if (current !== undefined) await closeServer(current, sockets);
  };
  await start();
  return {
    port,
    url: `http://127.0.0.1:${port}/v1/traces`,
    spans,
    get requests() {
      return requests;
    },
    stop,
    start,
    close: stop,
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      resolve(req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body);
    });
    req.on('error', () => resolve(Buffer.alloc(0)));
  });
}

/** Span ids of an OTLP/JSON ExportTraceServiceRequest (ids are hex strings there). */
function jsonSpanIds(body: Buffer): string[] {
  const request = JSON.parse(body.toString('utf8')) as { resourceSpans?: { scopeSpans?: { spans?: { traceId?: string; spanId?: string }[] }[] }[] };
  return (request.resourceSpans ?? []).flatMap((rs) =>
    (rs.scopeSpans ?? []).flatMap((ss) => (ss.spans ?? []).map((s) => `${s.traceId ?? ''}${s.spanId ?? ''}`)),
  );
}

/**
 * Span ids of a protobuf ExportTraceServiceRequest, read with a walk over the
 * wire format that keeps only the fields on the path to them:
 * request.resource_spans(1) → scope_spans(2) → spans(2) → trace_id(1), span_id(2).
 */
export function protobufSpanIds(body: Buffer): string[] {
  const ids: string[] = [];
  for (const rs of lengthDelimited(body, 1)) {
    for (const ss of lengthDelimited(rs, 2)) {
      for (const span of lengthDelimited(ss, 2)) {
        const [traceId] = lengthDelimited(span, 1);
        const [spanId] = lengthDelimited(span, 2);
        ids.push(`${traceId?.toString('hex') ?? ''}${spanId?.toString('hex') ?? ''}`);
      }
    }
  }
  return ids;
}

/** The values of every length-delimited field `field` in a protobuf message. */
function lengthDelimited(message: Buffer, field: number): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (at >= message.length) throw new RangeError('truncated protobuf');
      const byte = message[at++] as number;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
      shift += 7;
    }
  };
  while (at < message.length) {
    const key = varint();
    const wire = key % 8;
    const number = Math.floor(key / 8);
    if (wire === 0) varint();
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const length = varint();
      if (at + length > message.length) throw new RangeError('truncated protobuf');
      if (number === field) out.push(message.subarray(at, at + length));
      at += length;
    } else throw new RangeError(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}
