/**
 * The pure parts of `pnpm bench:report` (test/bench/report.ts): the figure
 * collector, results.json's shape, the SVG charts and the page. The pipeline
 * as a whole runs in CI as `pnpm bench:report --smoke`; the benches
 * themselves are not run here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Environment } from './bench/lib/environment.js';
import { renderPage } from './bench/lib/report-page.js';
import { beginBench, endBench, mergeResults, parseResults, recordFigure, serializeResults, type BenchReport } from './bench/lib/results.js';
import { barChart, COLOURS, escapeXml, formatValue } from './bench/lib/svg-chart.js';

/**
 * A small well-formedness check, enough for the SVG we write: every tag
 * closed in order, attributes quoted, no stray `<` or `&` in text or values.
 * Returns the elements in document order.
 */
function parseXml(xml: string): { name: string; attrs: Record<string, string>; text: string }[] {
  const elements: { name: string; attrs: Record<string, string>; text: string }[] = [];
  const open: { name: string; text: string; index: number }[] = [];
  const entity = /&(?:lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);/gi;
  const checkText = (text: string): void => {
    if (/[<>]/.test(text) || /&/.test(text.replace(entity, ''))) throw new Error(`unescaped text: ${text}`);
  };
  const decode = (text: string): string =>
    text.replace(entity, (e) => ({ '&lt;': '<', '&gt;': '>', '&amp;': '&', '&quot;': '"', '&apos;': "'" })[e] ?? e);
  let at = 0;
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/y;
  while (at < xml.length) {
    const lt = xml.indexOf('<', at);
    const text = xml.slice(at, lt === -1 ? xml.length : lt);
    checkText(text);
    if (open.length > 0) open.at(-1)!.text += decode(text);
    else if (text.trim() !== '') throw new Error(`text outside the root: ${text}`);
    if (lt === -1) break;
    token.lastIndex = lt;
    const m = token.exec(xml);
    if (m === null) throw new Error(`malformed tag at ${lt}: ${xml.slice(lt, lt + 60)}`);
    const [, closing, name, rawAttrs, selfClosing] = m as unknown as [string, string, string, string, string];
    if (closing) {
      const top = open.pop();
      if (top?.name !== name) throw new Error(`</${name}> closes <${top?.name ?? 'nothing'}>`);
      elements[top.index]!.text = top.text;
    } else {
      if (open.length === 0 && elements.length > 0) throw new Error('a second root element');
      const attrs: Record<string, string> = {};
      for (const [, key, value] of rawAttrs.matchAll(/([\w:-]+)="([^"]*)"/g)) {
        checkText(value!);
        if (key! in attrs) throw new Error(`attribute ${key} twice in <${name}>`);
        attrs[key!] = decode(value!);
      }
      elements.push({ name, attrs, text: '' });
      if (!selfClosing) open.push({ name, text: '', index: elements.length - 1 });
    }
    at = token.lastIndex;
  }
  if (open.length > 0) throw new Error(`<${open.at(-1)!.name}> never closed`);
  return elements;
}

const ENV: Environment = {
  machine: { cpu: 'Test CPU @ 3.0GHz', cores: 2, memoryGiB: 8, os: 'Linux test x64', node: 'v20.19.0', v8: '11.3' },
  commit: { sha: 'abcdef123456', dirty: false },
  holdfast: [{ name: '@holdfast/core', version: '0.1.0' }],
  libraries: [{ name: 'undici', version: '7.0.0', packages: ['@holdfast/http'] }],
};

/** Records figures the way a bench does, inside the runner's begin/end. */
function record(bench: string, figures: Parameters<typeof recordFigure>[0][]): BenchReport {
  beginBench(bench, true);
  try {
    for (const figure of figures) recordFigure(figure);
  } catch (error) {
    endBench();
    throw error;
  }
  return { ...endBench(), environment: ENV };
}

const THROUGHPUT = {
  id: 'throughput',
  title: 'Requests <per> second & more',
  metric: 'requests/s',
  better: 'higher' as const,
  baseline: 'raw undici',
  note: '5 rounds',
  values: [
    { contender: 'raw undici', value: 1000, low: 900, high: 1100 },
    { contender: 'holdfast client', value: 950, low: 940, high: 960 },
    { contender: 'got', value: 500, ratio: 0.49, note: 'p99 "12" ms' },
    { contender: 'never recovered', value: Number.NaN },
  ],
};

describe('the figure collector', () => {
  it('records a figure with holdfast marked and ratios to the baseline, and the bench with its load and duration', () => {
    const report = record('demo', [THROUGHPUT]);
    expect(report).toMatchObject({ bench: 'demo', smoke: true, environment: ENV });
    expect(report.durationMs).toBeGreaterThanOrEqual(0);
    expect(new Date(report.startedAt).toISOString()).toBe(report.startedAt);
    expect(report.loadAverage.start).toHaveLength(3);
    expect(report.loadAverage.end).toHaveLength(3);
    const [figure] = report.figures;
    expect(figure!.values.map((v) => [v.contender, v.holdfast])).toEqual([
      ['raw undici', false],
      ['holdfast client', true],
      ['got', false],
      ['never recovered', false],
    ]);
    // A ratio the bench computed is kept; otherwise value / baseline; none for the baseline itself or a missing value.
    expect(figure!.values.map((v) => v.ratio)).toEqual([undefined, 0.95, 0.49, undefined]);
  });

  it('lets a bench say which rows are holdfast', () => {
    const [figure] = record('demo', [
      {
        ...THROUGHPUT,
        baseline: 'bare call',
        values: [
          { contender: 'bare call', value: 1 },
          { contender: 'withRetry()', value: 2, holdfast: true },
        ],
      },
    ]).figures;
    expect(figure!.values.map((v) => [v.holdfast, v.ratio])).toEqual([
      [false, undefined],
      [true, 2],
    ]);
  });

  it('rejects ids that cannot name a file, an id recorded twice, no values, and a baseline that is not a contender', () => {
    expect(() => record('demo', [{ ...THROUGHPUT, id: 'Throughput 1' }])).toThrow(/kebab-case/);
    expect(() => record('demo', [THROUGHPUT, THROUGHPUT])).toThrow(/recorded twice in demo/);
    expect(() => record('demo', [{ ...THROUGHPUT, values: [] }])).toThrow(/no values/);
    expect(() => record('demo', [{ ...THROUGHPUT, baseline: 'raw net' }])).toThrow(/baseline 'raw net' is not one of its contenders/);
  });
});

describe('results.json', () => {
  it('round-trips, each environment written once, a missing value becoming null', () => {
    const results = mergeResults(undefined, [record('demo', [THROUGHPUT]), record('other', [THROUGHPUT])]);
    const file = JSON.parse(serializeResults(results)) as { environments: unknown[]; benches: { environment: unknown }[] };
    expect(Object.keys(file).sort()).toEqual(['benches', 'environments', 'format']);
    expect(file.environments).toEqual([ENV]);
    expect(file.benches.map((b) => b.environment)).toEqual([0, 0]);
    const parsed = parseResults(serializeResults(results));
    expect(parsed.format).toBe(1);
    expect(parsed.benches.map((b) => [b.bench, b.environment])).toEqual([
      ['demo', ENV],
      ['other', ENV],
    ]);
    expect(parsed.benches[0]!.figures[0]!.values.map((v) => v.value)).toEqual([1000, 950, 500, null]);
    expect(Object.keys(parsed.benches[0]!).sort()).toEqual(['bench', 'durationMs', 'environment', 'figures', 'loadAverage', 'smoke', 'startedAt']);
    expect(Object.keys(parsed.benches[0]!.figures[0]!).sort()).toEqual(['baseline', 'better', 'id', 'metric', 'note', 'title', 'values']);
  });

  it('keeps each bench with its own environment when they differ', () => {
    const elsewhere = { ...record('net', [THROUGHPUT]), environment: { ...ENV, machine: { ...ENV.machine, cores: 64 } } };
    const parsed = parseResults(serializeResults(mergeResults(undefined, [record('demo', [THROUGHPUT]), elsewhere])));
    expect(parsed.benches.map((b) => b.environment.machine.cores)).toEqual([2, 64]);
  });

  it('replaces a re-run bench, keeps the others, and sorts them by name', () => {
    const first = mergeResults(undefined, [record('ws', [THROUGHPUT]), record('net', [THROUGHPUT])]);
    const again = record('ws', [{ ...THROUGHPUT, id: 'other' }]);
    const merged = mergeResults(first, [again]);
    expect(merged.benches.map((b) => b.bench)).toEqual(['net', 'ws']);
    expect(merged.benches[1]!.figures[0]!.id).toBe('other');
  });

  it('refuses a file of the wrong shape, saying what is wrong', () => {
    expect(() => parseResults('{"benches":[]}')).toThrow(/format undefined/);
    expect(() => parseResults('{"format":1}')).toThrow(/no benches array/);
    expect(() => parseResults('{"format":1,"benches":[]}')).toThrow(/no environments array/);
    const text = serializeResults(mergeResults(undefined, [record('demo', [THROUGHPUT])]));
    const file = (): { benches: { environment: unknown; figures: { values: object[] }[] }[] } => JSON.parse(text) as never;
    const badEnvironment = file();
    badEnvironment.benches[0]!.environment = 3;
    expect(() => parseResults(JSON.stringify(badEnvironment))).toThrow(/bench demo: environment 3 is not an index/);
    const badValue = file();
    badValue.benches[0]!.figures[0]!.values[0] = { contender: 'x', value: 'fast', holdfast: false };
    expect(() => parseResults(JSON.stringify(badValue))).toThrow(/bench demo: figure throughput: a value lacks/);
  });
});

describe('barChart()', () => {
  const figure = record('demo', [THROUGHPUT]).figures[0]!;
  const svg = barChart(figure);
  const elements = parseXml(svg);

  it('is one well-formed SVG document, escaping what the figure says', () => {
    expect(elements[0]).toMatchObject({ name: 'svg', attrs: { xmlns: 'http://www.w3.org/2000/svg' } });
    expect(elements.find((e) => e.name === 'title')!.text).toBe('Requests <per> second & more (requests/s, higher is better; ratios to raw undici)');
    expect(svg).not.toContain('<per>');
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  });

  it('draws the contenders in the order given, each bar as long as its value, holdfast highlighted', () => {
    const texts = elements.filter((e) => e.name === 'text').map((e) => e.text);
    const labels = texts.filter((t) => THROUGHPUT.values.some((v) => v.contender === t));
    expect(labels).toEqual(['raw undici', 'holdfast client', 'got', 'never recovered']);
    const bars = elements.filter((e) => e.name === 'rect' && e.attrs.rx === '2');
    // No bar for the missing value: "none" instead.
    expect(bars).toHaveLength(3);
    const widths = bars.map((b) => Number(b.attrs.width));
    expect(widths[1]! / widths[0]!).toBeCloseTo(0.95, 2);
    expect(widths[2]! / widths[0]!).toBeCloseTo(0.5, 2);
    const ys = bars.map((b) => Number(b.attrs.y));
    expect(ys).toEqual([...ys].sort((a, b) => a - b));
    expect(bars.map((b) => b.attrs.fill)).toEqual([COLOURS.baseline, COLOURS.holdfast, COLOURS.peer]);
  });

  it('writes each value with its unit context, ratio and note, "none" when there is no value', () => {
    const texts = elements.filter((e) => e.name === 'text').map((e) => e.text);
    expect(texts).toContain('requests/s, higher is better; ratios to raw undici');
    expect(texts).toContain('1,000 (baseline)');
    expect(texts).toContain('950 (0.95x)');
    expect(texts).toContain('500 (0.49x), p99 "12" ms');
    expect(texts).toContain('none');
  });

  it('draws a whisker only where there is a spread, inside the chart', () => {
    const whiskers = elements.filter((e) => e.name === 'path');
    expect(whiskers).toHaveLength(2);
    const width = Number(elements[0]!.attrs.width);
    for (const w of whiskers) for (const n of w.attrs.d!.match(/[\d.]+/g)!) expect(Number(n)).toBeLessThanOrEqual(width);
  });

  it('gives the same bytes for the same figure, and scales bars from zero for negative values too', () => {
    expect(barChart(figure)).toBe(svg);
    const mixed = record('demo', [
      {
        id: 'delta',
        title: 'd',
        metric: 'ms',
        better: 'lower',
        values: [
          { contender: 'a', value: -5 },
          { contender: 'holdfast', value: 10 },
        ],
      },
    ]).figures[0]!;
    const bars = parseXml(barChart(mixed)).filter((e) => e.name === 'rect' && e.attrs.rx === '2');
    expect(Number(bars[0]!.attrs.x) + Number(bars[0]!.attrs.width)).toBeCloseTo(Number(bars[1]!.attrs.x), 1);
    expect(Number(bars[1]!.attrs.width) / Number(bars[0]!.attrs.width)).toBeCloseTo(2, 1);
  });

  it('formats numbers as people read them', () => {
    expect([
      formatValue(1234567),
      formatValue(12.345),
      formatValue(1.2345),
      formatValue(1.0004),
      formatValue(0.01234),
      formatValue(null),
      formatValue(Infinity),
    ]).toEqual(['1,234,567', '12.3', '1.23', '1.00', '0.012', 'none', 'none']);
  });
});

describe('the page', () => {
  it('shows the machine, the load, the versions and, per figure, its chart and a table with holdfast in bold', () => {
    const page = renderPage(mergeResults(undefined, [record('demo', [THROUGHPUT])]).benches);
    expect(page).toContain('| CPU | Test CPU @ 3.0GHz, 2 cores |');
    expect(page).toContain('| Node.js | v20.19.0 (V8 11.3) |');
    expect(page).toMatch(/\| load average \(1 \/ 5 \/ 15 min\) \| [\d.]+ \/ [\d.]+ \/ [\d.]+ at the start/);
    expect(page).toContain('| undici | 7.0.0 | @holdfast/http |');
    expect(page).toContain('Smoke run');
    expect(page).toContain('![Requests <per> second & more](demo-throughput.svg)');
    expect(page).toContain('| contender | requests/s | ratio to raw undici | spread | note |');
    expect(page).toContain('| **holdfast client** | **950** | 0.950 | 940 – 960 |  |');
  });

  it('is what the generator writes for the committed results (a placeholder before the first real run)', () => {
    const dir = new URL('../docs/bench/', import.meta.url);
    let results;
    try {
      results = parseResults(readFileSync(new URL('results.json', dir), 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    expect(readFileSync(new URL('README.md', dir), 'utf8')).toBe(renderPage(results?.benches ?? []));
  });
});
