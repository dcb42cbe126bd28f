import net from 'node:net';
import type { DiagnoseContext } from '../context.js';
import { describeError, round } from '../step.js';
import type { StepRecord } from '../step.js';
import type { Address } from './dns.js';

/** How long a fresh connection is watched for the peer resetting, closing or speaking first. */
const HOLD_MS = 200;
const MAX_ADDRESSES = 6;

type Outcome = 'open' | 'refused' | 'timeout' | 'unreachable' | 'reset' | 'closed' | 'error';

interface Attempt {
  readonly address: Address;
  readonly outcome: Outcome;
  readonly ms: number;
  readonly text: string;
  /** What the peer sent first, if it spoke first (a banner). */
  readonly banner?: string;
}

/**
 * Connects to each address, times it, and holds each connection a moment:
 * a peer that resets or closes a connection it just accepted is a cause of
 * its own (an overloaded server, a load balancer without backends, a
 * firewall). Returns the addresses that accepted and stayed open.
 */
export async function tcpStep(context: DiagnoseContext, host: string, port: number, addresses: readonly Address[], suffix = ''): Promise<Address[]> {
  const { value } = await context.step(`tcp${suffix}`, async (record) => {
    const attempts = await Promise.all(addresses.slice(0, MAX_ADDRESSES).map((address) => attempt(address, port, context.timeoutMs)));
    record.data.attempts = attempts.map((a) => ({ address: a.address.address, outcome: a.outcome, ms: round(a.ms) }));
    for (const a of attempts) {
      const where = a.address.family === 6 ? `[${a.address.address}]:${port}` : `${a.address.address}:${port}`;
      record.detail(
        `${where}: ${a.outcome === 'open' ? `connected in ${round(a.ms)} ms` : a.text}${a.banner === undefined ? '' : `; it spoke first: ${JSON.stringify(a.banner)}`}`,
      );
    }
    const open = attempts.filter((a) => a.outcome === 'open');
    const failed = attempts.filter((a) => a.outcome !== 'open');
    if (open.length === 0) {
      const first = failed[0] as Attempt;
      record.summary = `no address of ${host} accepted a connection on port ${port}`;
      findFailure(record, first, host, port);
      return [];
    }
    record.summary = `${open.length} of ${attempts.length} address${attempts.length === 1 ? '' : 'es'} connected (${round(Math.min(...open.map((a) => a.ms)))} ms)`;
    if (failed.length > 0) {
      const families = new Set(failed.map((a) => a.address.family));
      const openFamilies = new Set(open.map((a) => a.address.family));
      const seen = failed.map((a) => `${a.address.address}: ${a.outcome}`).join(', ');
      if (host === 'localhost' && families.size === 1 && ![...families].some((f) => openFamilies.has(f))) {
        record.find('localhost-family', 'warning', `localhost → ${seen}, while ${open.map((a) => a.address.address).join(', ')} answers`);
      } else {
        record.find('some-addresses-fail', 'warning', seen);
      }
    }
    return open.map((a) => a.address);
  });
  return value ?? [];
}

function findFailure(record: StepRecord, attempt: Attempt, host: string, port: number): void {
  const seen = `${host}:${port} (${attempt.address.address}): ${attempt.text}`;
  switch (attempt.outcome) {
    case 'refused':
      record.find('connection-refused', 'problem', seen);
      return;
    case 'timeout':
      record.find('connect-timeout', 'problem', seen);
      return;
    case 'unreachable':
      record.find('host-unreachable', 'problem', seen);
      return;
    case 'reset':
      record.find('reset-on-connect', 'problem', seen);
      return;
    case 'closed':
      record.find('closed-on-connect', 'problem', seen);
      return;
    default:
      record.find('connection-refused', 'problem', seen);
  }
}

function attempt(address: Address, port: number, timeoutMs: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let connectedMs: number | undefined;
    let banner = '';
    let settled = false;
    let hold: NodeJS.Timeout | undefined;
    const socket = net.connect({ host: address.address, port, family: address.family, autoSelectFamily: false });
    const finish = (outcome: Outcome, text: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(hold);
      socket.destroy();
      resolve({ address, outcome, ms: connectedMs ?? performance.now() - t0, text, ...(banner === '' ? {} : { banner: banner.slice(0, 60) }) });
    };
    const timer = setTimeout(
      () =>
        finish(connectedMs === undefined ? 'timeout' : 'open', connectedMs === undefined ? `no answer within ${timeoutMs} ms (ETIMEDOUT)` : 'open'),
      timeoutMs,
    );
    socket.once('connect', () => {
      connectedMs = performance.now() - t0;
      clearTimeout(timer);
      hold = setTimeout(() => finish('open', 'open'), HOLD_MS);
    });
    socket.on('data', (chunk: Buffer) => (banner += chunk.toString('latin1').replace(/[^\x20-\x7e]/g, '.')));
    socket.once('end', () =>
      finish(connectedMs === undefined ? 'error' : 'closed', `accepted, then closed by the peer after ${round(performance.now() - t0)} ms (FIN)`),
    );
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const { text } = describeError(error);
      const code = error.code ?? '';
      if (connectedMs !== undefined)
        finish(
          code === 'ECONNRESET' ? 'reset' : 'error',
          code === 'ECONNRESET' ? `accepted, then reset by the peer after ${round(performance.now() - t0)} ms (ECONNRESET)` : text,
        );
      else if (code === 'ECONNREFUSED') finish('refused', 'refused (ECONNREFUSED): nothing listens there');
      else if (code === 'ETIMEDOUT') finish('timeout', text);
      else if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') finish('unreachable', text);
      else if (code === 'ECONNRESET') finish('reset', 'reset while connecting (ECONNRESET)');
      else finish('error', text);
    });
  });
}
