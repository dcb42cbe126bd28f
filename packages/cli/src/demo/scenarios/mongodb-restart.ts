import mongoose from 'mongoose';
import { OutcomeUnknownError } from '@holdfast/core';
import { connectMongoose } from '@holdfast/mongoose';
import type { ResilientMongoose } from '@holdfast/mongoose';
// holdfast's MongoDB wire-protocol server (what @holdfast/mongoose is tested against): no database to install.
import { MongoWireServer } from '../../../../mongoose/test/fixture/mongo-wire-server.js';
import type { ClientRow, Scenario } from '../scenario.js';
import { expectEqual } from '../scenario.js';
import { atMost, sleep } from '../servers/listen.js';

const CALLERS = 8;
const RUN_MS = 3000;
const FAULT_EVERY_MS = 300;
const DOWN_AT_MS = 1200;
const DOWN_FOR_MS = 1000;
/** holdfast's per-operation deadline and per-attempt limit. */
const DEADLINE_MS = 5000;
const ATTEMPT_MS = 1000;
/** An operation still pending this long is counted as hung (the driver can leave one hanging on a dead connection). */
const HUNG_MS = 6000;

const schema = new mongoose.Schema({ ref: String, caller: Number });

interface Tally {
  operations: number;
  succeeded: number;
  readsFailed: number;
  outcomeUnknown: number;
  /** Refs of writes the caller was told failed with a plain error. */
  readonly failedWrites: string[];
}

export const mongodbRestart: Scenario = {
  name: 'mongodb-restart',
  title: 'MongoDB (mongoose): answers to writes lost, then the database crashes',
  fault: `${CALLERS} callers alternate reads and inserts for ${RUN_MS / 1000} s against holdfast's MongoDB wire-protocol server. Every ${FAULT_EVERY_MS} ms the server resets the connection of one insert after applying it (the answer is lost); after ${DOWN_AT_MS / 1000} s it crashes (every connection reset) and is back ${DOWN_FOR_MS / 1000} s later.`,
  columns: ['requests', 'successes', 'retries', 'duplicates', 'outcomeUnknown', 'appliedButFailed'],
  labels: { requests: 'operations' },
  async run(context) {
    const servers = [new MongoWireServer(), new MongoWireServer()];
    await Promise.all(servers.map((s) => s.start()));
    const [plainServer, holdfastServer] = servers as [MongoWireServer, MongoWireServer];
    const plainMongoose = new mongoose.Mongoose();
    let db: ResilientMongoose | undefined;
    try {
      await plainMongoose.connect(plainServer.uri('shop'));
      // An attempt the driver leaves hanging on a dead connection is abandoned after 1 s and retried.
      db = await connectMongoose(holdfastServer.uri('shop'), {
        mongoose: new mongoose.Mongoose(),
        attemptTimeoutMs: ATTEMPT_MS,
        deadlineMs: DEADLINE_MS,
      });
      const PlainOrder = plainMongoose.model('Order', schema);
      const HoldfastOrder = db.connection.model('Order', schema);
      const handle = db;
      await Promise.all([PlainOrder.create({ ref: 'seed', caller: -1 }), HoldfastOrder.create({ ref: 'seed', caller: -1 })]);

      const started = performance.now();
      const outage = (async () => {
        await sleep(DOWN_AT_MS);
        context.note('the databases crash');
        await Promise.all(servers.map((s) => s.restart({ reset: true, downMs: DOWN_FOR_MS })));
        context.note('the databases are back');
      })();
      // The same faults for both sides, on the same clock.
      const faults = setInterval(() => {
        for (const server of servers) {
          server.failCommand('insert', { reset: 'after' });
        }
      }, FAULT_EVERY_MS);
      const progress = setInterval(() => context.progress('callers running', Math.min(1, (performance.now() - started) / RUN_MS)), 100);
      type Run = (operation: () => PromiseLike<unknown>) => Promise<unknown>;
      const load = (side: string, run: Run, Order: typeof PlainOrder): Promise<Tally> => {
        const tally: Tally = { operations: 0, succeeded: 0, readsFailed: 0, outcomeUnknown: 0, failedWrites: [] };
        return Promise.all(
          Array.from({ length: CALLERS }, async (_, caller) => {
            for (let i = 0; performance.now() - started < RUN_MS; i++) {
              tally.operations++;
              const write = i % 2 === 0;
              const ref = `${side}-${caller}-${i}`;
              try {
                await guard(write ? run(() => Order.create({ ref, caller })) : run(() => Order.findOne({ ref: 'seed' }).lean()));
                tally.succeeded++;
              } catch (error) {
                if (error instanceof OutcomeUnknownError) tally.outcomeUnknown++;
                else if (write) tally.failedWrites.push(ref);
                else tally.readsFailed++;
              }
              await sleep(10);
            }
          }),
        ).then(() => tally);
      };
      const [plain, holdfast] = await Promise.all([
        load('plain', async (operation) => operation(), PlainOrder),
        // withRetry recognises a Query that reads (findOne) as safe to repeat, and an insert as not.
        load('holdfast', (operation) => handle.withRetry(operation), HoldfastOrder),
      ]);
      clearInterval(progress);
      clearInterval(faults);
      await outage;
      const count = (server: MongoWireServer): Map<string, number> => {
        const refs = new Map<string, number>();
        for (const doc of server.documents('shop.orders')) refs.set(String(doc.ref), (refs.get(String(doc.ref)) ?? 0) + 1);
        return refs;
      };
      const plainRefs = count(plainServer);
      const holdfastRefs = count(holdfastServer);
      const duplicates = (refs: Map<string, number>): number => [...refs.entries()].filter(([ref, n]) => ref !== 'seed' && n > 1).length;
      const applied = (tally: Tally, refs: Map<string, number>): number => tally.failedWrites.filter((ref) => refs.has(ref)).length;
      const stats = db.stats();
      const rows: ClientRow[] = [
        {
          client: 'mongoose.connect',
          holdfast: false,
          metrics: {
            requests: plain.operations,
            successes: plain.succeeded,
            retries: 0,
            duplicates: duplicates(plainRefs),
            outcomeUnknown: 0,
            appliedButFailed: applied(plain, plainRefs),
          },
        },
        {
          client: 'holdfast connectMongoose + withRetry',
          holdfast: true,
          metrics: {
            requests: holdfast.operations,
            successes: holdfast.succeeded,
            retries: stats.retries,
            duplicates: duplicates(holdfastRefs),
            outcomeUnknown: holdfast.outcomeUnknown,
            appliedButFailed: applied(holdfast, holdfastRefs),
          },
        },
      ];
      return {
        rows,
        checks: [
          expectEqual('holdfast: reads that failed', holdfast.readsFailed, 0),
          expectEqual('holdfast: orders created twice', duplicates(holdfastRefs), 0),
          expectEqual('holdfast: writes that failed with a plain error', holdfast.failedWrites.length, 0),
        ],
        notes: [
          `mongoose alone failed ${plain.readsFailed} reads (the driver retries a read once itself) and ${plain.failedWrites.length} writes, ${applied(plain, plainRefs)} of which the server had applied: their callers were told they failed.`,
          'holdfast retried what was safe (reads, and writes that never reached the server), made operations wait while the database was down (one probe finds it back), and failed each write that may have been applied with OutcomeUnknownError instead of repeating it (a standalone server has no retryable writes).',
        ],
      };
    } finally {
      await atMost(db?.close() ?? Promise.resolve(), 5000);
      await atMost(plainMongoose.disconnect(), 5000);
      await Promise.all(servers.map((s) => s.stop()));
    }
  },
};

/** Fails an operation still pending after HUNG_MS, so one the driver left hanging cannot hang the demo. */
function guard(operation: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${HUNG_MS} ms`)), HUNG_MS);
  });
  return Promise.race([operation, hung]).finally(() => clearTimeout(timer));
}
