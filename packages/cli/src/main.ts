import { CHAOS_USAGE, runChaos } from './chaos/run-chaos.js';
import { DEMO_USAGE, runDemoCommand } from './demo/demo-command.js';
import { DIAGNOSE_USAGE, runDiagnoseCommand } from './diagnose/diagnose-command.js';
import type { CommandIo } from './io.js';
import { EXIT, UsageError } from './io.js';
import { VERSION } from './version.js';

export const USAGE = `usage: holdfast <command> [options]

  demo                 a plain client and a holdfast client side by side under real faults
  diagnose <target>    why does this connection reset? http(s)://, ws(s)://, tcp://, mongodb://, otlp
  chaos                a fault-injecting TCP proxy in front of any service

  holdfast <command> --help    the command's options
  holdfast --version`;

const COMMANDS: Readonly<Record<string, { run: (argv: readonly string[], io: CommandIo) => Promise<number>; usage: string }>> = {
  demo: { run: runDemoCommand, usage: DEMO_USAGE },
  diagnose: { run: runDiagnoseCommand, usage: DIAGNOSE_USAGE },
  chaos: { run: runChaos, usage: CHAOS_USAGE },
};

/**
 * The `holdfast` command line as a function: runs one command with the given
 * arguments (without `node` and the script) and streams, and resolves with
 * the exit code. Never rejects: an unexpected error is printed and exits 1.
 */
export async function main(argv: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr.write(`holdfast: unknown command '${name}'\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`holdfast ${name}: ${error.message}\n\n${command.usage}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`holdfast ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.failed;
  }
}
