/**
 * Run as `node --expose-gc --import tsx ws-memory-child.ts <contender> <url> <connections>`:
 * opens that many idle connections with one client library in a fresh process
 * (so no other contender's garbage or JIT state is counted) and prints, as
 * one JSON line, the heap and RSS they added, measured after full GCs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, isContenderName, opened } from './ws-contenders.js';

const [name = '', url = '', countText = ''] = process.argv.slice(2);
const connections = Number(countText);
if (!isContenderName(name) || url === '' || !(connections > 0)) throw new Error(`usage: ws-memory-child.ts <contender> <url> <connections>, got ${process.argv.slice(2).join(' ')}`);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

/** Several full collections and a pause, so that what is left is what is still referenced. */
async function settle(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 4; i++) {
    gc!();
    await sleep(20);
  }
  return process.memoryUsage();
}

// One connection first, closed again: module loading and first-use JIT and buffers are not per-connection costs.
const warm = connect(name, url);
await opened(warm);
await warm.close();
const before = await settle();
const fleet = Array.from({ length: connections }, () => connect(name, url));
await Promise.all(fleet.map(opened));
// Handshake leftovers (request objects, parsers) are released over the next ticks.
await sleep(200);
const after = await settle();
console.log(
  JSON.stringify({
    heapPerConnection: (after.heapUsed - before.heapUsed) / connections,
    externalPerConnection: (after.external - before.external) / connections,
    rssPerConnection: (after.rss - before.rss) / connections,
  }),
);
await Promise.all(fleet.map((client) => client.close()));
process.exit(0);
