import { OutcomeUnknownError, RetryError } from '@holdfast/core';
import { describe, expect, it } from 'vitest';
import { DRIVER_LINES, type MongooseModule } from './support/drivers.js';
import { openHandle, proxyFor, record, startServer } from './support/harness.js';
import { failOnEscapedErrors, rejectionOf, sleep, until } from './support/leaks.js';
import type { ResilientMongoose } from '@holdfast/mongoose';

failOnEscapedErrors();

const MODES = ['standalone', 'replica-set'] as const;

function thingModel(m: MongooseModule, handle: ResilientMongoose) {
  return handle.connection.model('Thing', new m.Schema({ key: String, n: Number }));
}

/** A handle through a chaos proxy to a fresh test server, connected, with its model. */
async function connected(m: MongooseModule, mode: (typeof MODES)[number]) {
  const server = await startServer({ mode });
  const proxy = await proxyFor(server);
  const handle = openHandle(m, server.uri('app'));
  await handle.ready;
  const Thing = thingModel(m, handle);
  await Thing.init();
  return { server, proxy, handle, Thing };
}

describe.each(DRIVER_LINES)('resets in the middle of an operation, $label', ({ mongoose }) => {
  describe.each(MODES)('%s', (mode) => {
    it('a query reset mid-flight (twice, so the driver retry fails too): plain mongoose rejects, withRetry returns the rows', async () => {
      const { server, proxy, handle, Thing } = await connected(mongoose, mode);
      await Thing.create({ key: 'a', n: 1 });

      // The query reaches the server, which holds it; the chaos proxy resets the connection while it waits. Twice: the driver retries a read once.
      const resetMidQuery = async (): Promise<void> => {
        server.failCommand('find', { delayMs: 150 }, 2);
        for (let i = 0; i < 2; i++) {
          const before = server.stats().commands.find ?? 0;
          await until(() => (server.stats().commands.find ?? 0) > before, 'the query at the server');
          proxy.resetAll();
        }
      };
      const plainFault = resetMidQuery();
      const plain = await rejectionOf(Thing.find({ key: 'a' }).lean());
      await plainFault;
      expect(plain).toMatchObject({ name: 'MongoNetworkError' });

      const retried = resetMidQuery();
      const rows = await handle.withRetry(() => Thing.find({ key: 'a' }).lean());
      await retried;
      expect(rows).toHaveLength(1);
      expect(handle.stats().retries).toBeGreaterThanOrEqual(1);
    });

    it('an insert reset before it was applied, as the client sees it: outcome unknown unless the caller says it is idempotent', async () => {
      const { server, handle, Thing } = await connected(mongoose, mode);
      // Reset at the server before applying, on the attempt and on the driver's own retry (replica set).
      server.failCommand('insert', { reset: 'before' }, 2);
      const error = await rejectionOf(handle.withRetry(() => Thing.create({ key: 'x' })));
      expect(error).toBeInstanceOf(OutcomeUnknownError);
      expect(error).toMatchObject({ reason: 'outcome-unknown', fault: { kind: 'connection-reset', transient: true } });
      expect(server.documents('app.things')).toHaveLength(0);

      server.failCommand('insert', { reset: 'before' }, 2);
      // An upsert by key is safe to repeat.
      await handle.withRetry(() => Thing.updateOne({ key: 'y' }, { $set: { n: 1 } }, { upsert: true }), { idempotent: true });
      server.failCommand('update', { reset: 'before' }, 2);
      await handle.withRetry(() => Thing.updateOne({ key: 'y' }, { $inc: { n: 1 } }), { idempotent: false }).catch(() => undefined);
      expect(server.documents('app.things').filter((d) => d.key === 'y')).toHaveLength(1);
    });
  });

  it('standalone: a write reset after the server applied it is reported as outcome unknown, never repeated', async () => {
    const { server, handle, Thing } = await connected(mongoose, 'standalone');
    server.failCommand('insert', { reset: 'after' });
    const error = await rejectionOf(handle.withRetry(() => Thing.create({ key: 'once' })));
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect((error as OutcomeUnknownError).fault).toMatchObject({ code: 'ECONNRESET', kind: 'connection-reset', phase: 'unknown' });
    expect((error as Error).message).toContain('the outcome is unknown');
    // It was applied once, and sent once: holdfast did not repeat it.
    expect(server.documents('app.things').filter((d) => d.key === 'once')).toHaveLength(1);
    expect(server.stats().commands.insert).toBe(1);
    expect(handle.stats().outcomeUnknown).toBe(1);
  });

  it('replica set: a retryable write reset after it was applied is applied exactly once (the server deduplicates lsid + txnNumber)', async () => {
    const { server, handle, Thing } = await connected(mongoose, 'replica-set');
    server.failCommand('insert', { reset: 'after' });
    await handle.withRetry(() => Thing.create({ key: 'once' }));
    expect(server.documents('app.things').filter((d) => d.key === 'once')).toHaveLength(1);
    // Sent twice (the driver's retry, same transaction number), applied once.
    expect(server.stats().commands.insert).toBe(2);
    expect(server.stats().deduplicated).toBe(1);

    // Both the write and the driver's retry reset after applying: still once, and the caller is told the outcome is unknown.
    server.failCommand('insert', { reset: 'after' }, 2);
    const error = await rejectionOf(handle.withRetry(() => Thing.create({ key: 'twice-reset' })));
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect(server.documents('app.things').filter((d) => d.key === 'twice-reset')).toHaveLength(1);
  });
});

describe.each(DRIVER_LINES)('error labels and codes, $label', ({ mongoose }) => {
  it('RetryableWriteError: the driver retries it once on a replica set; a second one is retried by withRetry for an idempotent write', async () => {
    const { server, handle, Thing } = await connected(mongoose, 'replica-set');
    const shutdown = { code: 91, codeName: 'ShutdownInProgress', errorLabels: ['RetryableWriteError'] };
    server.failCommand('update', { error: shutdown });
    await handle.withRetry(() => Thing.updateOne({ key: 'k' }, { $set: { n: 1 } }, { upsert: true }));
    expect(server.stats().commands.update).toBe(2);

    server.failCommand('update', { error: shutdown }, 2);
    await handle.withRetry(() => Thing.updateOne({ key: 'k' }, { $set: { n: 2 } }, { upsert: true }), { idempotent: true });
    expect(server.documents('app.things')).toMatchObject([{ key: 'k', n: 2 }]);
  });

  it('InterruptedAtShutdown on a read: retried; a not-transient error (a duplicate key) is rejected unchanged, not retried', async () => {
    const { server, handle, Thing } = await connected(mongoose, 'standalone');
    server.failCommand('find', { error: { code: 11600, codeName: 'InterruptedAtShutdown' } }, 2);
    expect(await handle.withRetry(() => Thing.find().lean())).toEqual([]);

    const doc = await Thing.create({ key: 'dup' });
    const inserts = server.stats().commands.insert ?? 0;
    const duplicate = await rejectionOf(handle.withRetry(() => Thing.create({ _id: doc._id, key: 'dup' }), { idempotent: true }));
    expect(duplicate).toMatchObject({ code: 11000 });
    expect(duplicate).not.toBeInstanceOf(RetryError);
    expect(server.stats().commands.insert).toBe(inserts + 1);

    const invalid = await rejectionOf(handle.withRetry(() => Thing.create({ n: 'not a number' as never })));
    expect(invalid).toMatchObject({ name: 'ValidationError' });
  });
});

describe.each(DRIVER_LINES)('a server that restarts under load, $label', ({ mongoose }) => {
  it.each(MODES)('%s: every operation through withRetry completes, and the writes are all there', async (mode) => {
    const { server, handle, Thing } = await connected(mongoose, mode);
    await Thing.create({ key: 'seed', n: 0 });
    const disconnected = record(handle, 'disconnected');
    const reconnected = record(handle, 'reconnected');

    let stop = false;
    const outcomes = { holdfast: { ok: 0, failed: 0 } };
    const worker = async (index: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        try {
          if (i % 2 === 0) await handle.withRetry(() => Thing.findOne({ key: 'seed' }).lean());
          else await handle.withRetry(() => Thing.updateOne({ key: `w${index}` }, { $set: { n: i } }, { upsert: true }), { idempotent: true });
          outcomes.holdfast.ok++;
        } catch {
          outcomes.holdfast.failed++;
        }
        await sleep(5);
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    await sleep(200);
    await server.restart({ reset: true, downMs: 1_200 });
    await until(() => handle.connected && outcomes.holdfast.ok > 20, 'operations after the restart');
    await sleep(300);
    stop = true;
    await Promise.all(workers);

    expect(outcomes.holdfast.failed).toBe(0);
    expect(disconnected.length).toBeGreaterThanOrEqual(1);
    expect(reconnected.length).toBe(disconnected.length);
    expect(disconnected[0]).toMatchObject({ willReconnect: true, unconfirmed: { bytes: 0 } });
    expect(server.documents('app.things').filter((d) => typeof d.key === 'string' && d.key.startsWith('w'))).toHaveLength(4);
  });
});

describe.each(DRIVER_LINES)('one client, one pool, $label', ({ mongoose }) => {
  it('after 20 forced resets, the handle still has its one MongoClient and the server no more connections than the pool grew to', async () => {
    const { server, proxy, handle, Thing } = await connected(mongoose, 'standalone');
    const client = handle.connection.getClient();
    await handle.withRetry(() => Thing.create({ key: 'r', n: 0 }));
    const afterFirst = server.stats();

    for (let i = 1; i <= 20; i++) {
      proxy.resetAll();
      await handle.withRetry(() => Thing.updateOne({ key: 'r' }, { $set: { n: i } }), { idempotent: true });
      await handle.withRetry(() => Thing.findOne({ key: 'r' }).lean());
    }
    await until(() => handle.connected, 'connected');
    const after = server.stats();
    expect(handle.connection.getClient()).toBe(client);
    expect(server.documents('app.things')).toMatchObject([{ key: 'r', n: 20 }]);
    // One monitor connection open, and a pool that did not grow past what one request at a time needs.
    expect(after.monitors).toBeLessThanOrEqual(1);
    expect(after.open).toBeLessThanOrEqual(afterFirst.open + 1);
    // Each reset costs the monitor and the pool one new connection each, at most: no second client's connections on top.
    expect(after.connections - afterFirst.connections).toBeLessThanOrEqual(2 * 20 + 2);
    // Every connection is one of the driver's, with one handshake (a connection reset before its hello has none).
    expect(after.handshakes).toBeLessThanOrEqual(after.connections);
    expect(after.handshakes - afterFirst.handshakes).toBeLessThanOrEqual(2 * 20 + 2);
  });
});

describe.each(DRIVER_LINES)('every operation has its own deadline, $label', ({ mongoose }) => {
  it('a pooled connection the server ended (FIN) can leave a query hanging for ever; withRetry abandons the attempt and gets the rows', async () => {
    const { proxy, handle, Thing } = await connected(mongoose, 'standalone');
    await Thing.create({ key: 'h' });

    // Measured: an operation issued right after the pooled connection's FIN, one turn of the event loop later, never settles.
    const hangs = async (run: () => Promise<unknown>): Promise<boolean> => {
      await proxy.disable({ mode: 'reset', existing: 'close' });
      await proxy.enable();
      await new Promise((resolve) => setImmediate(resolve));
      return Promise.race([
        run().then(
          () => false,
          () => false,
        ),
        sleep(1_500).then(() => true),
      ]);
    };
    let sawHang = false;
    for (let i = 0; i < 5 && !sawHang; i++) sawHang = await hangs(() => Thing.find({ key: 'h' }).lean());
    expect(sawHang).toBe(true);

    for (let i = 0; i < 3; i++) {
      await proxy.disable({ mode: 'reset', existing: 'close' });
      await proxy.enable();
      await new Promise((resolve) => setImmediate(resolve));
      const started = Date.now();
      const rows = await handle.withRetry(() => Thing.find({ key: 'h' }).lean(), { attemptTimeoutMs: 400, deadlineMs: 5_000 });
      expect(rows).toHaveLength(1);
      expect(Date.now() - started).toBeLessThan(3_000);
    }
  });
});
