import { classify, RetryError } from '@holdfast/core';
import { connectMongoose, NotConnectedError, ResilientMongoose } from '@holdfast/mongoose';
import { describe, expect, it } from 'vitest';
import { DRIVER_LINES } from './support/drivers.js';
import { closedPort, freshMongoose, openHandle, record, startServer } from './support/harness.js';
import { failOnEscapedErrors, rejectionOf, sleep, socketHandles, settle, watchTimers } from './support/leaks.js';
import { MongoWireServer } from './fixture/mongo-wire-server.js';

failOnEscapedErrors();

describe.each(DRIVER_LINES)('the first connection, $label', ({ mongoose }) => {
  it('database down at start, up after 2 s: connectMongoose connects; plain mongoose.connect with a short serverSelectionTimeoutMS fails', async () => {
    const port = await closedPort();
    const server = new MongoWireServer({ port });
    const upLater = sleep(2_000).then(() => server.start());
    const uri = `mongodb://127.0.0.1:${port}/app`;

    const plain = freshMongoose(mongoose);
    const plainResult = plain.connect(uri, { serverSelectionTimeoutMS: 500 }).then(
      () => 'connected',
      (error: unknown) => error,
    );
    const started = Date.now();
    // Short attempts (300 ms of server selection each), so the 2 s outage takes several of them.
    const handle = openHandle(mongoose, uri, { serverSelectionTimeoutMS: 300 });
    const reconnecting = record(handle, 'reconnecting');
    const connected = record(handle, 'connected');
    expect(handle.state).toBe('connecting');

    await handle.ready;
    const tookMs = Date.now() - started;
    await upLater;
    try {
      expect(handle.state).toBe('connected');
      expect(tookMs).toBeGreaterThanOrEqual(1_900);
      const plainError = await plainResult;
      expect(plainError).toBeInstanceOf(Error);
      expect((plainError as Error).name).toBe('MongooseServerSelectionError');
      // What core's classify() reads from it: refused, transient, nothing sent (it used to say unknown and permanent).
      expect(classify(plainError)).toMatchObject({ kind: 'connection-refused', code: 'ECONNREFUSED', phase: 'connect', transient: true });

      // Each failed attempt was reported with its classified fault; one connected event once it was up.
      expect(reconnecting.length).toBeGreaterThanOrEqual(1);
      for (const event of reconnecting) expect(event.fault).toMatchObject({ kind: 'connection-refused', code: 'ECONNREFUSED' });
      expect(connected).toEqual([{ event: 'connected', name: 'mongoose', attempts: reconnecting.length + 1, durationMs: expect.any(Number) }]);

      const Thing = handle.connection.model('Thing', new mongoose.Schema({ name: String }));
      await handle.withRetry(() => Thing.create({ name: 'first' }));
      expect(server.documents('app.things')).toHaveLength(1);
    } finally {
      await handle.close();
      await server.stop();
    }
  });

  it('gives up at connectDeadlineMs with the classified fault, closes, and leaves no socket or timer', async () => {
    const before = socketHandles();
    const timers = watchTimers();
    const port = await closedPort();
    const handle = new ResilientMongoose(`mongodb://127.0.0.1:${port}/app`, {
      mongoose: freshMongoose(mongoose),
      connectDeadlineMs: 1_200,
      serverSelectionTimeoutMS: 300,
    });
    const giveUps = record(handle, 'give-up');
    const states: string[] = [];
    handle.on('state', (e) => states.push(`${e.from}->${e.to}`));
    const started = Date.now();
    const error = await rejectionOf(handle.ready);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(error).toBeInstanceOf(RetryError);
    expect(error).toMatchObject({ reason: 'deadline', fault: { kind: 'connection-refused', code: 'ECONNREFUSED' } });
    expect(giveUps).toHaveLength(1);
    expect(giveUps[0]).toMatchObject({ reason: 'deadline', fault: { code: 'ECONNREFUSED' } });
    await handle.close();
    expect(states).toEqual(['connecting->closed']);
    await settle();
    expect(socketHandles()).toBe(before);
    expect(timers.pending()).toBe(0);
    timers.stop();
  });

  it('an AbortSignal stops the first connection: ready rejects with its reason', async () => {
    const port = await closedPort();
    const controller = new AbortController();
    const handle = openHandle(mongoose, `mongodb://127.0.0.1:${port}/app`, { signal: controller.signal, serverSelectionTimeoutMS: 300 });
    setTimeout(() => controller.abort(new Error('shutting down')), 200);
    const error = await rejectionOf(handle.ready);
    expect(error).toMatchObject({ message: 'shutting down' });
    await handle.close();
    expect(handle.state).toBe('closed');
  });

  it('close() during the first connection: ready rejects with NotConnectedError, nothing is left', async () => {
    const before = socketHandles();
    const port = await closedPort();
    const handle = new ResilientMongoose(`mongodb://127.0.0.1:${port}/app`, { mongoose: freshMongoose(mongoose), serverSelectionTimeoutMS: 300 });
    await sleep(100);
    await Promise.all([handle.close(), handle.close()]);
    const error = await rejectionOf(handle.ready);
    expect(error).toBeInstanceOf(NotConnectedError);
    await settle();
    expect(socketHandles()).toBe(before);
  });

  it('serving before the database is up: withRetry waits for the first connection within its deadline', async () => {
    const port = await closedPort();
    const server = new MongoWireServer({ port });
    const handle = openHandle(mongoose, `mongodb://127.0.0.1:${port}/app`);
    const Thing = handle.connection.model('Thing', new mongoose.Schema({ name: String }));
    expect(handle.connected).toBe(false);

    // Nothing to wait for: fails at its deadline with the fault the connection meets, and nothing was sent.
    const early = await rejectionOf(handle.withRetry(() => Thing.find().lean(), { deadlineMs: 600 }));
    expect(early).toBeInstanceOf(RetryError);
    expect(early).toMatchObject({ reason: 'deadline', fault: { code: 'ECONNREFUSED', phase: 'connect' } });

    const waiting = handle.withRetry(() => Thing.create({ name: 'queued' }), { deadlineMs: 5_000 });
    await sleep(300);
    await server.start();
    try {
      await waiting;
      expect(server.documents('app.things')).toHaveLength(1);
      expect(handle.connected).toBe(true);
    } finally {
      await handle.close();
      await server.stop();
    }
  });
});

describe.each(DRIVER_LINES)('faults retrying cannot fix fail at once, $label', ({ mongoose }) => {
  it('a malformed connection string', async () => {
    const handle = openHandle(mongoose, 'http://127.0.0.1/app');
    const started = Date.now();
    const error = await rejectionOf(handle.ready);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toMatchObject({ reason: 'not-transient', fault: { code: 'MongoParseError', transient: false } });
    expect((error as Error).message).toContain('connection string is invalid');

    const badPort = openHandle(mongoose, 'mongodb://127.0.0.1:notaport/app');
    expect(await rejectionOf(badPort.ready)).toMatchObject({ reason: 'not-transient', fault: { transient: false } });
  });

  it('bad credentials: AuthenticationFailed, with a hint, and the password appears nowhere', async () => {
    const server = await startServer({ rejectAuth: true });
    const handle = openHandle(mongoose, `mongodb://alice:s3cret-pw@${server.address}/app?authSource=admin`);
    const events: unknown[] = [];
    for (const name of ['reconnecting', 'give-up', 'state'] as const) handle.on(name, (e) => events.push(e));
    const error = await rejectionOf(handle.ready);
    expect(error).toMatchObject({ reason: 'not-transient', fault: { code: 'AuthenticationFailed', transient: false } });
    expect((error as Error).message).toContain('check the user, password and authSource');
    expect(JSON.stringify(events)).not.toContain('s3cret');
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('an unknown host (ENOTFOUND) fails at once with a dns fault', async () => {
    const handle = openHandle(mongoose, 'mongodb://holdfast-test.invalid:27017/app');
    const error = await rejectionOf(handle.ready);
    expect(error).toMatchObject({ reason: 'not-transient', fault: { kind: 'dns', code: 'ENOTFOUND', transient: false } });
    expect(handle.stats().connectAttempts).toBe(1);
  });

  it('options are checked at construction, with the option, the value and a pointer', () => {
    expect(() => new ResilientMongoose('mongodb://127.0.0.1/app', { dbName: 'x' } as never)).toThrow(
      /unknown option 'dbName' \(did you mean connectOptions\.dbName/,
    );
    expect(() => new ResilientMongoose('mongodb://127.0.0.1/app', { deadlineMs: -1 })).toThrow(RangeError);
    expect(() => new ResilientMongoose('mongodb://127.0.0.1/app', { deadlineMs: -1 })).toThrow(
      /option 'deadlineMs' must be an integer number of milliseconds/,
    );
    expect(() => new ResilientMongoose('mongodb://127.0.0.1/app', { dedlineMs: 5 } as never)).toThrow(/did you mean deadlineMs/);
    expect(() => new ResilientMongoose('', {})).toThrow(TypeError);
    expect(() => new ResilientMongoose('mongodb://127.0.0.1/app?tlsInsecure=true', { mongoose: freshMongoose(mongoose) })).toThrow(
      /verification off/,
    );
    expect(() => new ResilientMongoose('mongodb://127.0.0.1/app', { connectOptions: { tlsAllowInvalidCertificates: true } })).toThrow(
      /verification off/,
    );
  });
});

describe('the global mongoose', () => {
  it('connectMongoose without a mongoose option uses the global instance', async () => {
    const server = await startServer();
    const { default: mongoose } = await import('mongoose');
    const handle = await connectMongoose(server.uri('app'));
    try {
      expect(handle.connection).toBe(mongoose.connection);
      expect(mongoose.connection.readyState).toBe(1);
    } finally {
      await handle.close();
    }
    expect(mongoose.connection.readyState).toBe(0);
  });
});
