import net from 'node:net';
import { createChaosProxy, type ChaosProxy } from '@holdfast/chaos';
import { ResilientMongoose, type ResilientMongooseEvents, type ResilientMongooseOptions } from '@holdfast/mongoose';
import { afterEach } from 'vitest';
import { MongoWireServer, type MongoWireServerOptions } from '../fixture/mongo-wire-server.js';
import type { MongooseModule } from './drivers.js';

/**
 * What each test opens, closed after it whatever happened: servers, chaos
 * proxies, handles and plain mongoose instances.
 */
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

export async function startServer(options: MongoWireServerOptions = {}): Promise<MongoWireServer> {
  const server = await new MongoWireServer(options).start();
  cleanups.push(() => server.stop());
  return server;
}

/** A chaos proxy in front of `server`; in replica-set mode the server names the proxy as its member. */
export async function proxyFor(server: MongoWireServer): Promise<ChaosProxy> {
  const proxy = await createChaosProxy({ upstream: server.address });
  server.advertise(proxy.address);
  cleanups.push(() => proxy.close());
  return proxy;
}

/** A fresh mongoose instance of `line` (never the global one, so tests do not share models or connections). */
export function freshMongoose(m: MongooseModule): MongooseModule {
  const instance = new m.Mongoose();
  cleanups.push(() => instance.disconnect());
  return instance;
}

/** A handle on a fresh mongoose instance of `m`, closed after the test. Short schedules: tests wait milliseconds, not seconds. */
export function openHandle(m: MongooseModule, uri: string, options: ResilientMongooseOptions = {}): ResilientMongoose {
  const handle = new ResilientMongoose(uri, {
    mongoose: freshMongoose(m),
    connectOptions: { heartbeatFrequencyMS: 500, ...options.connectOptions },
    ...options,
  });
  cleanups.push(() => handle.close());
  return handle;
}

/** Every payload of `name` the handle emits from now on. */
export function record<K extends keyof ResilientMongooseEvents>(handle: ResilientMongoose, name: K): ResilientMongooseEvents[K][] {
  const events: ResilientMongooseEvents[K][] = [];
  handle.on(name, (event) => events.push(event));
  return events;
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

export function onCleanup(cleanup: () => Promise<unknown>): void {
  cleanups.push(cleanup);
}
