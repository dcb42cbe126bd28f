import { createChaosProxy } from '@holdfast/chaos';
import { ResilientMongoose } from '@holdfast/mongoose';
import mongoose from 'mongoose';
import type { ContractObject, ContractSubject } from '../../../../test/contract/subject.js';
import { MongoWireServer } from '../fixture/mongo-wire-server.js';

type Handle = ResilientMongoose & { contractServer?: MongoWireServer };

/** mongoose's entry in the contract suite: the wire-protocol test server behind the proxy, a fresh mongoose instance per handle. */
export const resilientMongoose: ContractSubject = {
  title: 'ResilientMongoose (@holdfast/mongoose)',
  kind: 'connection',
  // The shared lifecycle (published on holdfast:reconnect); connected/disconnected/reconnected are listener-only faces.
  events: ['state', 'open', 'disconnect', 'reconnecting', 'give-up', 'close'],
  // Its operations' own retries and give-ups (core's retry loop, under the handle's name) go to holdfast:retry and holdfast:give-up.
  channels: ['holdfast:reconnect'],
  misspelt: { key: 'connectDeadline', suggests: 'connectDeadlineMs' },
  knownGaps: {
    lifecycle:
      "the driver reconnects, not core's Supervisor: its states are mongoose's (connecting, connected, reconnecting) and it has no maxAttempts; its shared events carry the shared payloads",
  },
  async start() {
    const server = await new MongoWireServer().start();
    const proxy = await createChaosProxy({ upstream: server.address });
    server.advertise(proxy.address);
    return {
      proxy,
      async stop() {
        await proxy.close();
        await server.stop();
      },
    };
  },
  create(peer, options) {
    const instance = new mongoose.Mongoose();
    const handle = new ResilientMongoose(`mongodb://${peer.proxy.address}/app`, {
      mongoose: instance,
      connectOptions: { heartbeatFrequencyMS: 500 },
      ...options,
    });
    const close = handle.close.bind(handle);
    // The handle leaves the mongoose instance it was given to its owner: the test is that owner.
    Object.defineProperty(handle, 'close', { value: () => close().then(() => instance.disconnect()) });
    return handle as unknown as ContractObject;
  },
  async ready(object) {
    await (object as unknown as Handle).ready;
  },
  use(object) {
    const handle = object as unknown as Handle;
    void handle.withRetry(() => handle.connection.db!.command({ ping: 1 })).catch(() => undefined);
  },
  // A MongoDB handle reports the server, not a connection: the driver reconnects a reset socket by itself. Its fault is
  // the server going away (the proxy refuses, and resets what was open) until the handle says so, then coming back.
  async fault(object, peer) {
    const lost = new Promise<void>((resolve) => object.once('disconnected', () => resolve()));
    const back = new Promise<void>((resolve) => object.once('reconnected', () => resolve()));
    await peer.proxy.disable({ existing: 'reset' });
    this.use(object);
    await lost;
    await peer.proxy.enable();
    await back;
  },
};
