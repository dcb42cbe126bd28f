import { createChaosProxy } from '@holdfast/chaos';
import { constant } from '@holdfast/core';
import { ReconnectingWebSocket } from '@holdfast/ws';
import type { ContractObject, ContractSubject } from '../../../../test/contract/subject.js';
import { startServer } from './ws-server.js';

const opened = (object: ContractObject): Promise<void> => new Promise((resolve) => object.once('open', () => resolve()));

/** ws's entry in the contract suite: an echo server behind the proxy. */
export const reconnectingWebSocket: ContractSubject = {
  title: 'ReconnectingWebSocket (@holdfast/ws)',
  kind: 'connection',
  events: ['state', 'open', 'disconnect', 'reconnecting', 'give-up', 'drop', 'drain', 'close'],
  dataEvent: 'message',
  misspelt: { key: 'minUptime', suggests: 'minUptimeMs' },
  async start() {
    const server = await startServer();
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
    return new ReconnectingWebSocket(peer.proxy.url('ws'), { schedule: constant(20), minUptimeMs: 0, ...options }) as unknown as ContractObject;
  },
  ready: (object) => opened(object),
  use(object) {
    (object as unknown as ReconnectingWebSocket).send('hello');
  },
  async fault(object, peer) {
    const back = new Promise<void>((resolve) => object.once('disconnect', () => resolve(opened(object))));
    peer.proxy.resetAll();
    await back;
  },
};
