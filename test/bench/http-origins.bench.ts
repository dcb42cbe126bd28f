/**
 * State per origin (issue 9): a crawler, a webhook sender or a gateway
 * calls thousands of distinct origins once each. One client sends one GET to
 * each of N origins (N servers on loopback ports, in another process, which
 * close idle connections after 200 ms); once every connection has closed,
 * the heap it still holds per origin, after full GCs, beside raw undici's
 * Agent. Three holdfast cases: every origin healthy; every origin failed
 * once (its first request reset, the retry answered) and then went quiet
 * for longer than the breaker window, so its guard was released; the same
 * before the window passed (what a guard costs while it is needed). Each
 * contender runs in a fresh process with holdfast bundled as published.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundlePackage } from './lib/bundle.js';
import { fmt, median, printTable, type BenchOptions } from './lib/report.js';
import { recordFigure } from './lib/results.js';

const SERVERS = `
import { createServer } from 'node:http';
process.stdin.on('end', () => process.exit(0)).resume();
const count = Number(process.env.ORIGINS);
const resetFirst = process.env.RESET_FIRST === '1';
const ports = [];
for (let i = 0; i < count; i++) {
  let arrivals = 0;
  const server = createServer((req, res) => {
    if (resetFirst && ++arrivals === 1) return req.socket.resetAndDestroy();
    res.end('ok');
  });
  server.keepAliveTimeout = 200;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  ports.push(server.address().port);
}
console.log(ports.join(','));
`;

// One contender per child process: nothing else's garbage or first-use costs are counted.
const CHILD = `
const [kind, portsCsv, bundle, undiciPath, waitMs] = process.argv.slice(1);
const ports = portsCsv.split(',').map(Number);
const { Agent, request } = await import(undiciPath);
const { createHttpClient } = await import(bundle);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const client = kind === 'raw undici Agent'
  ? { request: (url) => request(url, { dispatcher: agent }), close: () => agent.close() }
  : createHttpClient();
var agent = kind === 'raw undici Agent' ? new Agent() : undefined;
// Warm up on the first 20 origins (first-use costs: code, caches), then measure the rest.
const warm = ports.slice(0, 20), measured = ports.slice(20);
for (const port of warm) await (await client.request('http://127.0.0.1:' + port + '/')).body.text();
await sleep(400); gc(); gc();
const before = process.memoryUsage().heapUsed;
for (const port of measured) await (await client.request('http://127.0.0.1:' + port + '/')).body.text();
// Every connection idles out (the servers close them after 200 ms), and a released guard's breaker window passes.
await sleep(Number(waitMs)); gc(); gc();
const after = process.memoryUsage().heapUsed;
const guarded = typeof client.stats === 'function' ? client.stats().origins.length : 0;
await client.close();
process.stdout.write(JSON.stringify({ perOrigin: (after - before) / measured.length, guarded }));
`;

const undiciPath = pathToFileURL(fileURLToPath(new URL('../../packages/http/node_modules/undici/index.js', import.meta.url))).href;

function measure(kind: string, ports: string, bundle: string, waitMs: number): Promise<{ perOrigin: number; guarded: number }> {
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD, kind, ports, bundle, undiciPath, String(waitMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as { perOrigin: number; guarded: number }) : reject(new Error(`child exited with ${code}`)),
    );
  });
}

/** The origins' servers in a child process; resolves with their ports once all listen. */
async function startServers(count: number, resetFirst: boolean): Promise<{ ports: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SERVERS], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ORIGINS: String(count), RESET_FIRST: resetFirst ? '1' : '' },
  });
  let out = '';
  const ports = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`servers exited with ${code}`)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
  });
  return {
    ports,
    stop: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}

export default async function (opts: BenchOptions): Promise<void> {
  const origins = opts.smoke ? 60 : Number(process.env.HTTP_ORIGINS ?? 2_000);
  const rounds = opts.smoke ? 1 : Number(process.env.HTTP_ORIGINS_ROUNDS ?? 3);
  // Bundled under @holdfast/core's node_modules, so that the bundle's imports of opossum (CommonJS, which an ES
  // bundle cannot inline) and undici resolve to the packages the workspace installed (one undici for all).
  const outDir = fileURLToPath(new URL('../../packages/core/node_modules/.cache/holdfast-bench', import.meta.url));
  const bundle = pathToFileURL(await bundlePackage('http', outDir, ['undici', 'opossum'])).href;
  const cases = [
    { kind: 'raw undici Agent', resetFirst: false, waitMs: 1_000 },
    { kind: 'holdfast client, origins healthy', resetFirst: false, waitMs: 1_000 },
    // The breaker window is 10 s: a guard is released by the sweep after its window with no failure.
    { kind: 'holdfast client, each origin failed once, 21 s later', resetFirst: true, waitMs: 21_000 },
    { kind: 'holdfast client, each origin failed once, 1 s later', resetFirst: true, waitMs: 1_000 },
  ].filter((c) => !opts.smoke || c.waitMs < 10_000);
  const results = new Map(cases.map((c) => [c.kind, { perOrigin: [] as number[], guarded: 0 }]));
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) {
      const servers = await startServers(origins, c.resetFirst);
      const { perOrigin, guarded } = await measure(c.kind, servers.ports, bundle, c.waitMs);
      await servers.stop();
      const entry = results.get(c.kind)!;
      entry.perOrigin.push(perOrigin);
      entry.guarded = guarded;
    }
  }
  const raw = median(results.get('raw undici Agent')!.perOrigin);
  printTable(
    ['client', 'heap KB per origin after idle', 'minus raw undici (KB)', 'origins with state kept'],
    [...results].map(([kind, r]) => [kind, fmt(median(r.perOrigin) / 1000, 2), fmt((median(r.perOrigin) - raw) / 1000, 2), r.guarded]),
  );
  recordFigure({
    id: 'heap-per-origin',
    title: 'Heap kept per origin called once, after its connections idled out',
    metric: 'KB of heap per origin',
    better: 'lower',
    baseline: 'raw undici Agent',
    note: `${origins - 20} origins, one GET each; each contender in a fresh process, after full GCs, holdfast bundled as published; medians of ${rounds} round(s), the spread is the lowest and highest round.`,
    values: [...results].map(([kind, r]) => ({
      contender: kind,
      value: median(r.perOrigin) / 1000,
      low: Math.min(...r.perOrigin) / 1000,
      high: Math.max(...r.perOrigin) / 1000,
      note: `${r.guarded} origins with state kept`,
    })),
  });
  console.log(
    `${origins - 20} origins measured (20 more to warm up), one GET each, servers in another process closing idle connections after 200 ms; each contender in a fresh process (--expose-gc), holdfast bundled as published; medians of ${rounds} rounds`,
  );
}
