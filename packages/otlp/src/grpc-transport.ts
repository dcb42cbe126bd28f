import { createSecureContext } from 'node:tls';
import type { ExportResponse, IExporterTransport } from '@opentelemetry/otlp-exporter-base';
import type { Client, ClientUnaryCall, Metadata, ServiceError } from '@grpc/grpc-js';
import type { OtlpConnection, OtlpSignal } from './otlp-config.js';

type Grpc = typeof import('@grpc/grpc-js');

const METHODS: Readonly<Record<OtlpSignal, string>> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

// grpc-js waits up to 120 s between reconnects by default: after a long outage the collector would be back long
// before the channel tries again. The wrapper already spaces attempts; the channel only has to follow them.
const MAX_RECONNECT_BACKOFF_MS = 5_000;

const identity = (bytes: Buffer): Buffer => bytes;

/**
 * One OTLP/gRPC unary call per `send()`, carrying request bytes that are
 * already encoded (the same `ExportTraceServiceRequest` protobuf the
 * OTLP/HTTP exporter posts), so a batch can be kept on disk and sent again as
 * bytes. A generic grpc-js client with identity (de)serializers: no proto
 * loading. grpc-js is loaded on the first send, as the OTel exporters do, so
 * that an app's gRPC instrumentation can still patch it when this package was
 * imported first.
 */
export class OtlpGrpcTransport implements IExporterTransport {
  readonly #method: string;
  readonly #target: string;
  readonly #secure: boolean;
  readonly #connection: OtlpConnection;
  readonly #calls = new Set<ClientUnaryCall>();
  #grpc: Grpc | undefined;
  #loading: Promise<Grpc> | undefined;
  #client: Client | undefined;
  #metadata: Metadata | undefined;
  #closed = false;

  constructor(signal: OtlpSignal, connection: OtlpConnection) {
    this.#method = METHODS[signal];
    this.#connection = connection;
    const url = new URL(connection.url);
    this.#secure = url.protocol === 'https:' || connection.ca !== undefined || connection.cert !== undefined;
    // gRPC takes host:port; a URL without a port means the scheme's (grpc-js alone would assume 443 for both).
    this.#target = `${url.hostname}:${url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port}`;
    if (this.#secure) checkTlsMaterial(connection);
    for (const key of Object.keys(connection.headers)) {
      // grpc-js refuses these in Metadata.set(); checked here so the mistake shows at construction, naming the header.
      if (!/^[0-9a-z_.-]+$/.test(key.toLowerCase())) {
        throw new RangeError(
          `option 'headers' (or OTEL_EXPORTER_OTLP_HEADERS): a header name for gRPC must be a metadata key (letters, digits, _ . -), got ${JSON.stringify(key)}`,
        );
      }
    }
  }

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    try {
      const grpc = this.#grpc ?? (await this.#load());
      return await this.#call(grpc, this.#client ?? this.#open(grpc), data, timeoutMillis);
    } catch (error) {
      return { status: 'failure', error: error instanceof Error ? error : new Error(String(error)) };
    }
  }

  /**
   * Cancels the calls in flight (each fails at once with CANCELLED) and closes
   * the channel; a later send opens a new one. The wrapper calls this when
   * its shutdown deadline passed.
   */
  release(): void {
    for (const call of [...this.#calls]) call.cancel();
    this.#calls.clear();
    this.#retire();
  }

  shutdown(): void {
    this.#closed = true;
    this.release();
  }

  #load(): Promise<Grpc> {
    this.#loading ??= import('@grpc/grpc-js').then((grpc) => (this.#grpc = grpc));
    return this.#loading;
  }

  #open(grpc: Grpc): Client {
    if (this.#closed) throw new Error('the OTLP/gRPC transport is shut down');
    const { ca, key, cert, headers, compression } = this.#connection;
    // Verification stays on: createSsl() checks the server against `ca` (or the system roots) and its name.
    const credentials = this.#secure ? grpc.credentials.createSsl(ca ?? null, key ?? null, cert ?? null) : grpc.credentials.createInsecure();
    const metadata = new grpc.Metadata();
    for (const [name, value] of Object.entries(headers))
      metadata.set(name.toLowerCase(), name.toLowerCase().endsWith('-bin') ? Buffer.from(value) : value);
    this.#metadata = metadata;
    this.#client = new grpc.Client(this.#target, credentials, {
      'grpc.max_reconnect_backoff_ms': MAX_RECONNECT_BACKOFF_MS,
      // Its own connections: a channel closed after a stall must not hand its stalled connection to the next one
      // (grpc-js shares connections between channels to the same target by default), and release() must not touch
      // the app's own gRPC channels.
      'grpc.use_local_subchannel_pool': 1,
      ...(compression === 'gzip' ? { 'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip } : {}),
    });
    return this.#client;
  }

  /** Closes the channel; the next send opens a new one (unless shut down). */
  #retire(): void {
    const client = this.#client;
    this.#client = undefined;
    client?.close();
  }

  #call(grpc: Grpc, client: Client, data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return new Promise<ExportResponse>((resolve) => {
      // grpc-js always calls back asynchronously, after `call` is assigned.
      const call = client.makeUnaryRequest<Buffer, Buffer>(
        this.#method,
        identity,
        identity,
        bytes,
        this.#metadata as Metadata,
        { deadline: Date.now() + timeoutMillis },
        (error: ServiceError | null, response?: Buffer) => {
          this.#calls.delete(call);
          if (error === null) {
            resolve({ status: 'success', ...(response === undefined ? {} : { data: response }) });
            return;
          }
          // The next attempt gets a new channel, which connects at once: after UNAVAILABLE (no connection, or it
          // dropped) grpc-js would otherwise wait out its own reconnect backoff on top of the wrapper's schedule and
          // breaker, and keep reconnecting to a dead collector between attempts; after a deadline the connection is
          // likely stalled, and grpc-js would keep using it.
          const code = error.code;
          if ((code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED) && this.#client === client) this.#retire();
          resolve({ status: 'failure', error });
        },
      );
      this.#calls.add(call);
    });
  }
}

const TLS_SOURCES =
  "'ca' / 'cert' / 'key' (or OTEL_EXPORTER_OTLP_CERTIFICATE / OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE / OTEL_EXPORTER_OTLP_CLIENT_KEY)";

/**
 * What grpc-js's createSsl() would refuse, refused at construction (it only
 * runs on the first export here): a client key without its certificate or
 * the reverse, and PEM that does not parse. The message never quotes the PEM.
 */
function checkTlsMaterial({ ca, cert, key }: OtlpConnection): void {
  if ((key === undefined) !== (cert === undefined)) {
    throw new RangeError(
      `OTLP gRPC mutual TLS needs both 'cert' (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE) and 'key' (OTEL_EXPORTER_OTLP_CLIENT_KEY), got only ${key === undefined ? "'cert'" : "'key'"}`,
    );
  }
  try {
    createSecureContext({ ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new RangeError(`OTLP TLS material from ${TLS_SOURCES} cannot be used: ${typeof code === 'string' ? code : 'invalid PEM'}`, {
      cause: error,
    });
  }
}
