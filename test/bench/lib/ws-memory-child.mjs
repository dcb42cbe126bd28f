/**
 * Run as `node --expose-gc ws-memory-child.mjs <contender> <url> <connections> <holdfast bundle>`:
 * opens that many idle connections with one client library in a fresh process
 * (so no other contender's garbage or JIT state is counted) and prints, as one
 * JSON line, the heap and RSS they added, measured after full GCs.
 *
 * Plain JavaScript under plain node, holding nothing per connection but the
 * library's own socket: holdfast comes from a bundle of its sources built the
 * way the published package is (tsx, which runs the benchmarks, wraps every
 * function in a naming helper that costs some 250 B per closure, and the
 * benchmark's own wrappers would be counted for every contender alike).
 */
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

const require = createRequire(new URL('../../../packages/ws/package.json', import.meta.url));
const WebSocket = require('ws');
const [name = '', url = '', countText = '', bundle = ''] = process.argv.slice(2);
const connections = Number(countText);
const CONTENDERS = ['raw ws', 'holdfast', 'reconnecting-websocket', 'partysocket'];
if (!CONTENDERS.includes(name) || url === '' || !(connections > 0) || bundle === '') {
  throw new Error(`usage: ws-memory-child.mjs <contender> <url> <connections> <holdfast bundle>, got ${process.argv.slice(2).join(' ')}`);
}
const gc = globalThis.gc;
if (typeof gc !== 'function') throw new Error('run with --expose-gc');

const { ReconnectingWebSocket } = await import(pathToFileURL(bundle).href);
const PeerReconnecting = require('reconnecting-websocket');
const PartySocket = require('partysocket').WebSocket.default;

// Shared by every socket, so the harness adds nothing per connection.
let openCount = 0;
const onOpen = () => {
  openCount++;
};
const ignore = () => {};

function open() {
  if (name === 'raw ws') {
    const socket = new WebSocket(url);
    socket.on('error', ignore);
    socket.once('open', onOpen);
    return socket;
  }
  if (name === 'holdfast') {
    const socket = new ReconnectingWebSocket(url);
    socket.once('open', onOpen);
    return socket;
  }
  const Peer = name === 'partysocket' ? PartySocket : PeerReconnecting;
  const socket = new Peer(url, [], { WebSocket });
  socket.addEventListener('error', ignore);
  socket.addEventListener('open', onOpen);
  return socket;
}

async function opened(count) {
  while (openCount < count) await sleep(5);
}

/** Several full collections and a pause, so that what is left is what is still referenced. */
async function settle() {
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(20);
  }
  return process.memoryUsage();
}

// One connection first, closed again: module loading and first-use JIT and buffers are not per-connection costs.
const warm = open();
await opened(1);
warm.close();
await sleep(100);
const before = await settle();
const fleet = Array.from({ length: connections }, open);
await opened(connections + 1);
// Handshake leftovers (request objects, parsers) are released over the next ticks.
await sleep(200);
const after = await settle();
console.log(
  JSON.stringify({
    heapPerConnection: (after.heapUsed - before.heapUsed) / connections,
    externalPerConnection: (after.external - before.external) / connections,
    rssPerConnection: (after.rss - before.rss) / connections,
    open: fleet.length,
  }),
);
process.exit(0);
