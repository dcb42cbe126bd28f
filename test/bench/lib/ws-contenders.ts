/**
 * The WebSocket clients the ws benchmarks compare, reduced to one shape:
 * raw ws, @holdfast/ws, and reconnecting-websocket 4.4 and partysocket 1.3
 * given ws as their WebSocket (Node has no global one they could use).
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { ReconnectingWebSocket, type ReconnectingWebSocketOptions } from '@holdfast/ws';

// The transport and the peers are dependencies of packages/ws, not of the repository root.
const require = createRequire(new URL('../../../packages/ws/package.json', import.meta.url));
export const WebSocket = require('ws') as WsModule;
const PeerReconnecting = require('reconnecting-websocket') as new (url: string, protocols?: unknown, options?: object) => PeerSocket;
// partysocket's CommonJS build puts its ReconnectingWebSocket class on `WebSocket.default`.
const PartySocket = (require('partysocket') as { WebSocket: { default: new (url: string, protocols?: unknown, options?: object) => PeerSocket } })
  .WebSocket.default;

/** The part of ws used here (its types live with packages/ws). */
export interface WsSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Buffer): void;
  close(): void;
  terminate(): void;
  on(event: 'open' | 'close', listener: () => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  once(event: 'close', listener: () => void): void;
}

interface WsModule {
  new (url: string): WsSocket;
  readonly CLOSED: number;
  WebSocketServer: new (options: { server: Server }) => {
    clients: Set<WsSocket>;
    close(callback: () => void): void;
    on(event: 'connection', listener: (socket: WsSocket) => void): void;
  };
}

interface PeerSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Buffer): void;
  close(): void;
  addEventListener(type: string, listener: (event: never) => void): void;
}

/** What every contender is reduced to. */
export interface Client {
  send(data: string | Buffer): void;
  readonly bufferedAmount: number;
  onOpen(listener: () => void): void;
  onMessage(listener: (data: unknown) => void): void;
  close(): Promise<void>;
}

export type ContenderName = 'raw ws' | 'holdfast' | 'reconnecting-websocket' | 'partysocket';
export const CONTENDERS: readonly ContenderName[] = ['raw ws', 'holdfast', 'reconnecting-websocket', 'partysocket'];
export const RECONNECTING: readonly ContenderName[] = ['holdfast', 'reconnecting-websocket', 'partysocket'];

export function isContenderName(value: string): value is ContenderName {
  return (CONTENDERS as readonly string[]).includes(value);
}

export function connect(name: ContenderName, url: string, holdfastOptions: ReconnectingWebSocketOptions = {}, peerOptions: object = {}): Client {
  if (name === 'raw ws') {
    const socket = new WebSocket(url);
    socket.on('error', () => {});
    return {
      send: (data) => socket.send(data),
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
      onOpen: (listener) => socket.on('open', listener),
      onMessage: (listener) => socket.on('message', listener),
      close: () =>
        new Promise<void>((resolve) => {
          if (socket.readyState === WebSocket.CLOSED) resolve();
          else {
            socket.once('close', () => resolve());
            socket.close();
          }
        }),
    };
  }
  if (name === 'holdfast') {
    const socket = new ReconnectingWebSocket(url, holdfastOptions);
    return {
      send: (data) => socket.send(data),
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
      onOpen: (listener) => socket.on('open', listener),
      onMessage: (listener) => socket.on('message', listener),
      close: () => socket.close(),
    };
  }
  const Peer = name === 'partysocket' ? PartySocket : PeerReconnecting;
  const socket = new Peer(url, [], { WebSocket, ...peerOptions });
  socket.addEventListener('error', () => {});
  return {
    send: (data) => socket.send(data),
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    onOpen: (listener) => socket.addEventListener('open', listener),
    onMessage: (listener) => socket.addEventListener('message', listener),
    // Neither peer says when its socket has closed; the benchmarks do not need to know.
    close: () => {
      socket.close();
      return Promise.resolve();
    },
  };
}

export const opened = (client: Client): Promise<void> => new Promise((resolve) => client.onOpen(resolve));
