import { createServer as createHttpServer } from 'node:http';
import type { RequestListener, Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import net from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { decodeDocument, encodeDocument } from '../../src/diagnose/bson.js';
import type { BsonValue } from '../../src/diagnose/bson.js';
import type { KeyPair } from './certs.js';

/** A started server and how to stop it (every connection destroyed). */
export interface Started {
  readonly port: number;
  close(): Promise<void>;
}

async function started(server: Server, host = '127.0.0.1'): Promise<Started> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('secureConnection', (socket: Socket) => socket.on('error', () => undefined));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HTTP server with Node's keep-alive behaviour, `keepAliveTimeout` as given (Node announces it in Keep-Alive: timeout=). */
export function startHttp(options: { keepAliveTimeout?: number; handler?: RequestListener } = {}): Promise<Started & { server: HttpServer }> {
  const server = createHttpServer(options.handler ?? ((_req, res) => res.end('ok')));
  if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
  return started(server).then((s) => ({ ...s, server }));
}

export function startHttps(pair: KeyPair, handler: RequestListener = (_req, res) => res.end('ok')): Promise<Started> {
  return started(createHttpsServer({ key: pair.key, cert: pair.cert }, handler));
}

/**
 * A raw HTTP/1.1 server that keeps connections alive without announcing a
 * timeout and closes each one after `idleMs` without a request: what many
 * servers and load balancers do.
 */
export function startSilentIdleServer(idleMs: number): Promise<Started> {
  return started(
    net.createServer((socket) => {
      socket.on('error', () => undefined);
      let timer = setTimeout(() => socket.end(), idleMs);
      socket.on('data', (chunk: Buffer) => {
        if (!chunk.toString('latin1').includes('\r\n\r\n')) return;
        clearTimeout(timer);
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
        timer = setTimeout(() => socket.end(), idleMs);
      });
      socket.on('close', () => clearTimeout(timer));
    }),
  );
}

/** Accepts each connection, reads what comes (a ClientHello, a request) and answers with a TCP reset. */
export function startResetOnData(): Promise<Started> {
  return started(
    net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.resetAndDestroy());
    }),
  );
}

/**
 * A MongoDB wire-protocol responder: answers every OP_MSG with `reply`, so
 * the handshake diagnose sends meets a server shaped like the one described.
 */
export function startMongoResponder(reply: Record<string, BsonValue>): Promise<Started & { readonly commands: Record<string, BsonValue>[] }> {
  const commands: Record<string, BsonValue>[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= buffered.readInt32LE(0)) {
        const length = buffered.readInt32LE(0);
        const message = buffered.subarray(0, length);
        buffered = buffered.subarray(length);
        commands.push(decodeDocument(message, 21));
        const document = encodeDocument(reply);
        const header = Buffer.alloc(21);
        header.writeInt32LE(21 + document.length, 0);
        header.writeInt32LE(99, 4);
        header.writeInt32LE(message.readInt32LE(4), 8);
        header.writeInt32LE(2013, 12);
        socket.write(Buffer.concat([header, document]));
      }
    });
  });
  return started(server).then((s) => ({ ...s, commands }));
}

/**
 * A gRPC server with the OTLP trace service (an empty answer to every
 * export), or any status: what sits on an OTLP/gRPC port (4317).
 */
export async function startGrpcCollector(status: grpc.status = grpc.status.OK): Promise<Started & { readonly calls: grpc.Metadata[] }> {
  const calls: grpc.Metadata[] = [];
  const server = new grpc.Server();
  const identity = (b: Buffer): Buffer => b;
  server.addService(
    {
      export: {
        path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        calls.push(call.metadata);
        if (status === grpc.status.OK) callback(null, Buffer.alloc(0));
        else callback({ code: status, details: 'scripted' });
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))),
  );
  return {
    port,
    calls,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())).then(() => server.forceShutdown()),
  };
}
