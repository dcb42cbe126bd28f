// The CommonJS face of every package, as an Express app written in CommonJS loads it: each require() resolves
// the package's .cjs build, beside the project's own undici, ws and axios.
'use strict';
const assert = require('node:assert/strict');
const { once } = require('node:events');
const { createServer } = require('node:http');
const { Agent, request } = require('undici');

const core = require('@holdfast/core');
const http = require('@holdfast/http');
const chaos = require('@holdfast/chaos');
const net = require('@holdfast/net');
const stream = require('@holdfast/stream');
const otlp = require('@holdfast/otlp');
const ws = require('@holdfast/ws');
const expressFaces = require('@holdfast/express');
const mongooseHandle = require('@holdfast/mongoose');

async function main() {
  for (const [name, exported, member] of [
    ['core', core, 'classify'],
    ['http', http, 'retryInterceptor'],
    ['chaos', chaos, 'createChaosProxy'],
    ['net', net, 'ReconnectingSocket'],
    ['stream', stream, 'resumablePipeline'],
    ['otlp', otlp, 'createTraceExporter'],
    ['ws', ws, 'ReconnectingWebSocket'],
    ['express', expressFaces, 'idempotency'],
    ['mongoose', mongooseHandle, 'connectMongoose'],
  ]) {
    assert.equal(typeof exported[member], 'function', `require('@holdfast/${name}').${member}`);
  }
  // One class per error across the two builds a project may load: the CommonJS http build throws core's CommonJS errors.
  assert.equal(http.OutcomeUnknownError, core.OutcomeUnknownError);

  let arrivals = 0;
  const server = createServer((req, res) => (++arrivals === 1 ? req.socket.resetAndDestroy() : res.end('ok')));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const agent = new Agent();
  const res = await request(`http://127.0.0.1:${server.address().port}/`, {
    dispatcher: agent.compose(http.retryInterceptor({ schedule: core.constant(5) })),
  });
  assert.equal(await res.body.text(), 'ok');
  assert.equal(arrivals, 2);
  await agent.close();
  server.close();
  console.log('  ok  require() of every package; the interceptor retries a reset GET through the project undici');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
