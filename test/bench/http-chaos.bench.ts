/**
 * Goodput under resets: 400 requests from 8 callers, every 10th arrival
 * reset with a real RST, either before the server applies the request or
 * after. Per client: success, attempts per request, requests applied twice,
 * requests applied but reported failed with nothing saying the outcome is
 * unknown, and p99 latency. Each client uses its documented defaults.
 */
import { startChildServer } from './lib/child-server.js';
import { EFFECT_SERVER, contenders, parseStats, type Outcome } from './lib/http-contenders.js';
import { fmt, percentile, printTable, type BenchOptions } from './lib/report.js';

const CALLERS = 8;

export default async function (opts: BenchOptions): Promise<void> {
  const total = opts.smoke ? 40 : 400;
  const server = await startChildServer(EFFECT_SERVER);
  const clients = contenders();
  const rows: (string | number)[][] = [];
  for (const [method, mode] of [
    ['GET', 'after'],
    ['POST', 'before'],
    ['POST', 'after'],
  ] as const) {
    for (const client of clients) {
      await server.command(`mode ${mode}`);
      const outcomes = new Map<string, Outcome>();
      const latencies: number[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: CALLERS }, async () => {
          while (next < total) {
            const id = `${method}-${next++}`;
            const t0 = performance.now();
            outcomes.set(id, await client.send(`${server.url}/r`, method, id));
            latencies.push(performance.now() - t0);
          }
        }),
      );
      const stats = parseStats(await server.command('stats'));
      let ok = 0;
      let unknown = 0;
      let duplicated = 0;
      let silentFailures = 0;
      for (const [id, outcome] of outcomes) {
        const applied = stats.effects.get(id) ?? 0;
        if (applied > 1) duplicated++;
        if (outcome === 'ok') ok++;
        if (outcome === 'unknown') unknown++;
        if (outcome === 'failed' && applied > 0) silentFailures++;
      }
      rows.push([
        `${method}, reset ${mode} effect`,
        client.name,
        `${fmt((100 * ok) / total, 1)} %`,
        fmt(stats.arrivals / total, 2),
        duplicated,
        silentFailures,
        unknown,
        fmt(percentile(latencies, 99), 1),
      ]);
    }
  }
  printTable(
    ['scenario', 'client', 'success', 'attempts/req', 'applied twice', 'applied, reported failed', 'reported outcome-unknown', 'p99 ms'],
    rows,
  );
  console.log(`${total} requests, ${CALLERS} callers, every 10th arrival reset (real RST); server in a child process`);
  for (const client of clients) await client.close();
  await server.close();
}
