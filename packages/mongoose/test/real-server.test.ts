import { createChaosProxy } from '@holdfast/chaos';
import { describe, expect, it } from 'vitest';
import { DRIVER_LINES } from './support/drivers.js';
import { onCleanup, openHandle } from './support/harness.js';
import { failOnEscapedErrors, sleep, until } from './support/leaks.js';

/**
 * With MONGODB_URI set (a single host, `mongodb://`, no SRV), the behaviour
 * the test server cannot prove by itself is checked against a real server:
 * connecting, operations through resets by the chaos proxy in front of it,
 * an outage, and a transaction when the server is a replica-set member. Each
 * run uses its own database, dropped at the end. Without MONGODB_URI the file
 * is not collected at all (vitest.config.ts).
 */
const REAL_URI = process.env.MONGODB_URI;
if (REAL_URI === undefined) throw new Error('real-server.test.ts needs MONGODB_URI (vitest.config.ts only collects it then)');

failOnEscapedErrors();

function proxiedUri(uri: string, address: string, db: string): string {
  const url = new URL(uri);
  url.host = address;
  url.pathname = `/${db}`;
  // The proxy stands for the one member the driver talks to; without this it would discover the others and go around it.
  url.searchParams.set('directConnection', 'true');
  return url.toString();
}

describe.each(DRIVER_LINES)('a real MongoDB server (MONGODB_URI), $label', ({ mongoose }) => {
  const upstream = (): string => new URL(REAL_URI).host;
  const db = `holdfast_test_${process.pid}_${Date.now()}`;

  async function connectThroughProxy() {
    const proxy = await createChaosProxy({ upstream: upstream() });
    onCleanup(() => proxy.close());
    const handle = openHandle(mongoose, proxiedUri(REAL_URI as string, proxy.address, db));
    await handle.ready;
    onCleanup(async () => {
      if (handle.connected) await handle.connection.dropDatabase().catch(() => undefined);
    });
    const Item = handle.connection.model('Item', new mongoose.Schema({ key: String, n: Number }));
    await Item.init();
    return { proxy, handle, Item };
  }

  it('operations through repeated resets of every connection all complete', async () => {
    const { proxy, handle, Item } = await connectThroughProxy();
    await handle.withRetry(() => Item.create({ key: 'a', n: 0 }));
    for (let i = 1; i <= 10; i++) {
      proxy.resetAll();
      await handle.withRetry(() => Item.updateOne({ key: 'a' }, { $set: { n: i } }), { idempotent: true });
      expect(await handle.withRetry(() => Item.findOne({ key: 'a' }).lean())).toMatchObject({ n: i });
    }
  });

  it('an outage of the path to the server: disconnected, then reconnected, and a waiting read completes', async () => {
    const { proxy, handle, Item } = await connectThroughProxy();
    await handle.withRetry(() => Item.create({ key: 'b' }));
    await proxy.disable({ existing: 'reset' });
    const read = handle.withRetry(() => Item.findOne({ key: 'b' }).lean(), { deadlineMs: 10_000 });
    await until(() => handle.state === 'reconnecting', 'reconnecting');
    await sleep(500);
    await proxy.enable();
    expect(await read).toMatchObject({ key: 'b' });
    await until(() => handle.connected, 'connected');
  });

  it('a transaction commits once (replica-set members only)', async () => {
    const { handle, Item } = await connectThroughProxy();
    const hello = (await handle.connection.db?.admin().command({ hello: 1 })) as { setName?: string } | undefined;
    if (hello?.setName === undefined) return;
    await handle.withTransaction(async (session) => {
      await Item.create([{ key: 'txn' }], { session });
    });
    expect(await Item.countDocuments({ key: 'txn' })).toBe(1);
  });
});
