import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { closeServer, listen } from './listen.js';

/**
 * A file download that honours `Range` and `If-Range` the way a CDN or object
 * store does: a strong ETag, `Accept-Ranges: bytes`, 206 with `Content-Range`
 * for a range of the same entity, the whole entity otherwise.
 */
export interface FileServer {
  readonly port: number;
  readonly size: number;
  /** sha256 of the file, hex. */
  readonly sha256: string;
  close(): Promise<void>;
}

export async function startFileServer(size: number): Promise<FileServer> {
  const file = randomBytes(size);
  const sha256 = createHash('sha256').update(file).digest('hex');
  const etag = `"${sha256.slice(0, 16)}"`;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    const from = range !== null && (ifRange === undefined || ifRange === etag) ? Number(range[1]) : 0;
    const headers = { etag, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', 'content-length': String(size - from) };
    if (from > 0) res.writeHead(206, { ...headers, 'content-range': `bytes ${from}-${size - 1}/${size}` });
    else res.writeHead(200, headers);
    res.end(file.subarray(from));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const port = await listen(server);
  return { port, size, sha256, close: () => closeServer(server, sockets) };
}
