import net from 'node:net';
import type { AddressInfo } from 'node:net';

/** A TCP echo server on loopback. */
export async function startEchoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Connects, writes `text`, and collects the echo: resolves with what came back
 * and how it ended (`complete` when all of it came back).
 */
export function exchange(
  port: number,
  text: string,
  waitMs = 2000,
): Promise<{ received: string; /** 'complete', 'end', 'timeout' or an error code */ ended: string }> {
  return new Promise((resolve) => {
    let received = '';
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(text));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ received, ended: 'timeout' });
    }, waitMs);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (received.length >= text.length) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ received, ended: 'complete' });
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ received, ended: error.code ?? error.message });
    });
    socket.on('end', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ received, ended: 'end' });
    });
  });
}
