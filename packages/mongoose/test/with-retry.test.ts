import diagnosticsChannel from 'node:diagnostics_channel';
import { classify, RetryError } from '@holdfast/core';
import { NotConnectedError, ResilientMongoose, withRetry } from '@holdfast/mongoose';
import { describe, expect, it } from 'vitest';
import { DRIVER_LINES } from './support/drivers.js';
import { closedPort, freshMongoose, openHandle, startServer } from './support/harness.js';
import { failOnEscapedErrors, rejectionOf, sleep } from './support/leaks.js';

failOnEscapedErrors();

describe.each(DRIVER_LINES)('withRetry, $label', ({ mongoose }) => {
  it('a command mongoose buffered past bufferTimeoutMS is reported as not sent (its real cause), and retried until the deadline', async () => {
    const port = await closedPort();
    const m = freshMongoose(mongoose);
    // Never connected: mongoose buffers every command and drops it after bufferTimeoutMS.
    void m.connect(`mongodb://127.0.0.1:${port}/app`, { serverSelectionTimeoutMS: 200, bufferTimeoutMS: 150 } as never).catch(() => undefined);
    const Item = m.model('Item', new mongoose.Schema({ name: String }));
    const plain = await rejectionOf(Item.create({ name: 'x' }));
    expect((plain as Error).message).toMatch(/buffering timed out after 150ms/);
    // classify() alone can only call it an unknown driver error:
    expect(classify(plain)).toMatchObject({ transient: false });

    const retries: { attempt: number; fault: { code: string; phase: string } }[] = [];
    const onRetry = (event: unknown): void => void retries.push(event as (typeof retries)[number]);
    diagnosticsChannel.subscribe('holdfast:retry', onRetry);
    const started = Date.now();
    const error = await rejectionOf(withRetry(() => Item.create({ name: 'x' }), { deadlineMs: 1_000 }));
    diagnosticsChannel.unsubscribe('holdfast:retry', onRetry);
    expect(Date.now() - started).toBeLessThan(2_000);
    // A create is not idempotent, yet it was retried: each buffering timeout proved it was never sent.
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]!.fault).toMatchObject({ code: 'HOLDFAST_NOT_CONNECTED', phase: 'connect' });
    // It ends at the deadline; if the deadline cut an attempt that was still in mongoose's buffer, that command could
    // still be sent once the connection came up, so the outcome is unknown.
    expect(error).toBeInstanceOf(RetryError);
    expect(['deadline', 'outcome-unknown']).toContain((error as RetryError).reason);
    if ((error as RetryError).reason === 'deadline') expect((error as RetryError).cause).toBeInstanceOf(NotConnectedError);
  });

  it('the standalone withRetry: reads retried through a reset, a write that may have been applied is not repeated', async () => {
    const server = await startServer();
    const m = freshMongoose(mongoose);
    await m.connect(server.uri('app'));
    const Item = m.model('Item', new mongoose.Schema({ name: String }));
    await Item.create({ name: 'a' });
    server.failCommand('find', { reset: 'before' }, 2);
    expect(await withRetry(() => Item.find().lean())).toHaveLength(1);
    server.failCommand('insert', { reset: 'after' });
    expect(await rejectionOf(withRetry(() => Item.create({ name: 'b' })))).toMatchObject({ name: 'OutcomeUnknownError', reason: 'outcome-unknown' });
    expect(server.stats().commands.insert).toBe(2);
  });

  it("the caller's AbortSignal ends the call at once with its reason, also while it waits for the server", async () => {
    const server = await startServer();
    const handle = openHandle(mongoose, server.uri('app'));
    await handle.ready;
    const Item = handle.connection.model('Item', new mongoose.Schema({ name: String }));
    server.failCommand('find', { hang: true });
    const controller = new AbortController();
    const call = handle.withRetry(() => Item.find().lean(), { signal: controller.signal });
    await sleep(50);
    controller.abort(new Error('request cancelled'));
    expect(await rejectionOf(call)).toMatchObject({ message: 'request cancelled' });
    expect(() => handle.withRetry(() => Item.find(), { signal: 'no' } as never)).toThrow(/option 'signal' must be an AbortSignal/);
    expect(() => handle.withRetry(() => Item.find(), { retries: 3 } as never)).toThrow(/unknown option 'retries'/);
  });

  it('serverSelectionTimeoutMS: holdfast sets 5 000 ms unless the URI or connectOptions say otherwise', async () => {
    const server = await startServer();
    const fromDefault = openHandle(mongoose, server.uri('app'));
    const fromUri = openHandle(mongoose, server.uri('app', undefined, { serverSelectionTimeoutMS: 1234 }));
    const fromOptions = openHandle(mongoose, server.uri('app'), { connectOptions: { serverSelectionTimeoutMS: 4321 } });
    await Promise.all([fromDefault.ready, fromUri.ready, fromOptions.ready]);
    const selection = (h: ResilientMongoose): unknown =>
      (h.connection.getClient().options as { serverSelectionTimeoutMS?: number }).serverSelectionTimeoutMS;
    expect([selection(fromDefault), selection(fromUri), selection(fromOptions)]).toEqual([5_000, 1_234, 4_321]);
  });

  it('adopts a connection that is already connected, or still connecting, without opening a second client', async () => {
    const server = await startServer();
    const m = freshMongoose(mongoose);
    const connecting = m.connect(server.uri('app'));
    const handle = new ResilientMongoose(server.uri('app'), { mongoose: m });
    await handle.ready;
    await connecting;
    const connections = server.stats().connections;
    const client = m.connection.getClient();
    const second = new ResilientMongoose(server.uri('app'), { mongoose: m.connection });
    await second.ready;
    expect(second.connection.getClient()).toBe(client);
    expect(server.stats().connections).toBe(connections);
    await second.close();
    await handle.close();
  });
});
