import type { OutputStream } from '../io.js';

/** ANSI styling that turns itself off where it would only add noise (pipes, CI logs, NO_COLOR). */
export interface Style {
  readonly color: boolean;
  bold(text: string): string;
  dim(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  red(text: string): string;
  cyan(text: string): string;
}

const wrap =
  (open: number, close: number) =>
  (text: string): string =>
    `\x1b[${open}m${text}\x1b[${close}m`;

const identity = (text: string): string => text;

/** https://no-color.org and the FORCE_COLOR convention; otherwise colour only on a terminal. */
export function styleFor(stream: OutputStream, env: Readonly<Record<string, string | undefined>>): Style {
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  const color = forced || (stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '') && env.TERM !== 'dumb');
  if (!color) return { color, bold: identity, dim: identity, green: identity, yellow: identity, red: identity, cyan: identity };
  return { color, bold: wrap(1, 22), dim: wrap(2, 22), green: wrap(32, 39), yellow: wrap(33, 39), red: wrap(31, 39), cyan: wrap(36, 39) };
}

// eslint-disable-next-line no-control-regex -- matching the escape sequences is the point
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** Printed width of a string, escape sequences excluded. */
export function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}
