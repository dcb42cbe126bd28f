import { fileURLToPath } from 'node:url';
import { startChildServer, type ChildServer } from './child-server.js';

const wsPackage = fileURLToPath(new URL('../../../packages/ws/package.json', import.meta.url));

/**
 * A plain ws server in its own process that only counts: a connection opened
 * on `/?expect=N` gets one text message `done` once the server has read N
 * messages from it, so a client's throughput is measured to the moment its
 * last message was read on the far side, not to the moment send() returned.
 * Connections without `expect` are held open and idle (for memory figures).
 */
const source = `
import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(wsPackage)});
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('connection', (socket, request) => {
  socket.on('error', () => {});
  const expected = Number(new URL(request.url, 'http://x').searchParams.get('expect') ?? 0);
  if (expected <= 0) return;
  let received = 0;
  socket.on('message', () => {
    if (++received === expected) socket.send('done');
  });
});
wss.on('listening', () => console.log(wss.address().port));
// Our end of stdin closing means the benchmark is gone: do not outlive it.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

export function startWsSinkServer(): Promise<ChildServer> {
  return startChildServer(source);
}
