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
import { recordFigure, type FigureValue } from './lib/results.js';

const CALLERS = 8;

export default async function (opts: BenchOptions): Promise<void> {
  const total = opts.smoke ? 40 : 400;
  const server = await startChildServer(EFFECT_SERVER);
  const clients = contenders();
  const rows: (string | number)[][] = [];
  // Per scenario: what each client got right (success) and the harm it did (applied twice, or applied and reported as a plain failure).
  const figures = new Map<string, { success: FigureValue[]; harm: FigureValue[] }>();
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
      const scenario = `${method}, reset ${mode} effect`;
      const figure = figures.get(scenario) ?? { success: [], harm: [] };
      figure.success.push({ contender: client.name, value: (100 * ok) / total, note: unknown > 0 ? `${unknown} told outcome unknown` : undefined });
      figure.harm.push({
        contender: client.name,
        value: duplicated + silentFailures,
        note: `${duplicated} twice, ${silentFailures} reported failed`,
      });
      figures.set(scenario, figure);
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
  const how = `${total} requests from ${CALLERS} callers, every 10th arrival at the server reset with a real RST; each client with its documented defaults; one run.`;
  for (const [scenario, figure] of figures) {
    const id = scenario.toLowerCase().replace(/[^a-z]+/g, '-');
    recordFigure({
      id: `${id}-success`,
      title: `${scenario}: requests that succeeded`,
      metric: '% of requests',
      better: 'higher',
      note: how,
      values: figure.success,
    });
    recordFigure({
      id: `${id}-harm`,
      title: `${scenario}: requests applied twice, or applied and reported as a plain failure`,
      metric: 'requests',
      better: 'lower',
      note: `${how} A request the client reported as outcome unknown is not counted as harm: the caller was told.`,
      values: figure.harm,
    });
  }
  for (const client of clients) await client.close();
  await server.close();
}
