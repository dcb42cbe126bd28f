import { createChaosProxy } from '@holdfast/chaos';
import { constant } from '@holdfast/core';
import { ReconnectingSocket } from '@holdfast/net';
import type { ContractObject, ContractSubject } from '../../../../test/contract/subject.js';
import { TestServer } from './test-server.js';

const opened = (object: ContractObject): Promise<void> => new Promise((resolve) => object.once('open', () => resolve()));

/** net's entry in the contract suite: a line-echo server behind the proxy. */
export const reconnectingSocket: ContractSubject = {
  title: 'ReconnectingSocket (@holdfast/net)',
  kind: 'connection',
  events: ['state', 'open', 'disconnect', 'reconnecting', 'give-up', 'drop', 'drain', 'close'],
  dataEvent: 'message',
  misspelt: { key: 'minUptime', suggests: 'minUptimeMs' },
  async start() {
    const server = await new TestServer({ framing: 'lines', onMessage: (message, reply) => reply(message) }).start();
    const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: server.port } });
    return {
      proxy,
      async stop() {
        await proxy.close();
        await server.stop();
      },
    };
  },
  create(peer, options) {
    return new ReconnectingSocket({
      host: '127.0.0.1',
      port: peer.proxy.port,
      framing: 'lines',
      schedule: constant(20),
      minUptimeMs: 0,
      ...options,
    }) as unknown as ContractObject;
  },
  ready: (object) => opened(object),
  use(object) {
    (object as unknown as ReconnectingSocket).send('hello');
  },
  async fault(object, peer) {
    const back = new Promise<void>((resolve) => object.once('disconnect', () => resolve(opened(object))));
    peer.proxy.resetAll();
    await back;
  },
};
