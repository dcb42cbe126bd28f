import { createInterface } from 'node:readline';
import type { ChaosProxy, ToxicOptions } from '@holdfast/chaos';
import { integerOption, parseCommandArgs } from '../args.js';
import { formatBytes } from '../display/format.js';
import { styleFor } from '../display/style.js';
import type { CommandIo } from '../io.js';
import { EXIT, UsageError } from '../io.js';
import { startControlApi } from './control-api.js';
import type { ControlApi } from './control-api.js';
import { ProxyRegistry, RegistryError } from './proxy-registry.js';
import { describeToxic, runCommand } from './stdin-commands.js';
import type { CommandSession } from './stdin-commands.js';
import { parseHostPort, parseToxicSpec } from './toxic-spec.js';

export const CHAOS_USAGE = `usage: holdfast chaos --upstream host:port [--listen host:port] [--toxic spec]… [--api [host:]port]

The fault-injecting TCP proxy of @holdfast/chaos, standalone: point your app at
--listen instead of --upstream, then break its connections on purpose.

  -u, --upstream host:port   where connections go (your database, API, broker…)
  -l, --listen host:port     where the proxy listens (default 127.0.0.1:0, a free port)
  -t, --toxic spec           a toxic from the start, repeatable: type[:toxicity][:attr=value,…]
                             e.g. latency:1:latency=200,jitter=50   reset_peer:0.1:after_bytes=1024
                                  timeout:timeout=0,stream=upstream   bandwidth:rate=100
      --api [host:]port      a control API in Toxiproxy's shape (GET/POST /proxies, …/toxics, /reset)
                             on loopback unless a host is given (Toxiproxy uses 8474)
      --name name            the proxy's name in the API (default 'holdfast')
      --stats-interval ms    how often a log (not a terminal) gets a stats line (default 5000; 0: never)

Toxics: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data
(Toxiproxy's names and units; see the @holdfast/chaos README).
While it runs, type commands on stdin ('help' lists them). Ctrl-C stops.`;

/** `holdfast chaos`: runs until SIGINT/SIGTERM (io.signal), a `quit` command, or the end of a terminal's input. */
export async function runChaos(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    upstream: { type: 'string', short: 'u' },
    listen: { type: 'string', short: 'l' },
    toxic: { type: 'string', short: 't', multiple: true },
    api: { type: 'string' },
    name: { type: 'string' },
    'stats-interval': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    io.stdout.write(`${CHAOS_USAGE}\n`);
    return EXIT.ok;
  }
  if (values.upstream === undefined && values.api === undefined)
    throw new UsageError('give --upstream (and --listen), or --api to create proxies through the control API');
  if (values.upstream === undefined && (values.toxic !== undefined || values.listen !== undefined))
    throw new UsageError('--toxic and --listen need --upstream');
  const toxics: ToxicOptions[] = (values.toxic ?? []).map(parseToxicSpec);
  const name = values.name ?? 'holdfast';
  const statsIntervalMs = integerOption(values['stats-interval'], 'stats-interval', 5000, 0, 86_400_000);
  const api = values.api === undefined ? undefined : parseHostPort(values.api, '--api');
  if (values.upstream !== undefined) parseHostPort(values.upstream, '--upstream');

  const style = styleFor(io.stdout, io.env);
  const line = new StatusLine(io);
  const registry = new ProxyRegistry();
  registry.onCreate((proxyName, proxy) => follow(proxyName, proxy, line, (text) => style.dim(text)));
  let control: ControlApi | undefined;
  try {
    if (values.upstream !== undefined) {
      try {
        await registry.create(name, values.listen ?? '127.0.0.1:0', values.upstream, { toxics });
      } catch (error) {
        if (error instanceof RegistryError && error.status === 400) throw new UsageError(error.message);
        throw error;
      }
    }
    if (api !== undefined) control = await startControlApi(registry, api.host, api.port);
  } catch (error) {
    await registry.closeAll();
    if (error instanceof UsageError) throw error;
    io.stderr.write(`holdfast chaos: ${(error as Error).message}\n`);
    return EXIT.failed;
  }

  for (const proxyName of registry.names()) {
    const json = registry.json(proxyName);
    line.print(`${style.bold('holdfast chaos')} ${json.listen} → ${json.upstream} (proxy '${proxyName}')`);
    for (const toxic of json.toxics) line.print(`  toxic ${describeToxic(toxic)}`);
  }
  if (control !== undefined) line.print(`control API (Toxiproxy's routes): ${control.url}`);
  line.print(style.dim("type 'help' for commands; Ctrl-C stops"));

  const session: CommandSession = { current: registry.names()[0] };
  const input = createInterface({ input: io.stdin, terminal: false });
  const stopped = new Promise<void>((resolve) => {
    if (io.signal?.aborted === true) resolve();
    io.signal?.addEventListener('abort', () => resolve(), { once: true });
    let queue = Promise.resolve();
    input.on('line', (text) => {
      // One command at a time, in order: disable/enable take a moment.
      queue = queue.then(async () => {
        const trimmed = text.trim();
        if (trimmed === 'quit' || trimmed === 'exit') return resolve();
        const answer = await runCommand(trimmed, registry, session);
        if (answer !== '') line.print(answer);
      });
    });
    // The end of a terminal's input (Ctrl-D) stops; a closed pipe does not (a daemon driven by the API).
    input.on('close', () => (io.stdin as { isTTY?: boolean }).isTTY === true && resolve());
  });

  const every = io.stdout.isTTY === true ? 500 : statsIntervalMs;
  const ticker = every > 0 ? setInterval(() => line.stats(statsLine(registry)), every).unref() : undefined;
  line.stats(statsLine(registry));
  await stopped;
  input.close();
  clearInterval(ticker);
  line.print(statsLine(registry));
  await control?.close();
  await registry.closeAll();
  line.end();
  return EXIT.ok;
}

function follow(name: string, proxy: ChaosProxy, line: StatusLine, dim: (s: string) => string): void {
  proxy.on('fault', (event) => {
    if (event.action === 'drop') return;
    const what =
      event.action === 'reject'
        ? 'reset a new connection'
        : `${event.action === 'reset' ? 'reset' : 'closed'} connection #${String(event.connectionId)}`;
    line.print(dim(`[${name}] ${what} (${event.cause})`));
  });
}

function statsLine(registry: ProxyRegistry): string {
  const parts = registry.names().map((name) => {
    const proxy = registry.get(name);
    const s = proxy.stats();
    const toxics = proxy.toxics().map((t) => t.name);
    return [
      `${name}${proxy.enabled ? '' : ' (disabled)'}: ${s.connections.open} open/${s.connections.total}`,
      `↑${formatBytes(s.bytes.upstream)} ↓${formatBytes(s.bytes.downstream)}`,
      `${s.resets} resets, ${s.closes} closes, ${formatBytes(s.dropped.upstream + s.dropped.downstream)} dropped`,
      toxics.length === 0 ? 'no toxics' : `toxics: ${toxics.join(', ')}`,
    ].join(' · ');
  });
  return parts.length === 0 ? 'no proxies' : parts.join(' | ');
}

/**
 * Lines above, one stats line at the bottom: on a terminal the stats line is
 * redrawn in place; in a log it is printed when it changed.
 */
class StatusLine {
  readonly #io: CommandIo;
  readonly #tty: boolean;
  #last = '';
  #shown = false;

  constructor(io: CommandIo) {
    this.#io = io;
    this.#tty = io.stdout.isTTY === true;
  }

  print(text: string): void {
    if (this.#tty && this.#shown) this.#io.stdout.write('\r\x1b[2K');
    this.#io.stdout.write(`${text}\n`);
    if (this.#tty && this.#shown) this.#io.stdout.write(this.#last);
  }

  stats(text: string): void {
    if (this.#tty) {
      this.#io.stdout.write(`\r\x1b[2K${text}`);
      this.#shown = true;
      this.#last = text;
    } else if (text !== this.#last) {
      this.#io.stdout.write(`${text}\n`);
      this.#last = text;
    }
  }

  end(): void {
    if (this.#tty && this.#shown) this.#io.stdout.write('\r\x1b[2K');
    this.#shown = false;
  }
}
