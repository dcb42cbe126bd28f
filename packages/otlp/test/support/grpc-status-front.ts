import * as grpc from '@grpc/grpc-js';

const TRACE_EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const identity = (bytes: Buffer): Buffer => bytes;

/**
 * A real gRPC server in front of the collector's OTLP/gRPC port: the first
 * `times` trace exports get `status` (with `details`), later ones are
 * forwarded as bytes to the collector and its answer returned. Records the
 * metadata each call carried.
 */
export interface GrpcStatusFront {
  readonly url: string;
  readonly calls: number;
  /** When each call arrived (performance.now()). */
  readonly times: number[];
  readonly metadata: grpc.Metadata[];
  close(): Promise<void>;
}

export async function startGrpcStatusFront(
  collectorPort: number,
  status: grpc.status,
  times: number,
  details = 'scripted status',
  trailers?: grpc.Metadata,
): Promise<GrpcStatusFront> {
  const upstream = new grpc.Client(`127.0.0.1:${collectorPort}`, grpc.credentials.createInsecure());
  const server = new grpc.Server();
  const metadata: grpc.Metadata[] = [];
  const arrivals: number[] = [];
  let calls = 0;
  const service: grpc.ServiceDefinition = {
    export: {
      path: TRACE_EXPORT,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  };
  server.addService(service, {
    export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      calls++;
      arrivals.push(performance.now());
      metadata.push(call.metadata);
      if (calls <= times) {
        callback({ code: status, details, ...(trailers === undefined ? {} : { metadata: trailers }) });
        return;
      }
      upstream.makeUnaryRequest(
        TRACE_EXPORT,
        identity,
        identity,
        call.request,
        new grpc.Metadata(),
        { deadline: Date.now() + 5_000 },
        (error, response) => (error === null ? callback(null, response) : callback(error)),
      );
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    get calls() {
      return calls;
    },
    times: arrivals,
    metadata,
    close: async () => {
      upstream.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

/** A `grpc-status-details-bin` trailer: google.rpc.Status carrying a google.rpc.RetryInfo of `seconds`, in protobuf wire format. */
export function retryInfoTrailer(code: grpc.status, seconds: number): grpc.Metadata {
  const field = (key: number, bytes: Buffer): Buffer => Buffer.concat([Buffer.from([key, bytes.length]), bytes]);
  const duration = Buffer.from([0x08, seconds]);
  const retryInfo = field(0x0a, duration);
  const any = Buffer.concat([field(0x0a, Buffer.from('type.googleapis.com/google.rpc.RetryInfo')), field(0x12, retryInfo)]);
  const statusProto = Buffer.concat([Buffer.from([0x08, code]), field(0x12, Buffer.from('slow down')), field(0x1a, any)]);
  const metadata = new grpc.Metadata();
  metadata.set('grpc-status-details-bin', statusProto);
  return metadata;
}
