import diagnosticsChannel from 'node:diagnostics_channel';
import { RetryError } from '@holdfast/core';
import { NotConnectedError, withRetry, type MongooseConnectionState, type ResilientMongooseEvents } from '@holdfast/mongoose';
import { describe, expect, it } from 'vitest';
import { DRIVER_LINES, type MongooseModule } from './support/drivers.js';
import { openHandle, proxyFor, startServer } from './support/harness.js';
import { failOnEscapedErrors, rejectionOf, settle, sleep, socketHandles, until, watchTimers } from './support/leaks.js';
import type { ResilientMongoose } from '@holdfast/mongoose';

failOnEscapedErrors();

function thingModel(m: MongooseModule, handle: ResilientMongoose) {
  return handle.connection.model('Thing', new m.Schema({ key: String, n: Number }));
}

type Recorded = { [K in keyof ResilientMongooseEvents]: ResilientMongooseEvents[K] & { event: K } }[keyof ResilientMongooseEvents];

/** The shared lifecycle every reconnecting holdfast object publishes (on holdfast:reconnect). */
const SHARED = new Set(['state', 'open', 'disconnect', 'reconnecting', 'give-up', 'close']);

/** Every event of `handle`, in order, and every message on `holdfast:reconnect` meanwhile. */
function recordAll(handle: ResilientMongoose): { events: Recorded[]; published: unknown[]; stop(): void } {
  const events: Recorded[] = [];
  const names = ['state', 'open', 'connected', 'disconnect', 'disconnected', 'reconnecting', 'reconnected', 'give-up', 'close'] as const;
  const offs = names.map((name) => handle.on(name, (event) => events.push(event)));
  const published: unknown[] = [];
  const onMessage = (message: unknown): void => void published.push(message);
  diagnosticsChannel.subscribe('holdfast:reconnect', onMessage);
  return {
    events,
    published,
    stop: () => {
      for (const off of offs) off();
      diagnosticsChannel.unsubscribe('holdfast:reconnect', onMessage);
    },
  };
}

describe.each(DRIVER_LINES)('what the handle says, $label', ({ mongoose, driverMajor }) => {
  it('a server outage: disconnect (with the fault), reconnecting (probes), open again, each shared event published once on holdfast:reconnect', async () => {
    const server = await startServer();
    const proxy = await proxyFor(server);
    // While the server is marked unknown a probe waits in server selection: 1 s each here, to keep the test short.
    const handle = openHandle(mongoose, server.uri('app', proxy.address, {}), { serverSelectionTimeoutMS: 1_000 });
    const recorded = recordAll(handle);
    await handle.ready;
    const Thing = thingModel(mongoose, handle);
    await handle.withRetry(() => Thing.create({ key: 'a' }));

    await proxy.disable({ existing: 'reset' });
    // An operation meets the outage (or the driver's monitor does first): the handle knows within one operation.
    const during = handle.withRetry(() => Thing.findOne({ key: 'a' }).lean(), { deadlineMs: 8_000 });
    await until(() => handle.state === 'reconnecting', 'reconnecting');
    expect(handle.connected).toBe(false);
    await until(() => recorded.events.some((e) => e.event === 'reconnecting'), 'a failed probe');
    await sleep(300);
    await proxy.enable();
    expect(await during).toMatchObject({ key: 'a' });
    await until(() => handle.connected, 'connected again');
    recorded.stop();

    const sequence = recorded.events.filter((e) => e.event !== 'reconnecting').map((e) => (e.event === 'state' ? `${e.from}->${e.to}` : e.event));
    expect(sequence).toEqual([
      'connecting->connected',
      'open',
      'connected',
      'connected->reconnecting',
      'disconnect',
      'disconnected',
      'reconnecting->connected',
      'open',
      'reconnected',
    ]);
    // mongoose's names carry the shared payloads.
    const disconnect = recorded.events.find((e) => e.event === 'disconnect');
    expect({ ...disconnect, event: 'disconnected' }).toEqual(recorded.events.find((e) => e.event === 'disconnected'));
    const disconnected = recorded.events.find((e) => e.event === 'disconnected') as ResilientMongooseEvents['disconnected'];
    expect(disconnected).toEqual({
      event: 'disconnected',
      name: 'mongoose',
      fault: expect.objectContaining({ transient: true, phase: 'connect' }),
      unconfirmed: { messages: expect.any(Number), bytes: 0 },
      uptimeMs: expect.any(Number),
      willReconnect: true,
    });
    expect(Number.isInteger(disconnected.uptimeMs)).toBe(true);
    for (const probe of recorded.events.filter((e) => e.event === 'reconnecting')) {
      expect(probe).toEqual({
        event: 'reconnecting',
        name: 'mongoose',
        attempt: expect.any(Number),
        delayMs: expect.any(Number),
        fault: expect.any(Object),
      });
      expect(Number.isInteger(probe.delayMs)).toBe(true);
    }
    const reconnected = recorded.events.find((e) => e.event === 'reconnected') as ResilientMongooseEvents['reconnected'];
    expect(reconnected.downtimeMs).toBeGreaterThanOrEqual(300);
    // One message per shared event on the diagnostics channel, the same payloads; mongoose's own names are not published again.
    const shared = recorded.events.filter((e) => SHARED.has(e.event));
    expect(recorded.published).toHaveLength(shared.length);
    expect(recorded.published).toEqual(shared);
    expect(handle.stats()).toMatchObject({ state: 'connected', connects: 2, disconnects: 1, failed: 0 });
    expect(handle.stats().probes).toBeGreaterThanOrEqual(1);
    expect(handle.lastFault).toBeDefined();
  });

  it('while the server is down, operations wait for one probe instead of retrying into it: 20 reads through an outage', async () => {
    const server = await startServer();
    const proxy = await proxyFor(server);
    // The driver's own heartbeat (10 s): what an application runs with.
    const handle = openHandle(mongoose, server.uri('app', proxy.address, {}), { connectOptions: { heartbeatFrequencyMS: 10_000 } });
    await handle.ready;
    const Thing = thingModel(mongoose, handle);
    await Thing.create({ key: 'a' });

    /** Connection attempts in the 1.5 s after the first operation failed: the proxy accepts and resets each one, and counts it. */
    const attemptsThrough = async (run: () => Promise<unknown>): Promise<number> => {
      await proxy.disable({ mode: 'reset', existing: 'reset' });
      const operations = Array.from({ length: 20 }, run);
      await sleep(300);
      const before = proxy.stats().connections.rejected;
      await sleep(1_500);
      const attempts = proxy.stats().connections.rejected - before;
      await proxy.enable();
      const results = await Promise.allSettled(operations);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      await until(() => handle.connected, 'connected again');
      return attempts;
    };
    const waited = await attemptsThrough(() => handle.withRetry(() => Thing.findOne({ key: 'a' }).lean(), { deadlineMs: 8_000 }));
    const blind = await attemptsThrough(() => withRetry(() => Thing.findOne({ key: 'a' }).lean(), { deadlineMs: 8_000 }));

    // Measured: 13-26 with the handle on both lines (a probe at most every second, each through the driver's own
    // retries, and the driver's monitor). The standalone withRetry, with no handle to wait at: 186-191 on driver 7, which
    // fails each read on a refused server at once and retries it itself; driver 6 waits in server selection (3 either way).
    expect(waited).toBeLessThan(45);
    if (driverMajor >= 7) expect(blind).toBeGreaterThan(3 * waited);
  });

  it('a throwing listener becomes a warning and breaks nothing', async () => {
    const server = await startServer();
    const handle = openHandle(mongoose, server.uri('app'));
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      handle.on('connected', () => {
        throw new Error('listener bug');
      });
      const seen: string[] = [];
      handle.on('connected', () => seen.push('second listener'));
      await handle.ready;
      await settle();
      expect(seen).toEqual(['second listener']);
      expect(warnings.some((w) => w.includes('listener bug'))).toBe(true);
      const Thing = thingModel(mongoose, handle);
      await handle.withRetry(() => Thing.create({ key: 'still works' }));
    } finally {
      process.off('warning', onWarning);
    }
  });

  it("an 'error' mongoose or the driver emits never crashes the process: it becomes lastFault", async () => {
    const server = await startServer();
    const handle = openHandle(mongoose, server.uri('app'));
    await handle.ready;
    const monitorClosed = Object.assign(new Error('connection <monitor> to 127.0.0.1:27017 closed'), { name: 'MongoNetworkError' });
    expect(() => handle.connection.emit('error', monitorClosed)).not.toThrow();
    expect(() => handle.connection.getClient().emit('error', monitorClosed)).not.toThrow();
    expect(handle.lastFault).toMatchObject({ code: 'MongoNetworkError', transient: true });
  });

  it('close(): final, twice is fine, no socket or timer left, later operations fail at once as not sent', async () => {
    await settle();
    const before = socketHandles();
    const timers = watchTimers();
    const server = await startServer();
    const handle = openHandle(mongoose, server.uri('app'));
    await handle.ready;
    const Thing = thingModel(mongoose, handle);
    await handle.withRetry(() => Thing.create({ key: 'a' }));
    const states: MongooseConnectionState[] = [];
    handle.on('state', (e) => states.push(e.to));
    const first = handle.close();
    expect(handle.close()).toBe(first);
    await first;
    expect(states).toEqual(['closed']);
    expect(handle.state).toBe('closed');
    await server.stop();
    await settle();
    expect(socketHandles()).toBe(before);
    // Every timer made since the test began (the handle's, mongoose's, the driver's, the test server's) is gone.
    await settle();
    expect(timers.pending()).toBe(0);
    timers.stop();
    const after = await rejectionOf(handle.withRetry(() => Thing.find().lean()));
    expect(after).toBeInstanceOf(RetryError);
    expect((after as RetryError).cause).toBeInstanceOf(NotConnectedError);
    expect(after).toMatchObject({ reason: 'not-transient', fault: { code: 'HOLDFAST_CLOSED', phase: 'connect' } });
  });

  it('close() while the server is down and the probe waits: no timer of the probe, mongoose or the driver is left', async () => {
    const server = await startServer();
    const proxy = await proxyFor(server);
    const timers = watchTimers();
    const handle = openHandle(mongoose, server.uri('app', proxy.address, {}), { serverSelectionTimeoutMS: 1_000 });
    await handle.ready;
    const reconnecting = new Promise((resolve) => handle.once('reconnecting', resolve));
    await proxy.disable({ existing: 'reset' });
    await reconnecting;
    expect(handle.state).toBe('reconnecting');
    await handle.close();
    await settle();
    expect(timers.pending()).toBe(0);
    timers.stop();
  });

  it('the connection closed outside the handle: disconnected (willReconnect false), state disconnected, operations fail fast', async () => {
    const server = await startServer();
    const handle = openHandle(mongoose, server.uri('app'));
    const recorded = recordAll(handle);
    await handle.ready;
    const Thing = thingModel(mongoose, handle);
    await handle.connection.close();
    await until(() => handle.state === 'disconnected', 'disconnected');
    recorded.stop();
    expect(recorded.events.find((e) => e.event === 'disconnected')).toMatchObject({
      willReconnect: false,
      fault: { code: 'MongoClientClosedError' },
    });
    const started = Date.now();
    const error = await rejectionOf(handle.withRetry(() => Thing.find().lean()));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toMatchObject({ reason: 'not-transient' });
  });

  it('credentials in the URI appear in no event, error or diagnostics message', async () => {
    const server = await startServer();
    const proxy = await proxyFor(server);
    const handle = openHandle(mongoose, `mongodb://alice:pa55word@${proxy.address}/app`, { connectDeadlineMs: 1_500 });
    const recorded = recordAll(handle);
    await proxy.disable();
    const error = await rejectionOf(handle.ready);
    recorded.stop();
    const everything = JSON.stringify([recorded.events, recorded.published, (error as Error).message, handle.lastFault]);
    expect(everything).not.toContain('pa55word');
    expect(recorded.events.some((e) => e.event === 'give-up')).toBe(true);
  });
});
