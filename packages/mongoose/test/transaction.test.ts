import { OutcomeUnknownError, RetryError } from '@holdfast/core';
import { describe, expect, it } from 'vitest';
import { DRIVER_LINES, type MongooseModule } from './support/drivers.js';
import { openHandle, startServer } from './support/harness.js';
import { failOnEscapedErrors, rejectionOf } from './support/leaks.js';
import type { ResilientMongoose } from '@holdfast/mongoose';

failOnEscapedErrors();

function models(m: MongooseModule, handle: ResilientMongoose) {
  return {
    Account: handle.connection.model('Account', new m.Schema({ owner: String, balance: Number })),
    Entry: handle.connection.model('Entry', new m.Schema({ owner: String, amount: Number })),
  };
}

async function replicaSet(m: MongooseModule, options: Parameters<typeof openHandle>[2] = {}) {
  const server = await startServer({ mode: 'replica-set' });
  const handle = openHandle(m, server.uri('app'), options);
  await handle.ready;
  const { Account, Entry } = models(m, handle);
  await Promise.all([Account.init(), Entry.init()]);
  await Account.create({ owner: 'ann', balance: 100 });
  return { server, handle, Account, Entry };
}

describe.each(DRIVER_LINES)('withTransaction, $label', ({ mongoose }) => {
  it('commits once and returns what the function returned', async () => {
    const { server, handle, Account, Entry } = await replicaSet(mongoose);
    const result = await handle.withTransaction(async (session) => {
      await Account.updateOne({ owner: 'ann' }, { $inc: { balance: -10 } }, { session });
      await Entry.create([{ owner: 'ann', amount: -10 }], { session });
      return 'moved';
    });
    expect(result).toBe('moved');
    expect(server.documents('app.accounts')).toMatchObject([{ owner: 'ann', balance: 90 }]);
    expect(server.documents('app.entries')).toHaveLength(1);
    expect(server.stats().commands.commitTransaction).toBe(1);
  });

  it('TransientTransactionError runs the function again in a new transaction; the aborted attempt left nothing', async () => {
    const { server, handle, Account, Entry } = await replicaSet(mongoose);
    server.failCommand('insert', { error: { code: 112, codeName: 'WriteConflict', errorLabels: ['TransientTransactionError'] } });
    const attempts: number[] = [];
    await handle.withTransaction(async (session, { attempt }) => {
      attempts.push(attempt);
      await Account.updateOne({ owner: 'ann' }, { $inc: { balance: -10 } }, { session });
      await Entry.create([{ owner: 'ann', amount: -10 }], { session });
    });
    expect(attempts).toEqual([1, 2]);
    expect(server.documents('app.accounts')).toMatchObject([{ owner: 'ann', balance: 90 }]);
    expect(server.documents('app.entries')).toHaveLength(1);
  });

  it('UnknownTransactionCommitResult retries only the commit: the function runs once, the transaction applies once', async () => {
    const { server, handle, Account, Entry } = await replicaSet(mongoose);
    // The commit is applied, then the connection resets before the answer; the driver's own retry of the commit meets the same.
    server.failCommand('commitTransaction', { reset: 'after' }, 2);
    let runs = 0;
    await handle.withTransaction(async (session) => {
      runs++;
      await Account.updateOne({ owner: 'ann' }, { $inc: { balance: -10 } }, { session });
      await Entry.create([{ owner: 'ann', amount: -10 }], { session });
    });
    expect(runs).toBe(1);
    expect(server.stats().commands.commitTransaction).toBe(3);
    expect(server.documents('app.accounts')).toMatchObject([{ owner: 'ann', balance: 90 }]);
    expect(server.documents('app.entries')).toHaveLength(1);
  });

  it('a commit whose outcome is still unknown at the deadline fails with OutcomeUnknownError (it was in fact applied)', async () => {
    const { server, handle, Account } = await replicaSet(mongoose);
    server.failCommand('commitTransaction', { reset: 'after' }, 1_000);
    const error = await rejectionOf(
      handle.withTransaction(
        async (session) => {
          await Account.updateOne({ owner: 'ann' }, { $inc: { balance: -10 } }, { session });
        },
        { deadlineMs: 1_500 },
      ),
    );
    server.clearFaults();
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect(error).toMatchObject({ fault: { transient: true, phase: 'unknown' } });
    expect(server.documents('app.accounts')).toMatchObject([{ owner: 'ann', balance: 90 }]);
  });

  it('any other error thrown in the function aborts the transaction and is rejected unchanged, not retried', async () => {
    const { server, handle, Account } = await replicaSet(mongoose);
    const mistake = new Error('insufficient funds');
    let runs = 0;
    const error = await rejectionOf(
      handle.withTransaction(async (session) => {
        runs++;
        await Account.updateOne({ owner: 'ann' }, { $inc: { balance: -1000 } }, { session });
        throw mistake;
      }),
    );
    expect(error).toBe(mistake);
    expect(runs).toBe(1);
    expect(server.documents('app.accounts')).toMatchObject([{ owner: 'ann', balance: 100 }]);
    expect(server.stats().commands.commitTransaction).toBeUndefined();
  });

  it('on a standalone server transactions are refused: the server error is rejected unchanged', async () => {
    const server = await startServer();
    const handle = openHandle(mongoose, server.uri('app'));
    await handle.ready;
    const { Account } = models(mongoose, handle);
    const error = await rejectionOf(
      handle.withTransaction(async (session) => {
        await Account.create([{ owner: 'bob', balance: 1 }], { session });
      }),
    );
    // Code 20 IllegalOperation; driver 7 rewrites its message ("does not support retryable writes").
    expect(error).toMatchObject({ name: 'MongoServerError' });
    expect(JSON.stringify(error)).toContain('IllegalOperation');
    expect(error).not.toBeInstanceOf(RetryError);
    expect(server.documents('app.accounts')).toHaveLength(0);
  });
});
