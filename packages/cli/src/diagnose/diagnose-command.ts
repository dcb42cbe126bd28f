import type { CommandIo } from '../io.js';
import { EXIT } from '../io.js';

export const DIAGNOSE_USAGE = `usage: holdfast diagnose <target>`;

export function runDiagnoseCommand(_argv: readonly string[], io: CommandIo): Promise<number> {
  io.stderr.write('not yet\n');
  return Promise.resolve(EXIT.failed);
}
