/**
 * The mongoose benchmark's MongoDB: packages/mongoose's wire-protocol test
 * server, in its own process (started by mongo-server-process.ts) so it does
 * not share the client's event loop. Prints `{"port":…}` once listening, then
 * answers each command line on stdin with one line:
 * - `restart <downMs>`: resets every connection, stops listening, listens
 *   again on the same port `downMs` later; answers `up <epoch ms, fractional>`
 *   the moment it listens again.
 * Exits when its stdin closes.
 */
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { MongoWireServer } from '../../../packages/mongoose/test/fixture/mongo-wire-server.js';

const mode = process.argv[2] === 'replica-set' ? 'replica-set' : 'standalone';
const server = await new MongoWireServer({ mode }).start();
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [command, argument] = line.trim().split(/\s+/);
  if (command === 'restart') {
    void server.restart({ reset: true, downMs: Number(argument ?? 1000) }).then(() => {
      process.stdout.write(`up ${performance.timeOrigin + performance.now()}\n`);
    });
  }
});
lines.on('close', () => {
  void server.stop().then(() => process.exit(0));
});
