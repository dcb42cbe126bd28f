import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { DRIVER_LINES } from './support/drivers.js';
import { freshMongoose, startServer } from './support/harness.js';
import { failOnEscapedErrors, rejectionOf, sleep, until } from './support/leaks.js';

failOnEscapedErrors();

/**
 * The wire-protocol test server is what every other test trusts: it must
 * say what a real server would (exactly-once for retried writes only where a
 * real server gives it) and count what it saw, or the tests prove nothing.
 */
describe.each(DRIVER_LINES)('the MongoDB test server, driven by $label', ({ mongoose }) => {
  it('speaks the handshake and CRUD mongoose needs: create, createIndexes, insert, find with getMore, update, findAndModify, aggregate, delete', async () => {
    const server = await startServer();
    const m = freshMongoose(mongoose);
    await m.connect(server.uri('app'));
    const Item = m.model('Item', new mongoose.Schema({ name: String, n: Number }).index({ name: 1 }));
    await Item.init();
    await Item.insertMany(Array.from({ length: 250 }, (_, i) => ({ name: `i${i}`, n: i })));
    expect(await Item.find({ n: { $gte: 100 } }).countDocuments()).toBe(150);
    expect(await Item.find().sort({ n: -1 }).limit(1).lean()).toMatchObject([{ n: 249 }]);
    expect(await Item.find().lean()).toHaveLength(250);
    await Item.updateOne({ name: 'i1' }, { $inc: { n: 1000 } });
    expect(await Item.findOneAndUpdate({ name: 'i2' }, { $set: { n: -2 } }, { new: true }).lean()).toMatchObject({ n: -2 });
    expect(await Item.aggregate([{ $match: { n: { $lt: 3 } } }, { $group: { _id: null, total: { $sum: '$n' } } }])).toEqual([
      { _id: null, total: -2 },
    ]);
    await Item.deleteMany({ n: { $gte: 10 } });
    expect(await Item.countDocuments()).toBe(9);
    const stats = server.stats();
    expect(stats.commands).toMatchObject({ create: 1, createIndexes: 1, getMore: expect.any(Number), aggregate: expect.any(Number) });
    // One connection for the monitor, one for operations: each with one handshake.
    expect(stats.handshakes).toBe(stats.connections);
    expect(stats.open).toBe(2);
    await m.disconnect();
    await until(() => server.stats().open === 0, 'connections closed');
    expect(server.stats().commands.endSessions).toBe(1);
  });

  it('replica-set mode deduplicates a retried write by lsid + txnNumber; on a standalone server the driver does not retry a write, as with a real one', async () => {
    const rs = await startServer({ mode: 'replica-set' });
    const m = freshMongoose(mongoose);
    await m.connect(rs.uri('app'));
    const Item = m.model('Item', new mongoose.Schema({ name: String }));
    rs.failCommand('insert', { reset: 'after' });
    await Item.create({ name: 'once' });
    expect(rs.documents('app.items')).toHaveLength(1);
    expect(rs.stats()).toMatchObject({ deduplicated: 1, commands: { insert: 2 } });

    const standalone = await startServer();
    const m2 = freshMongoose(mongoose);
    await m2.connect(standalone.uri('app'));
    const Other = m2.model('Item', new mongoose.Schema({ name: String }));
    standalone.failCommand('insert', { reset: 'after' });
    // The driver does not retry writes on a standalone server: the error reaches the caller, the write was applied.
    expect(await rejectionOf(Other.create({ name: 'once' }))).toMatchObject({ name: 'MongoNetworkError' });
    expect(standalone.documents('app.items')).toHaveLength(1);
    expect(standalone.stats().commands.insert).toBe(1);
  });

  it('failCommand: an error with labels, then normal service; restart keeps the port and the data', async () => {
    const server = await startServer();
    const m = freshMongoose(mongoose);
    await m.connect(server.uri('app'), { heartbeatFrequencyMS: 500 });
    const Item = m.model('Item', new mongoose.Schema({ name: String }));
    await Item.create({ name: 'kept' });
    server.failCommand('find', { error: { code: 262, codeName: 'ExceededTimeLimit', errorLabels: ['RetryableError'] } }, 3);
    expect(await rejectionOf(Item.find().lean())).toMatchObject({ code: 262, codeName: 'ExceededTimeLimit' });
    server.clearFaults();
    const port = server.port;
    await server.restart({ reset: true });
    expect(server.port).toBe(port);
    // Plain mongoose may meet the pooled connections the restart killed (write ECONNRESET) before the pool is cleared.
    let rows: unknown;
    for (let i = 0; i < 50 && rows === undefined; i++)
      rows = await Item.find()
        .lean()
        .catch(() => sleep(100));
    expect(rows).toMatchObject([{ name: 'kept' }]);
  });

  it('answers only whole messages and drops a connection that sends garbage', async () => {
    const server = await startServer();
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]));
    await new Promise((resolve) => socket.once('close', resolve));
    expect(server.stats().handshakes).toBe(0);
  });
});
