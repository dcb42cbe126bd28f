/**
 * An Express 5 app in its own process, shut down by one contender on the
 * command `shutdown` (a line on stdin): holdfast's gracefulShutdown (and the
 * idle-close rules decision 0009 compares), `server.close()`,
 * http-terminator, terminus or lightship. Each request waits 1-10 ms (work
 * in flight) and is recorded by its `x-id`; the ids that reached the app are
 * written to the file given as the second argument when the process exits,
 * however it exits. Prints the port once listening, `done` when the
 * contender says the shutdown finished.
 *
 *   node --import tsx shutdown-child.ts <contender> <ids-file>
 */
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createTerminus } from '@godaddy/terminus';
import express from 'express';
import { createHttpTerminator } from 'http-terminator';
import { createLightship } from 'lightship';
import { createShutdownHandle, type IdleCloseRule } from '../../src/graceful-shutdown.js';

const [contender = 'holdfast', idsFile = ''] = process.argv.slice(2);
const arrived: string[] = [];
process.on('exit', () => {
  if (idsFile !== '') writeFileSync(idsFile, JSON.stringify(arrived));
});
// The parent ends this process by closing stdin; 'exit' then writes the ids.
process.stdin.on('end', () => process.exit(0));

const app = express();
app.get('/work', (req, res) => {
  arrived.push(String(req.headers['x-id']));
  setTimeout(() => res.send('done'), 1 + Math.floor(Math.random() * 10));
});
const server = app.listen(0, '127.0.0.1');
server.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => server.once('listening', resolve));

const say = (line: string): void => void process.stdout.write(`${line}\n`);
let shutdown: () => Promise<void>;
const holdfast = (rule: IdleCloseRule): (() => Promise<void>) => {
  const handle = createShutdownHandle(server, { signals: [], timeoutMs: 10_000 }, rule);
  return () => handle.shutdown();
};
switch (contender) {
  case 'holdfast':
    shutdown = holdfast('wait');
    break;
  case 'holdfast-immediate':
    shutdown = holdfast('immediate');
    break;
  case 'holdfast-after-response':
    shutdown = holdfast('after-response');
    break;
  case 'server.close':
    shutdown = () => new Promise((resolve) => server.close(() => resolve()));
    break;
  case 'http-terminator': {
    const terminator = createHttpTerminator({ server, gracefulTerminationTimeout: 10_000 });
    shutdown = () => terminator.terminate();
    break;
  }
  case 'terminus': {
    let finished: () => void = () => undefined;
    createTerminus(server, { signals: ['SIGUSR2'], timeout: 10_000, onShutdown: () => Promise.resolve(finished()) });
    // terminus re-raises the signal when done; this listener keeps the process for the ids file.
    process.on('SIGUSR2', () => undefined);
    shutdown = () =>
      new Promise<void>((resolve) => {
        finished = resolve;
        process.kill(process.pid, 'SIGUSR2');
      });
    break;
  }
  case 'lightship': {
    const lightship = await createLightship({
      detectKubernetes: false,
      port: 0,
      shutdownDelay: 0,
      shutdownHandlerTimeout: 1_000,
      gracefulShutdownTimeout: 10_000,
      terminate: () => process.exit(0),
    });
    lightship.registerShutdownHandler(() => new Promise<void>((resolve) => server.close(() => resolve())));
    lightship.signalReady();
    shutdown = () => lightship.shutdown();
    break;
  }
  default:
    throw new Error(`unknown contender ${contender}`);
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  if (chunk.includes('shutdown')) void shutdown().then(() => say('done'));
});
say(String((server.address() as AddressInfo).port));
