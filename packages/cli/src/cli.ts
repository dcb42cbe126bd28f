#!/usr/bin/env node
import { main } from './main.js';

// SIGINT/SIGTERM stop a long-running command (chaos, a demo) cleanly: it closes what it opened and exits.
const controller = new AbortController();
let interrupted = 0;
const stop = (): void => {
  // A second Ctrl-C does not wait for the cleanup.
  if (++interrupted > 1) process.exit(130);
  controller.abort();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  signal: controller.signal,
});
process.off('SIGINT', stop);
process.off('SIGTERM', stop);
process.exitCode = code;
// Reading stdin (chaos commands) keeps the process alive once paused; nothing else should be left.
process.stdin.destroy();
