import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express5 from 'express';
import express4 from 'express4';
import { afterAll, beforeAll, expect } from 'vitest';

/** Both Express majors the package supports; tests that touch Express run on each. */
export const EXPRESSES = [
  ['express 5', express5],
  ['express 4', express4],
] as const;

export interface Listening {
  readonly server: http.Server;
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1, a free port. `close()` also drops keep-alive connections so it does not wait for clients. */
export async function listen(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Listening> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** One request on a fresh connection. */
export function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Fails the file if any error escaped as 'uncaughtException' or 'unhandledRejection' (a broken client must never crash the server). */
export function failOnEscapedErrors(): { readonly escaped: unknown[] } {
  const escaped: unknown[] = [];
  const record = (error: unknown): void => void escaped.push(error);
  beforeAll(() => {
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
  });
  afterAll(() => {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
    expect(escaped).toEqual([]);
  });
  return { escaped };
}

/** Active TCP handles (sockets and servers) of this process. */
export const socketHandles = (): number => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;
