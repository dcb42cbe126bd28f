/**
 * A figure as a horizontal bar chart in plain SVG text: one bar per
 * contender, holdfast's highlighted, the baseline marked, a whisker for the
 * spread of the rounds, the value (and its ratio to the baseline) at the end
 * of each bar. No browser, no dependency: the same input gives the same bytes,
 * so a chart changes in a diff only when its figures do.
 */
import type { RecordedFigure } from './results.js';

const MIN_WIDTH = 760;
const MIN_BARS = 240;
const ROW = 26;
const BAR = 16;
const TOP = 58;
const LEFT_PAD = 12;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

export const COLOURS = { holdfast: '#0f766e', baseline: '#475569', peer: '#94a3b8', whisker: '#1e293b', text: '#0f172a', muted: '#475569' };

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A figure's number as people read it: three significant digits at most for small values, thousands separated. */
export function formatValue(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return 'none';
  const abs = Math.abs(value);
  const digits = abs >= 100 || Number.isInteger(value) ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  // A ratio of 1.0004 reads "1.00", not "1" (which would claim an exact count).
  return value.toLocaleString('en-US', { minimumFractionDigits: Number.isInteger(value) ? 0 : digits, maximumFractionDigits: digits });
}

/** Width of a text in pixels at `size`, estimated (no font metrics without a browser): a little generous. */
function textWidth(text: string, size: number): number {
  let units = 0;
  for (const c of text) units += /[A-Z%@mwMW]/.test(c) ? 0.8 : /[ il.,:;'|!()[\]]/.test(c) ? 0.32 : 0.58;
  return units * size;
}

function finite(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** The text at the end of a contender's bar: its value, its ratio to the baseline, its note. */
function valueLabel(figure: RecordedFigure, v: RecordedFigure['values'][number]): string {
  const isBaseline = v.contender === figure.baseline;
  const ratio = isBaseline ? ' (baseline)' : finite(v.ratio) ? ` (${v.ratio.toFixed(2)}x)` : '';
  const note = v.note === undefined ? '' : `, ${v.note}`;
  return `${formatValue(finite(v.value) ? v.value : null)}${ratio}${note}`;
}

/** A spread worth a whisker: both ends known and apart. */
function hasSpread(v: RecordedFigure['values'][number]): v is RecordedFigure['values'][number] & { low: number; high: number } {
  return finite(v.low) && finite(v.high) && v.low !== v.high;
}

export function barChart(figure: RecordedFigure): string {
  const values = figure.values;
  const subtitle = `${figure.metric}, ${figure.better} is better${figure.baseline === undefined ? '' : `; ratios to ${figure.baseline}`}`;
  // holdfast's labels are bold: wider than the estimate.
  const bold = (v: RecordedFigure['values'][number]): number => (v.holdfast ? 1.1 : 1);
  const labelWidth = Math.min(330, Math.max(...values.map((v) => textWidth(v.contender, 12) * bold(v))) + 16);
  const barLeft = LEFT_PAD + labelWidth;
  // Room at the right for the longest value label past the longest bar; the chart widens rather than cut a label.
  const rightPad = Math.max(...values.map((v) => textWidth(valueLabel(figure, v), 12) * bold(v))) + 16;
  const WIDTH = Math.ceil(
    Math.max(MIN_WIDTH, barLeft + MIN_BARS + rightPad, textWidth(figure.title, 15) * 1.12 + 2 * LEFT_PAD, textWidth(subtitle, 12) + 2 * LEFT_PAD),
  );
  const barWidth = WIDTH - barLeft - rightPad;
  const numbers = values.flatMap((v) => [v.value, ...(hasSpread(v) ? [v.low, v.high] : [])]).filter(finite);
  const max = Math.max(0, ...numbers);
  const min = Math.min(0, ...numbers);
  const span = max - min || 1;
  const x = (v: number): number => barLeft + ((v - min) / span) * barWidth;
  const height = TOP + values.length * ROW + 34;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-labelledby="t">`,
  );
  out.push(`<title id="t">${escapeXml(`${figure.title} (${subtitle})`)}</title>`);
  out.push(`<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${LEFT_PAD}" y="22" ${FONT} font-size="15" font-weight="600" fill="${COLOURS.text}">${escapeXml(figure.title)}</text>`);
  out.push(`<text x="${LEFT_PAD}" y="42" ${FONT} font-size="12" fill="${COLOURS.muted}">${escapeXml(subtitle)}</text>`);
  if (min < 0) {
    out.push(
      `<line x1="${x(0).toFixed(1)}" y1="${TOP - 6}" x2="${x(0).toFixed(1)}" y2="${TOP + values.length * ROW}" stroke="${COLOURS.muted}" stroke-width="1"/>`,
    );
  }
  values.forEach((v, i) => {
    const y = TOP + i * ROW;
    const isBaseline = v.contender === figure.baseline;
    const colour = v.holdfast ? COLOURS.holdfast : isBaseline ? COLOURS.baseline : COLOURS.peer;
    const weight = v.holdfast ? ' font-weight="600"' : '';
    out.push(
      `<text x="${barLeft - 8}" y="${y + BAR - 3}" text-anchor="end" ${FONT} font-size="12"${weight} fill="${COLOURS.text}">${escapeXml(v.contender)}</text>`,
    );
    let labelAt = x(0) + 6;
    if (finite(v.value)) {
      const from = Math.min(x(0), x(v.value));
      const width = Math.max(1, Math.abs(x(v.value) - x(0)));
      out.push(`<rect x="${from.toFixed(1)}" y="${y}" width="${width.toFixed(1)}" height="${BAR}" rx="2" fill="${colour}"/>`);
      labelAt = Math.max(x(0), x(v.value)) + 6;
    }
    if (hasSpread(v)) {
      const mid = y + BAR / 2;
      const [a, b] = [x(v.low).toFixed(1), x(v.high).toFixed(1)];
      out.push(
        `<path d="M${a} ${mid}H${b}M${a} ${mid - 4}V${mid + 4}M${b} ${mid - 4}V${mid + 4}" stroke="${COLOURS.whisker}" stroke-width="1.2" fill="none"/>`,
      );
      labelAt = Math.max(labelAt, x(v.high) + 6);
    }
    out.push(
      `<text x="${labelAt.toFixed(1)}" y="${y + BAR - 3}" ${FONT} font-size="12"${weight} fill="${COLOURS.text}">${escapeXml(valueLabel(figure, v))}</text>`,
    );
  });
  const footY = TOP + values.length * ROW + 18;
  const foot = [
    `<rect x="${LEFT_PAD}" y="${footY - 9}" width="10" height="10" fill="${COLOURS.holdfast}"/>`,
    `<text x="${LEFT_PAD + 14}" y="${footY}" ${FONT} font-size="11" fill="${COLOURS.muted}">holdfast</text>`,
    `<rect x="${LEFT_PAD + 74}" y="${footY - 9}" width="10" height="10" fill="${COLOURS.peer}"/>`,
    `<text x="${LEFT_PAD + 88}" y="${footY}" ${FONT} font-size="11" fill="${COLOURS.muted}">peers${
      figure.baseline === undefined ? '' : ' (baseline darker)'
    }${values.some(hasSpread) ? '; whiskers: the spread (see the note)' : ''}</text>`,
  ];
  out.push(...foot);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
