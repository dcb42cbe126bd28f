import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createChaosProxy } from '@holdfast/chaos';
import { exponential } from '@holdfast/core';
import { createHttpClient, type HttpClient } from '@holdfast/http';
import type { ContractObject, ContractSubject } from '../../../../test/contract/subject.js';

type Client = HttpClient & ContractObject & { contractUrl: string };

const get = (object: ContractObject): Promise<unknown> => {
  const client = object as Client;
  return client.request(client.contractUrl).then((res) => res.body.text());
};

/** http's entry in the contract suite: `createHttpClient()` against a keep-alive server behind the proxy. */
export const httpClient: ContractSubject = {
  title: 'createHttpClient (@holdfast/http)',
  kind: 'client',
  events: ['retry', 'recovered', 'give-up', 'stale-connection', 'health'],
  misspelt: { key: 'deadline', suggests: 'deadlineMs' },
  async start() {
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port } });
    return {
      proxy,
      async stop() {
        await proxy.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  },
  create(peer, options) {
    const client = createHttpClient({ attempts: 10, schedule: exponential({ initialMs: 20, maxMs: 100 }), ...options }) as Client;
    client.contractUrl = `${peer.proxy.url('http')}/`;
    return client;
  },
  async ready(object) {
    await get(object);
  },
  use(object) {
    get(object).catch(() => undefined);
  },
  async fault(object, peer) {
    // The first byte of the answer becomes a RST: the GET is retried, then, the toxic gone, it recovers.
    const toxic = peer.proxy.addToxic({ type: 'reset_peer', stream: 'downstream' });
    const retried = new Promise<void>((resolve) => object.once('retry', () => resolve()));
    const recovered = new Promise<void>((resolve) => object.once('recovered', () => resolve()));
    this.use(object);
    await retried;
    peer.proxy.removeToxic(toxic);
    await recovered;
  },
};
