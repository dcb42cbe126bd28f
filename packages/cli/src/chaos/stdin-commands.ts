import type { ProxyRegistry } from './proxy-registry.js';
import { parseToxicSpec } from './toxic-spec.js';

export const COMMANDS_HELP = `commands (one a line):
  add <toxic>            add a toxic: type[:toxicity][:attr=value,…] (stream=upstream|downstream, name=… allowed)
  remove <name>          remove a toxic (list shows the names)
  clear                  remove every toxic
  list                   the toxics in place
  disable [refuse|reset] take the upstream down: refuse new connections (default) or accept and reset them
  enable                 bring it back
  reset                  reset (RST) every open connection
  stats                  the counters
  use <proxy>            send the next commands to another proxy (made through the API)
  help                   this text
  quit                   stop`;

/** The state of one stdin session: which proxy the commands go to. */
export interface CommandSession {
  current: string | undefined;
}

/**
 * Runs one command line against the registry and returns what to print.
 * `quit` is the caller's; an error is returned as text, never thrown: a typo
 * at the prompt must not stop the proxy.
 */
export async function runCommand(line: string, registry: ProxyRegistry, session: CommandSession): Promise<string> {
  const [command = '', ...args] = line.trim().split(/\s+/);
  const argument = args.join(' ');
  try {
    if (command === '') return '';
    if (command === 'help') return COMMANDS_HELP;
    if (command === 'use') {
      registry.get(argument);
      session.current = argument;
      return `commands now go to proxy '${argument}'`;
    }
    const name = session.current;
    if (name === undefined) return "no proxy yet: create one with --upstream or the control API ('POST /proxies'), then 'use <name>'";
    const proxy = registry.get(name);
    switch (command) {
      case 'add': {
        if (argument === '') return 'usage: add type[:toxicity][:attr=value,…]';
        const toxic = registry.addToxic(name, parseToxicSpec(argument));
        return `added ${describeToxic(toxic)}`;
      }
      case 'remove':
      case 'rm':
        registry.removeToxic(name, argument);
        return `removed ${argument}`;
      case 'clear':
        proxy.clearToxics();
        return 'removed every toxic';
      case 'list':
      case 'ls': {
        const toxics = proxy.toxics();
        return toxics.length === 0 ? 'no toxics' : toxics.map(describeToxic).join('\n');
      }
      case 'disable': {
        const mode = argument === '' ? 'refuse' : argument;
        if (mode !== 'refuse' && mode !== 'reset') return 'usage: disable [refuse|reset]';
        await proxy.disable({ mode });
        return mode === 'refuse'
          ? 'disabled: new connections are refused (ECONNREFUSED)'
          : 'disabled: new connections are accepted and reset (ECONNRESET)';
      }
      case 'enable':
        await proxy.enable();
        return 'enabled';
      case 'reset':
        return `reset ${proxy.resetAll()} open connection(s)`;
      case 'stats':
        return JSON.stringify(proxy.stats());
      default:
        return `unknown command '${command}'; 'help' lists them`;
    }
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}

export function describeToxic(toxic: { name: string; type: string; stream: string; toxicity: number; attributes: object }): string {
  const attributes = Object.entries(toxic.attributes)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
  return `${toxic.name}: ${toxic.type} ${toxic.stream}${toxic.toxicity < 1 ? ` toxicity ${toxic.toxicity}` : ''}${attributes === '' ? '' : ` ${attributes}`}`;
}
