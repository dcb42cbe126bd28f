import { parseCommandArgs } from '../args.js';
import { LiveBoard } from '../display/live-board.js';
import { styleFor } from '../display/style.js';
import type { CommandIo } from '../io.js';
import { EXIT, UsageError } from '../io.js';
import { renderDemoReport } from './report.js';
import { runDemo } from './run-demo.js';
import { SCENARIOS } from './scenarios/index.js';

export const DEMO_USAGE = `usage: holdfast demo [--scenario name[,name…]]… [--json] [--list]

Starts servers on loopback, breaks their connections on purpose (real TCP
resets, outages, stalls, restarts) and runs a plain client beside a holdfast
client through each fault. Every number is measured in this run.

  -s, --scenario name   run only these scenarios (repeatable, or comma-separated)
      --json            print the results as JSON on stdout (progress stays on stderr)
      --list            list the scenarios and exit

Exit code: 0 when holdfast's side did what it should in every scenario, 1 otherwise.`;

export async function runDemoCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    scenario: { type: 'string', short: 's', multiple: true },
    json: { type: 'boolean' },
    list: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    io.stdout.write(`${DEMO_USAGE}\n`);
    return EXIT.ok;
  }
  if (values.list === true) {
    const width = Math.max(...SCENARIOS.map((s) => s.name.length));
    io.stdout.write(SCENARIOS.map((s) => `${s.name.padEnd(width)}  ${s.title}`).join('\n') + '\n');
    return EXIT.ok;
  }
  const wanted = (values.scenario ?? [])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = wanted.filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length > 0)
    throw new UsageError(`unknown scenario ${unknown.map((n) => `'${n}'`).join(', ')} (accepted: ${SCENARIOS.map((s) => s.name).join(', ')})`);
  const chosen = wanted.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => wanted.includes(s.name));

  const board = new LiveBoard(io.stderr, styleFor(io.stderr, io.env), { labelWidth: Math.max(...chosen.map((s) => s.name.length)) });
  const report = await runDemo(chosen, board, io.signal);
  io.stdout.write(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : `\n${renderDemoReport(report, styleFor(io.stdout, io.env))}`);
  if (io.signal?.aborted === true) return EXIT.interrupted;
  return report.ok ? EXIT.ok : EXIT.failed;
}
