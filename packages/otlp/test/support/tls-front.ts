import net from 'node:net';
import tls from 'node:tls';

/**
 * A TLS listener in front of the plain-text collector, as a collector with a
 * certificate (or Aspire's dashboard) would present itself: TLS ends here and
 * the bytes go on to the collector's HTTP or gRPC port. It offers h2 by ALPN
 * so gRPC clients get the HTTP/2 they ask for.
 */
export interface TlsFront {
  readonly port: number;
  close(): Promise<void>;
}

/** With `clientCa`, the front asks for a client certificate and refuses a handshake without one signed by that CA (mutual TLS). */
export async function startTlsFront(upstreamPort: number, key: Buffer, cert: Buffer, clientCa?: Buffer): Promise<TlsFront> {
  const sockets = new Set<net.Socket>();
  const mutual = clientCa === undefined ? {} : { ca: clientCa, requestCert: true, rejectUnauthorized: true };
  const server = tls.createServer({ key, cert, ALPNProtocols: ['h2', 'http/1.1'], ...mutual }, (client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      // A refused handshake or a reset is part of what the tests provoke; it must not throw.
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  // Failed handshakes (the untrusted-certificate case) are expected here.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
