import { readFileSync } from 'node:fs';
import { redactText } from '@holdfast/core';
import { parseCommandArgs, integerOption } from '../args.js';
import { LiveBoard } from '../display/live-board.js';
import type { Mark } from '../display/live-board.js';
import { styleFor } from '../display/style.js';
import type { Style } from '../display/style.js';
import type { CommandIo } from '../io.js';
import { EXIT, UsageError } from '../io.js';
import { CAUSES } from './causes.js';
import type { DiagnoseReport, StepReport } from './report.js';
import { diagnose } from './run-diagnose.js';
import { TARGET_FORMS } from './target.js';

export const DIAGNOSE_USAGE = `usage: holdfast diagnose <target> [options]

Why does this connection reset? Checks, step by step, what a client goes
through: DNS, TCP, TLS, then the protocol, and names the likely cause and
the fix for each problem. Credentials in the target or headers are never printed.

targets: ${TARGET_FORMS}
  (otlp reads the OTEL_EXPORTER_OTLP_* variables, or --endpoint and --protocol)

      --json                  print the report as JSON on stdout (the live steps go to stderr)
      --ca file               trust this CA certificate (PEM) too, as a client's \`ca\` option would
  -H, --header 'name: value'  send this header (HTTP, WebSocket, OTLP); repeatable; values never printed
      --endpoint url          otlp: the collector's base URL (like OTEL_EXPORTER_OTLP_ENDPOINT)
      --protocol p            otlp: grpc, http/protobuf or http/json (like OTEL_EXPORTER_OTLP_PROTOCOL)
      --timeout ms            per lookup, connection, handshake and answer (default 5000)
      --idle-wait ms          how long to watch an idle keep-alive connection for the server closing it (default 6000)

Exit code: 0 when no problem was found (warnings allowed), 1 when one was, 2 for a wrong command line.`;

const PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'] as const;

export async function runDiagnoseCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      json: { type: 'boolean' },
      ca: { type: 'string' },
      header: { type: 'string', short: 'H', multiple: true },
      endpoint: { type: 'string' },
      protocol: { type: 'string' },
      timeout: { type: 'string' },
      'idle-wait': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help === true) {
    io.stdout.write(`${DIAGNOSE_USAGE}\n`);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'give one target' : `give one target, got ${positionals.length}`);
  const target = positionals[0] as string;
  if ((values.endpoint !== undefined || values.protocol !== undefined) && target !== 'otlp')
    throw new UsageError('--endpoint and --protocol are for the otlp target');
  const protocol = values.protocol;
  if (protocol !== undefined && !(PROTOCOLS as readonly string[]).includes(protocol))
    throw new UsageError(`--protocol must be ${PROTOCOLS.join(', ')}, got '${protocol}'`);
  const headers: Record<string, string> = {};
  for (const header of values.header ?? []) {
    const colon = header.indexOf(':');
    if (colon <= 0) throw new UsageError("--header must be 'name: value'");
    headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  let ca: Buffer | undefined;
  if (values.ca !== undefined) {
    try {
      ca = readFileSync(values.ca);
    } catch (error) {
      throw new UsageError(`cannot read --ca ${values.ca}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const timeoutMs = integerOption(values.timeout, 'timeout', 5000, 100, 120_000);
  const idleWaitMs = integerOption(values['idle-wait'], 'idle-wait', 6000, 0, 600_000);

  const json = values.json === true;
  const live = json ? io.stderr : io.stdout;
  const style = styleFor(live, io.env);
  const board = new LiveBoard(live, style, { labelWidth: 10 });
  const rows = new Map<string, ReturnType<LiveBoard['row']>>();
  if (!json) io.stdout.write(`${style.bold('holdfast diagnose')} ${redactText(target)}\n`);
  const report = await diagnose(
    target,
    {
      timeoutMs,
      idleWaitMs,
      headers,
      env: io.env,
      ...(ca === undefined ? {} : { ca }),
      ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
      ...(protocol === undefined ? {} : { protocol: protocol as (typeof PROTOCOLS)[number] }),
      ...(io.signal === undefined ? {} : { signal: io.signal }),
    },
    {
      started: (step) => {
        const row = board.row(step);
        row.update('…');
        rows.set(step, row);
      },
      finished: (step) =>
        rows.get(step.step)?.finish(
          markOf(step),
          step.summary,
          step.details.map((d) => style.dim(d)),
        ),
    },
  );
  board.stop();
  io.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : renderFindings(report, style));
  if (io.signal?.aborted === true) return EXIT.interrupted;
  return report.verdict === 'problem' ? EXIT.failed : EXIT.ok;
}

function markOf(step: StepReport): Mark {
  return step.verdict === 'skipped' ? 'skipped' : step.verdict;
}

function renderFindings(report: DiagnoseReport, style: Style): string {
  const lines = [''];
  const problems = report.findings.filter((f) => f.verdict === 'problem');
  const warnings = report.findings.filter((f) => f.verdict === 'warning');
  for (const finding of [...problems, ...warnings]) {
    const mark = finding.verdict === 'problem' ? style.red('✗ problem') : style.yellow('! warning');
    lines.push(`${mark}  ${style.bold(CAUSES[finding.cause].title)} ${style.dim(`[${finding.cause}]`)}`);
    lines.push(`    seen: ${finding.seen}`);
    lines.push(`    fix:  ${finding.fix}`);
    lines.push('');
  }
  const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  lines.push(
    problems.length > 0
      ? style.red(`✗ ${count(problems.length, 'problem')}${warnings.length > 0 ? `, ${count(warnings.length, 'warning')}` : ''}`)
      : warnings.length > 0
        ? style.yellow(`! no problem, ${count(warnings.length, 'warning')}`)
        : style.green('✓ no problem found'),
  );
  return `${lines.join('\n')}\n`;
}
