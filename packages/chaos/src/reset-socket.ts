import type { Socket } from 'node:net';

/**
 * Sends a real TCP RST (SO_LINGER 0, then close) and destroys the socket.
 * A socket still connecting (or still resolving its host) is reset as soon
 * as it connects, so the peer sees a RST rather than a connection that opens
 * and closes cleanly; if the connect fails, there is nothing to reset.
 */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) {
    socket.once('connect', () => resetSocket(socket));
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    // Only a non-TCP handle refuses a reset; closing it is the nearest thing.
    socket.destroy();
  }
}
