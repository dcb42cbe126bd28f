import type { OutputStream } from '../io.js';
import type { Style } from './style.js';
import { visibleLength } from './style.js';

/** How a finished row is marked. */
export type Mark = 'ok' | 'warning' | 'problem' | 'skipped' | 'info';

export interface LiveRow {
  /** The row's current state; `progress` (0..1) draws a bar on a terminal. */
  update(text: string, progress?: number): void;
  /** A milestone worth a line of its own ("server restarting"): kept under the row on a terminal, printed at once in a log. */
  note(text: string): void;
  /** Ends the row with its mark, a summary and lines shown under it. */
  finish(mark: Mark, text: string, details?: readonly string[]): void;
}

interface RowState {
  readonly label: string;
  text: string;
  progress: number | undefined;
  notes: string[];
  finished: { mark: Mark; text: string; details: readonly string[] } | undefined;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 100;
const BAR_WIDTH = 16;

/**
 * Progress that reads well in both places a command runs. On a terminal the
 * unfinished rows are redrawn in place with a spinner and a bar, and each row
 * becomes a permanent line once it and the rows above it are done. Anywhere
 * else (a pipe, a CI log) nothing is redrawn: a row prints a line when it
 * starts (if asked), at each note, and when it finishes.
 */
export class LiveBoard {
  readonly #out: OutputStream;
  readonly #style: Style;
  readonly #tty: boolean;
  readonly #labelWidth: number;
  readonly #rows: RowState[] = [];
  #drawn = 0;
  #frame = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(out: OutputStream, style: Style, options: { labelWidth?: number } = {}) {
    this.#out = out;
    this.#style = style;
    this.#tty = out.isTTY === true;
    this.#labelWidth = options.labelWidth ?? 12;
  }

  /** Adds a row; `announce` prints a start line in a log (on a terminal the spinner says it). */
  row(label: string, options: { announce?: string } = {}): LiveRow {
    const state: RowState = { label, text: '', progress: undefined, notes: [], finished: undefined };
    this.#rows.push(state);
    if (this.#tty) {
      this.#timer ??= setInterval(() => this.#draw(), FRAME_MS).unref();
      this.#draw();
    } else if (options.announce !== undefined) {
      this.#out.write(`${this.#style.dim('…')} ${this.#pad(label)} ${options.announce}\n`);
    }
    return {
      update: (text, progress) => {
        state.text = text;
        state.progress = progress;
      },
      note: (text) => {
        if (this.#tty) state.notes.push(text);
        else this.#out.write(`  ${this.#pad(label)} ${this.#style.dim(text)}\n`);
      },
      finish: (mark, text, details = []) => {
        if (state.finished !== undefined) return;
        state.finished = { mark, text, details };
        if (this.#tty) this.#draw();
        else this.#out.write(this.#finishedLines(state).join('\n') + '\n');
      },
    };
  }

  /** Draws the last frame and stops the timer; rows still running are shown as they are. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#tty) {
      this.#draw();
      // Whatever is still drawn stays on the screen as it is.
      this.#rows.length = 0;
      this.#drawn = 0;
    }
  }

  #draw(): void {
    this.#frame++;
    let text = this.#drawn > 0 ? `\x1b[${this.#drawn}A\r\x1b[0J` : '';
    // Rows finished in order become permanent lines, printed once.
    while (this.#rows[0]?.finished !== undefined) {
      const row = this.#rows.shift() as RowState;
      text += [...this.#finishedLines(row), ...row.notes.map((n) => `    ${this.#style.dim(n)}`)].join('\n') + '\n';
    }
    const live: string[] = [];
    for (const row of this.#rows) {
      if (row.finished !== undefined) live.push(...this.#finishedLines(row));
      else live.push(this.#runningLine(row));
      live.push(...row.notes.slice(-2).map((n) => `    ${this.#style.dim(n)}`));
    }
    const width = Math.max(40, (this.#out.columns ?? 100) - 1);
    text += live.map((l) => truncate(l, width) + '\n').join('');
    this.#drawn = live.length;
    if (this.#rows.length === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    this.#out.write(text);
  }

  #runningLine(row: RowState): string {
    const spinner = this.#style.cyan(SPINNER[this.#frame % SPINNER.length] as string);
    const bar = row.progress === undefined ? '' : `${progressBar(row.progress, this.#style)} `;
    return `${spinner} ${this.#pad(row.label)} ${bar}${row.text}`;
  }

  #finishedLines(row: RowState): string[] {
    const finished = row.finished;
    if (finished === undefined) return [];
    return [`${markSymbol(finished.mark, this.#style)} ${this.#pad(row.label)} ${finished.text}`, ...finished.details.map((d) => `    ${d}`)];
  }

  #pad(label: string): string {
    return this.#style.bold(label.padEnd(this.#labelWidth));
  }
}

export function markSymbol(mark: Mark, style: Style): string {
  switch (mark) {
    case 'ok':
      return style.green('✓');
    case 'warning':
      return style.yellow('!');
    case 'problem':
      return style.red('✗');
    case 'skipped':
      return style.dim('-');
    case 'info':
      return style.dim('·');
  }
}

function progressBar(progress: number, style: Style): string {
  const filled = Math.round(Math.min(1, Math.max(0, progress)) * BAR_WIDTH);
  return style.cyan('█'.repeat(filled)) + style.dim('░'.repeat(BAR_WIDTH - filled));
}

function truncate(line: string, width: number): string {
  if (visibleLength(line) <= width) return line;
  // Cut by visible characters, keeping escape sequences, and reset styling at the cut.
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length && visible < width - 1; i++) {
    // eslint-disable-next-line no-control-regex -- matching the escape sequences is the point
    const escape = /^\x1b\[[0-9;]*[A-Za-z]/.exec(line.slice(i));
    if (escape !== null) {
      out += escape[0];
      i += escape[0].length - 1;
      continue;
    }
    out += line.charAt(i);
    visible++;
  }
  return `${out}…\x1b[0m`;
}
