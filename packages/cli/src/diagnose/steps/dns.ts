import { isIP } from 'node:net';
import { promises as dns } from 'node:dns';
import type { DiagnoseContext } from '../context.js';
import { describeError, round, within } from '../step.js';

export interface Address {
  readonly address: string;
  readonly family: 4 | 6;
}

const SLOW_LOOKUP_MS = 1000;

/**
 * What the name resolves to, the way Node's `net` resolves it (getaddrinfo:
 * /etc/hosts, the OS resolver) and, beside it, what DNS itself says for A and
 * AAAA, each timed. Returns the addresses a client would connect to.
 */
export async function dnsStep(context: DiagnoseContext, host: string, suffix = ''): Promise<Address[]> {
  const family = isIP(host);
  if (family !== 0) {
    context.skip(`dns${suffix}`, `${host} is an address: no lookup`);
    return [{ address: host, family: family as 4 | 6 }];
  }
  const { value } = await context.step(`dns${suffix}`, async (record) => {
    const resolver = new dns.Resolver({ timeout: Math.min(2000, context.timeoutMs), tries: 2 });
    const timed = async <T>(work: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> => {
      const t0 = performance.now();
      try {
        const value = await within(work, context.timeoutMs, `the lookup of ${host}`);
        return { ms: performance.now() - t0, value };
      } catch (error) {
        return { ms: performance.now() - t0, error };
      }
    };
    const [lookup, a, aaaa] = await Promise.all([
      timed(dns.lookup(host, { all: true, verbatim: true })),
      timed(resolver.resolve4(host)),
      timed(resolver.resolve6(host)),
    ]);
    const addresses = (lookup.value ?? []).map((r) => ({ address: r.address, family: r.family as 4 | 6 }));
    record.data.lookup = { addresses, ms: round(lookup.ms) };
    record.data.a = a.value ?? [];
    record.data.aaaa = aaaa.value ?? [];
    const dnsLine = (name: string, r: typeof a): string => {
      if (r.value !== undefined) return `${name}: ${r.value.length === 0 ? 'none' : r.value.join(', ')} (${round(r.ms)} ms)`;
      const { fault, text } = describeError(r.error);
      return `${name}: ${fault.code === 'ENOTFOUND' || fault.code === 'ENODATA' ? 'none' : text} (${round(r.ms)} ms)`;
    };
    if (lookup.error !== undefined) {
      const { fault, text } = describeError(lookup.error);
      record.summary = `${host} does not resolve`;
      record.detail(`lookup: ${text}`);
      record.detail(dnsLine('DNS A', a));
      record.detail(dnsLine('DNS AAAA', aaaa));
      if (fault.code === 'ENOTFOUND') record.find('dns-not-found', 'problem', `${host}: ENOTFOUND (no such name)`);
      else record.find('dns-unavailable', 'problem', `${host}: ${text}`);
      return [];
    }
    record.summary = `${host} → ${addresses.map((r) => r.address).join(', ')} in ${round(lookup.ms)} ms`;
    record.detail(`lookup (what Node's net uses: /etc/hosts, then DNS): ${addresses.map((r) => r.address).join(', ')} (${round(lookup.ms)} ms)`);
    record.detail(dnsLine('DNS A', a));
    record.detail(dnsLine('DNS AAAA', aaaa));
    if (lookup.ms > SLOW_LOOKUP_MS) record.find('dns-slow', 'warning', `looking up ${host} took ${round(lookup.ms)} ms`);
    return addresses;
  });
  return value ?? [];
}
