import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A round-robin TCP balancer: each new connection goes to the next upstream,
 * so a client's retry on a new connection lands on another instance. An
 * error or reset on one side destroys the other (as a balancer's would).
 */
export interface Balancer {
  readonly port: number;
  /** Connections sent to each upstream, by index. */
  readonly routed: number[];
  close(): Promise<void>;
}

export async function startBalancer(upstreamPorts: readonly number[]): Promise<Balancer> {
  const routed = upstreamPorts.map(() => 0);
  const sockets = new Set<Socket>();
  let next = 0;
  const server: Server = createServer((client) => {
    const index = next++ % upstreamPorts.length;
    routed[index] = (routed[index] ?? 0) + 1;
    const upstream = connect(upstreamPorts[index] as number, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    client.on('error', () => upstream.resetAndDestroy());
    upstream.on('error', () => client.resetAndDestroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    routed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
