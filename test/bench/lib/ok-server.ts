/**
 * A keep-alive HTTP server answering `200 ok`, run in its own process so the
 * benchmark's client is not sharing an event loop with it. Prints
 * `{"port":N}` once listening; exits when its parent closes our stdin
 * (which happens even if the parent is killed).
 */
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
  res.end('ok');
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
