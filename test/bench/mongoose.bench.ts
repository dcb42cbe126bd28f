/**
 * @holdfast/mongoose beside plain mongoose, in one run, on both driver lines
 * (mongoose 9 / driver 7, mongoose 8 / driver 6), against packages/mongoose's
 * wire-protocol test server in its own process:
 * - throughput: a read (`findOne` by key, lean) and a write (`updateOne`
 *   `$set` by key), 4 in flight, as the bare model call, through
 *   `handle.withRetry()` and through the standalone `withRetry()`; operations
 *   per second and client CPU per operation (this process), medians of
 *   alternating rounds, ratio to the bare call (goal ≥ 0.97);
 * - holdfast's own cost per call: an operation that resolves at once,
 *   called bare and through both faces (CPU ns per call, medians);
 * - recovery: the server resets every connection, is down 1 s and listens
 *   again; an application issues a read every 10 ms throughout. The time from
 *   the server listening again to the first read that succeeds, through
 *   `handle.withRetry()` and as a plain model call (failures ignored, as a
 *   request handler would); median and worst of the rounds, and how many of
 *   the reads issued during the outage failed.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { ResilientMongoose, withRetry } from '@holdfast/mongoose';
import type mongooseType from 'mongoose';
import { startMongoServerProcess, type MongoServerProcess } from './lib/mongo-server-process.js';
import { alternate, fmt, median, printTable, type BenchOptions } from './lib/report.js';
import { recordFigure } from './lib/results.js';

type MongooseModule = typeof mongooseType;

const packageDir = new URL('../../packages/mongoose/', import.meta.url);
const fromPackage = createRequire(packageDir);

interface Line {
  readonly label: string;
  readonly mongoose: MongooseModule;
}

function lines(): Line[] {
  return ['mongoose', 'mongoose8'].map((name) => {
    const mongoose = fromPackage(name) as MongooseModule;
    const driver = (createRequire(fromPackage.resolve(`${name}/package.json`))('mongodb/package.json') as { version: string }).version;
    return { label: `mongoose ${mongoose.version} / driver ${driver}`, mongoose };
  });
}

/** `mongoose-9`, `mongoose-8`: a line's figure ids. */
const lineId = (line: Line): string => `mongoose-${line.mongoose.version.split('.')[0]}`;

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const cpuMicros = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

const THROUGHPUT_CONTENDERS = ['bare model call', 'handle.withRetry', 'withRetry (standalone)'] as const;
type ThroughputContender = (typeof THROUGHPUT_CONTENDERS)[number];
const IN_FLIGHT = 4;

async function connect(
  line: Line,
  server: MongoServerProcess,
  smoke: boolean,
): Promise<{ handle: ResilientMongoose; Item: mongooseType.Model<{ key: string; n: number }> }> {
  const instance = new line.mongoose.Mongoose();
  // Smoke: driver 6 leaves the selection timer of its own retries running for serverSelectionTimeoutMS, which holds the
  // process open at the end; a short one keeps the smoke run short. The full run keeps holdfast's default (5 s).
  const handle = new ResilientMongoose(`mongodb://${server.address}/bench`, {
    mongoose: instance,
    ...(smoke ? { serverSelectionTimeoutMS: 1_000 } : {}),
  });
  await handle.ready;
  const Item = handle.connection.model('Item', new line.mongoose.Schema({ key: String, n: Number })) as unknown as mongooseType.Model<{
    key: string;
    n: number;
  }>;
  await Item.init();
  return { handle, Item };
}

async function throughput(line: Line, server: MongoServerProcess, options: BenchOptions): Promise<void> {
  const { handle, Item } = await connect(line, server, options.smoke);
  await Item.deleteMany({});
  await Item.insertMany(Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, n: i })));
  const operations = options.smoke ? 100 : 5_000;
  const rounds = options.smoke ? 1 : 5;

  for (const kind of ['read', 'write'] as const) {
    const run = (contender: ThroughputContender, i: number): Promise<unknown> => {
      const key = `k${i % 100}`;
      const operation = (
        kind === 'read' ? () => Item.findOne({ key }).lean() : () => Item.updateOne({ key }, { $set: { n: i } })
      ) as () => Promise<unknown>;
      if (contender === 'bare model call') return operation();
      // The write is a $set by key: idempotent, the case the README documents.
      if (contender === 'handle.withRetry') return handle.withRetry(operation, { idempotent: kind === 'write' });
      return withRetry(operation, { idempotent: kind === 'write' });
    };
    // Warm-up: JIT, the pool at its working size.
    if (!options.smoke) for (const contender of THROUGHPUT_CONTENDERS) await loop(contender, 1_000, run);
    const cpu: Record<ThroughputContender, number[]> = { 'bare model call': [], 'handle.withRetry': [], 'withRetry (standalone)': [] };
    const rates = await alternate(THROUGHPUT_CONTENDERS, rounds, async (contender) => {
      const cpuBefore = cpuMicros();
      const started = performance.now();
      await loop(contender, operations, run);
      const elapsedMs = performance.now() - started;
      cpu[contender].push(((cpuMicros() - cpuBefore) * 1000) / operations);
      return (operations / elapsedMs) * 1000;
    });
    const baseRate = median(rates['bare model call']);
    const baseCpu = median(cpu['bare model call']);
    console.log(
      `\n${line.label}, ${kind} (${kind === 'read' ? 'findOne by key, lean' : 'updateOne $set by key'}), ${IN_FLIGHT} in flight, ${fmt(operations)} operations x ${rounds} rounds`,
    );
    printTable(
      ['contender', 'ops/s (median)', 'ratio', 'client CPU ns/op (median)', 'CPU ratio'],
      THROUGHPUT_CONTENDERS.map((contender) => [
        contender,
        fmt(median(rates[contender])),
        fmt(median(rates[contender]) / baseRate, 3),
        fmt(median(cpu[contender])),
        fmt(median(cpu[contender]) / baseCpu, 3),
      ]),
    );
    recordFigure({
      id: `${lineId(line)}-${kind}-throughput`,
      title: `${line.label}: ${kind === 'read' ? 'findOne by key' : 'updateOne $set by key'}, nothing failing`,
      metric: 'operations/s',
      better: 'higher',
      baseline: 'bare model call',
      note: `${IN_FLIGHT} in flight against holdfast's MongoDB wire-protocol server in another process, ${fmt(operations)} operations x ${rounds} alternating round(s); medians, the spread is the lowest and highest round.`,
      values: THROUGHPUT_CONTENDERS.map((contender) => ({
        contender,
        holdfast: contender !== 'bare model call',
        value: median(rates[contender]),
        low: Math.min(...rates[contender]),
        high: Math.max(...rates[contender]),
        ratio: median(rates[contender]) / baseRate,
        note: `CPU ratio ${fmt(median(cpu[contender]) / baseCpu, 3)}`,
      })),
    });
  }
  await handle.close();
}

async function loop(
  contender: ThroughputContender,
  count: number,
  run: (contender: ThroughputContender, i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await run(contender, next++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

const RECOVERY_CONTENDERS = ['holdfast (handle.withRetry)', 'plain mongoose'] as const;
type RecoveryContender = (typeof RECOVERY_CONTENDERS)[number];

async function recovery(line: Line, server: MongoServerProcess, options: BenchOptions): Promise<void> {
  const rounds = options.smoke ? 1 : 10;
  const downMs = options.smoke ? 200 : 1_000;
  const failedDuringOutage: Record<RecoveryContender, number[]> = { 'holdfast (handle.withRetry)': [], 'plain mongoose': [] };
  const delays = await alternate(RECOVERY_CONTENDERS, rounds, async (contender) => {
    const { handle, Item } = await connect(line, server, options.smoke);
    await Item.updateOne({ key: 'r' }, { $set: { n: 0 } }, { upsert: true });
    let firstSuccessAfterUp = Number.POSITIVE_INFINITY;
    let upAt = Number.POSITIVE_INFINITY;
    let failed = 0;
    const pending: Promise<void>[] = [];
    const restarted = server.restart(downMs).then((at) => {
      upAt = at;
    });
    // An application issuing a read every 10 ms, from just before the restart until a read succeeds after it.
    const until = now() + downMs + 30_000;
    while (firstSuccessAfterUp === Number.POSITIVE_INFINITY && now() < until) {
      const read =
        contender === 'plain mongoose'
          ? Item.findOne({ key: 'r' }).lean()
          : handle.withRetry(() => Item.findOne({ key: 'r' }).lean(), { deadlineMs: 30_000 });
      pending.push(
        Promise.resolve(read).then(
          () => {
            const at = now();
            if (at >= upAt && at < firstSuccessAfterUp) firstSuccessAfterUp = at;
          },
          () => {
            failed++;
          },
        ),
      );
      await sleep(10);
    }
    await restarted;
    await Promise.all(pending);
    failedDuringOutage[contender].push(failed);
    await handle.close();
    return firstSuccessAfterUp - upAt;
  });
  console.log(`\n${line.label}, recovery: reads every 10 ms through a restart (every connection reset, down ${downMs} ms), ${rounds} rounds`);
  printTable(
    ['contender', 'server back -> first success, median ms', 'worst ms', 'reads failed per outage (median)'],
    RECOVERY_CONTENDERS.map((contender) => [
      contender,
      fmt(median(delays[contender])),
      fmt(Math.max(...delays[contender])),
      fmt(median(failedDuringOutage[contender])),
    ]),
  );
  recordFigure({
    id: `${lineId(line)}-recovery`,
    title: `${line.label}: a read every 10 ms through a ${downMs} ms database restart`,
    metric: 'ms from the server back to the first successful read',
    better: 'lower',
    note: `Every connection reset, the server down ${downMs} ms; ${rounds} alternating round(s); median, the spread is the lowest and highest round.`,
    values: RECOVERY_CONTENDERS.map((contender) => ({
      contender,
      value: median(delays[contender]),
      low: Math.min(...delays[contender]),
      high: Math.max(...delays[contender]),
      note: `${fmt(median(failedDuringOutage[contender]))} reads failed per outage`,
    })),
  });
}

/** What withRetry itself costs per call, without a database: most of it is core's deadline guard around each attempt. */
async function ownCost(line: Line, server: MongoServerProcess, options: BenchOptions): Promise<void> {
  const { handle } = await connect(line, server, options.smoke);
  const calls = options.smoke ? 2_000 : 200_000;
  const rounds = options.smoke ? 1 : 5;
  const instant = (): Promise<number> => Promise.resolve(1);
  const faces = {
    'bare call': () => instant(),
    'handle.withRetry': () => handle.withRetry(instant),
    'withRetry (standalone)': () => withRetry(instant),
  } as const;
  const names = Object.keys(faces) as (keyof typeof faces)[];
  const cpu = await alternate(names, rounds, async (name) => {
    const call = faces[name];
    const before = cpuMicros();
    for (let i = 0; i < calls; i++) await call();
    return ((cpuMicros() - before) * 1000) / calls;
  });
  console.log(`\nholdfast's own cost: an operation that resolves at once, ${fmt(calls)} calls x ${rounds} rounds`);
  printTable(
    ['face', 'CPU ns/call (median)', 'added by holdfast, ns'],
    names.map((name) => [name, fmt(median(cpu[name])), fmt(median(cpu[name]) - median(cpu['bare call']))]),
  );
  recordFigure({
    id: 'own-cost',
    title: 'withRetry() around an operation that resolves at once',
    metric: 'ns of CPU per call',
    better: 'lower',
    baseline: 'bare call',
    note: `${fmt(calls)} calls x ${rounds} alternating round(s), medians (${line.label}).`,
    values: names.map((name) => ({
      contender: name,
      holdfast: name !== 'bare call',
      value: median(cpu[name]),
      ratio: median(cpu[name]) / median(cpu['bare call']),
    })),
  });
  await handle.close();
}

export default async function mongooseBench(options: BenchOptions): Promise<void> {
  const server = await startMongoServerProcess();
  try {
    await ownCost(lines()[0]!, server, options);
    for (const line of lines()) {
      await throughput(line, server, options);
      await recovery(line, server, options);
    }
  } finally {
    await server.stop();
  }
}
