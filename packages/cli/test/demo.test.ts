import { describe, expect, it } from 'vitest';
import { main, runDemo, SCENARIOS } from '../src/index.js';
import type { ClientRow, Scenario, ScenarioReport } from '../src/index.js';
import { captureIo, settle, socketHandles } from './support/io.js';

const byName = (name: string): Scenario => {
  const found = SCENARIOS.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no scenario ${name}`);
  return found;
};

/** Runs one scenario and returns its report, checking nothing it opened is left. */
async function run(name: string): Promise<ScenarioReport> {
  await settle();
  const sockets = socketHandles();
  const report = await runDemo([byName(name)]);
  await settle();
  expect(socketHandles()).toBe(sockets);
  const scenario = report.scenarios[0] as ScenarioReport;
  // Every check names what it measured; a failed one fails the test with its text.
  expect(scenario.checks.filter((c) => !c.ok).map((c) => c.text)).toEqual([]);
  expect(scenario.ok).toBe(true);
  return scenario;
}

const plain = (s: ScenarioReport, n = 0): ClientRow => s.rows.filter((r) => !r.holdfast)[n] as ClientRow;
const holdfast = (s: ScenarioReport, n = 0): ClientRow => s.rows.filter((r) => r.holdfast)[n] as ClientRow;

// Each scenario is checked twice over: holdfast's side did what it should (the scenario's own checks),
// and the plain side really met the fault (otherwise the demo shows nothing).
describe('demo scenarios, each under its real fault', () => {
  it('http-get: every GET succeeds with holdfast; a fifth fail with plain fetch', async () => {
    const s = await run('http-get');
    expect(plain(s).metrics.successes).toBeLessThan(plain(s).metrics.requests ?? 0);
    expect(holdfast(s).metrics.retries).toBeGreaterThan(0);
  });

  it('http-post: no order twice, none applied behind a plain failure; the hand-written retry duplicates', async () => {
    const s = await run('http-post');
    expect(plain(s).metrics.appliedButFailed).toBeGreaterThan(0);
    expect(plain(s, 1).metrics.duplicates).toBeGreaterThan(0);
    expect(holdfast(s).metrics.outcomeUnknown).toBeGreaterThan(0);
  });

  it('http-outage: fewer attempts on the down service, back within a second', async () => {
    const s = await run('http-outage');
    expect(plain(s).metrics.attemptsWhileDown).toBeGreaterThan(holdfast(s).metrics.attemptsWhileDown ?? Infinity);
  });

  it('http-stale: GETs retried on a new connection, POSTs reported', async () => {
    const s = await run('http-stale');
    expect(plain(s).metrics.successes).toBeLessThan(plain(s).metrics.requests ?? 0);
    expect(holdfast(s).metrics.successes).toBeGreaterThan(plain(s).metrics.successes ?? Infinity);
  });

  it('ws-restart: 200 clients back; the plain ones stay closed', async () => {
    const s = await run('ws-restart');
    expect(plain(s).metrics.successes).toBe(0);
    expect(holdfast(s).metrics.reconnects).toBeGreaterThanOrEqual(200);
  }, 30_000);

  it('ws-half-open: the silence is noticed and nothing is lost unreported; plain clients lose messages silently', async () => {
    const s = await run('ws-half-open');
    expect(plain(s).metrics.lostSilently).toBeGreaterThan(0);
    expect(plain(s).metrics.successes).toBe(0);
  }, 30_000);

  it('tcp-reset: every message accepted once, in order; the plain socket loses most', async () => {
    const s = await run('tcp-reset');
    expect(plain(s).metrics.lost).toBeGreaterThan(0);
    expect(holdfast(s).metrics.reconnects).toBeGreaterThanOrEqual(3);
  }, 30_000);

  it('download: resumed and sha256-verified; the plain download is cut', async () => {
    const s = await run('download');
    expect(plain(s).metrics.bytesVerified).toBe(0);
    expect(holdfast(s).metrics.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('otlp-restart: no span lost through the restart; the SDK queue overflows with the plain exporter', async () => {
    const s = await run('otlp-restart');
    expect(plain(s).metrics.spansLost).toBeGreaterThan(0);
  }, 30_000);

  it('mongodb-restart: no write repeated, none applied behind a plain error; mongoose alone reports applied writes as failed', async () => {
    const s = await run('mongodb-restart');
    expect(plain(s).metrics.appliedButFailed).toBeGreaterThan(0);
    expect(holdfast(s).metrics.outcomeUnknown).toBeGreaterThan(0);
  }, 30_000);

  it('express-shutdown: no request that reached the app is left unanswered; server.close() cuts requests off', async () => {
    const s = await run('express-shutdown');
    expect(plain(s).metrics.cutOff).toBeGreaterThan(0);
  }, 30_000);
});

describe('holdfast demo', () => {
  it('--list names every scenario; --json gives the report; an unknown scenario is a usage error', async () => {
    const list = captureIo();
    expect(await main(['demo', '--list'], list.io)).toBe(0);
    expect(
      list
        .stdout()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[0]),
    ).toEqual(SCENARIOS.map((s) => s.name));

    const json = captureIo();
    expect(await main(['demo', '--scenario', 'http-get', '--json'], json.io)).toBe(0);
    const report = JSON.parse(json.stdout()) as { ok: boolean; scenarios: ScenarioReport[] };
    expect(report.ok).toBe(true);
    expect(report.scenarios.map((s) => s.name)).toEqual(['http-get']);
    // Progress goes to stderr, so stdout is the JSON alone.
    expect(json.stderr()).toMatch(/✓ http-get/);

    const bad = captureIo();
    expect(await main(['demo', '--scenario', 'http-get,smoke-signals'], bad.io)).toBe(2);
    expect(bad.stderr()).toMatch(/unknown scenario 'smoke-signals' \(accepted: http-get, http-post/);
  });

  it('prints a table per scenario and the verdict; a failed check turns the verdict and the exit code', async () => {
    const c = captureIo();
    expect(await main(['demo', '-s', 'http-get'], c.io)).toBe(0);
    expect(c.stdout()).toMatch(/client +requests +succeeded +retries +duplicates/);
    expect(c.stdout()).toMatch(/holdfast createHttpClient +200 +200/);
    expect(c.stdout()).toMatch(/✓ holdfast did what it should in all 1 scenarios/);

    const failing: Scenario = {
      name: 'broken',
      title: 'a scenario whose holdfast side fails',
      fault: 'none',
      columns: ['requests'],
      run: () => Promise.resolve({ rows: [{ client: 'x', holdfast: true, metrics: { requests: 1 } }], checks: [{ ok: false, text: 'it did not' }] }),
    };
    const throwing: Scenario = { ...failing, name: 'throwing', run: () => Promise.reject(new Error('the server did not start')) };
    const report = await runDemo([failing, throwing]);
    expect(report.ok).toBe(false);
    expect(report.scenarios.map((s) => s.checks.map((x) => x.text))).toEqual([['it did not'], ['the scenario failed: the server did not start']]);
  });

  /* eslint-disable no-control-regex -- the escape sequences are what is checked */
  it('draws progress in place on a terminal', async () => {
    const c = captureIo({ tty: true, env: { FORCE_COLOR: '1' } });
    expect(await main(['demo', '-s', 'download'], c.io)).toBe(0);
    expect(c.stderr()).toMatch(/\x1b\[\d+A\r\x1b\[0J/);
    expect(c.stderr()).toMatch(/█/);
    expect(c.stderr()).toMatch(/\x1b\[32m✓\x1b\[39m \x1b\[1mdownload/);
  });
  /* eslint-enable no-control-regex */
});

describe('holdfast demo stopped', () => {
  it('starts no scenario once its signal aborted, and exits 130', async () => {
    const c = captureIo();
    c.controller.abort();
    expect(await main(['demo', '-s', 'http-get', '--json'], c.io)).toBe(130);
    expect((JSON.parse(c.stdout()) as { ok: boolean; scenarios: unknown[] }).scenarios).toEqual([]);
  });
});
