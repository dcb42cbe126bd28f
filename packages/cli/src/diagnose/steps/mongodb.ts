import net from 'node:net';
import tls from 'node:tls';
import { promises as dns } from 'node:dns';
import type { DiagnoseContext } from '../context.js';
import { opMsg, readOpMsg } from '../bson.js';
import type { BsonValue } from '../bson.js';
import type { StepRecord } from '../step.js';
import { describeError, round, within } from '../step.js';
import type { HostPort } from '../target.js';
import type { Address } from './dns.js';
import { trustedCas } from './tls.js';

/** maxWireVersion → the server release that introduced it. */
const WIRE_VERSIONS: readonly [number, string][] = [
  [25, '8.0'],
  [21, '7.0'],
  [17, '6.0'],
  [13, '5.0'],
  [9, '4.4'],
  [8, '4.2'],
  [7, '4.0'],
  [6, '3.6'],
];

export interface HelloFacts {
  readonly setName: string | undefined;
  readonly members: readonly HostPort[];
}

/** The `hello` handshake every driver starts with, on a connection of our own (verified TLS when the URI asks for it). */
export async function helloStep(
  context: DiagnoseContext,
  name: string,
  target: HostPort,
  address: Address,
  secure: boolean,
): Promise<HelloFacts | undefined> {
  const { value } = await context.step(name, async (record) => {
    const t0 = performance.now();
    let reply: Record<string, BsonValue>;
    try {
      reply = await hello(context, target, address, secure, 'hello');
      if (reply.ok === 0 && (reply.code === 59 || /no such (cmd|command)/i.test(text(reply.errmsg)))) {
        reply = await hello(context, target, address, secure, 'isMaster');
      }
    } catch (error) {
      helloFailure(record, error, target, secure);
      return undefined;
    }
    const ms = performance.now() - t0;
    if (reply.ok !== 1 && reply.ok !== 1n) {
      record.summary = `the server answered hello with an error`;
      record.find('mongodb-not-mongodb', 'problem', `hello failed: ${text(reply.errmsg ?? reply.code)}`);
      return undefined;
    }
    const wire = typeof reply.maxWireVersion === 'number' ? reply.maxWireVersion : undefined;
    const release = wire === undefined ? undefined : WIRE_VERSIONS.find(([w]) => wire >= w)?.[1];
    const primary = reply.isWritablePrimary === true || reply.ismaster === true;
    const role =
      reply.msg === 'isdbgrid'
        ? 'mongos (a sharded cluster router)'
        : primary
          ? 'primary'
          : reply.secondary === true
            ? 'secondary'
            : reply.arbiterOnly === true
              ? 'arbiter'
              : 'not writable';
    const setName = typeof reply.setName === 'string' ? reply.setName : undefined;
    record.summary = `${role}${setName === undefined ? '' : ` of replica set '${setName}'`}${release === undefined ? '' : `, MongoDB ${release}+`} (${round(ms)} ms)`;
    record.data.hello = { role, setName, maxWireVersion: wire, me: reply.me, hosts: reply.hosts };
    const compression = list(reply.compression);
    if (compression.length > 0) record.detail(`compression offered: ${compression.join(', ')}`);
    const members = [...list(reply.hosts), ...list(reply.passives), ...list(reply.arbiters)]
      .map(parseMember)
      .filter((m): m is HostPort => m !== undefined);
    if (members.length > 0) record.detail(`members: ${members.map((m) => `${m.host}:${m.port}`).join(', ')}`);
    return { setName, members };
  });
  return value;
}

/**
 * After the handshake a driver connects to the members the replica set
 * names, not to the hosts of the URI: when those names only mean something
 * inside a container network, every connection after discovery fails.
 */
export async function membersStep(context: DiagnoseContext, facts: HelloFacts, given: readonly HostPort[], directConnection: boolean): Promise<void> {
  const others = facts.members.filter((m) => !given.some((g) => g.host === m.host && g.port === m.port));
  if (others.length === 0) return;
  await context.step('members', async (record) => {
    const results = await Promise.all(others.map(async (member) => ({ member, problem: await reach(member, Math.min(2000, context.timeoutMs)) })));
    for (const { member, problem } of results) record.detail(`${member.host}:${member.port}: ${problem ?? 'reachable'}`);
    const bad = results.filter((r) => r.problem !== undefined);
    record.summary =
      bad.length === 0
        ? `every member the replica set names is reachable from here`
        : `${bad.length} of ${results.length} members are not reachable from here`;
    if (bad.length > 0) {
      record.find(
        'mongodb-unreachable-members',
        directConnection ? 'warning' : 'problem',
        `the replica set '${facts.setName ?? '?'}' names ${bad.map((b) => `${b.member.host}:${b.member.port} (${b.problem ?? ''})`).join(', ')}`,
      );
    }
  });
}

async function reach(member: HostPort, timeoutMs: number): Promise<string | undefined> {
  let address: string;
  try {
    address = (await within(dns.lookup(member.host), timeoutMs, `the lookup of ${member.host}`)).address;
  } catch (error) {
    return `does not resolve (${describeError(error).fault.code})`;
  }
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port: member.port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`${address}: no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(`${address}: ${error.code ?? error.message}`);
    });
  });
}

function hello(
  context: DiagnoseContext,
  target: HostPort,
  address: Address,
  secure: boolean,
  command: 'hello' | 'isMaster',
): Promise<Record<string, BsonValue>> {
  return new Promise((resolve, reject) => {
    const ca = trustedCas(context);
    const servername = net.isIP(target.host) === 0 ? target.host : undefined;
    const socket = secure
      ? tls.connect({
          host: address.address,
          port: target.port,
          ...(servername === undefined ? {} : { servername }),
          ...(ca === undefined ? {} : { ca }),
          rejectUnauthorized: true,
        })
      : net.connect({ host: address.address, port: target.port });
    let buffered = Buffer.alloc(0);
    const finish = (error: Error | undefined, document?: Record<string, BsonValue>): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error !== undefined) reject(error);
      else resolve(document ?? {});
    };
    const timer = setTimeout(
      () => finish(Object.assign(new Error(`no answer to ${command} within ${context.timeoutMs} ms`), { code: 'ETIMEDOUT' })),
      context.timeoutMs,
    );
    socket.once(secure ? 'secureConnect' : 'connect', () => socket.write(opMsg(1, { [command]: 1, $db: 'admin' })));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.subarray(0, 5).toString('latin1') === 'HTTP/')
        return finish(Object.assign(new Error('the server answered with HTTP'), { code: 'NOT_MONGODB' }));
      try {
        const reply = readOpMsg(buffered);
        if (reply !== undefined) finish(undefined, reply.document);
      } catch (error) {
        finish(Object.assign(error as Error, { code: 'NOT_MONGODB' }));
      }
    });
    socket.once('end', () =>
      finish(Object.assign(new Error(`the server closed the connection without answering ${command}`), { code: 'ECONNRESET' })),
    );
    socket.once('error', (error: Error) => finish(error));
  });
}

function helloFailure(record: StepRecord, error: unknown, target: HostPort, secure: boolean): void {
  const { fault, text } = describeError(error);
  record.summary = 'no answer to hello';
  record.detail(text);
  if ((error as { code?: string }).code === 'NOT_MONGODB') {
    record.find('mongodb-not-mongodb', 'problem', `${target.host}:${target.port}: ${text}`);
  } else if (fault.kind === 'tls') {
    record.find('tls-untrusted-ca', 'problem', `${text} — ${fault.hint}`);
  } else if (!secure && (fault.kind === 'connection-reset' || fault.kind === 'closed')) {
    record.find(
      'mongodb-not-mongodb',
      'problem',
      `${text}: a server that requires TLS closes plain connections like this (add tls=true to the URI)`,
      'add tls=true to the URI if the server requires TLS; otherwise check the port (27017 by default)',
    );
  } else {
    record.find('http-reset', 'problem', `${text} — ${fault.hint}`);
  }
}

function text(value: BsonValue | undefined): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint'
    ? String(value)
    : value === undefined
      ? 'undefined'
      : JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
}

function list(value: BsonValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function parseMember(text: string): HostPort | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(text);
  if (match === null) return undefined;
  return { host: match[1] ?? (match[2] as string), port: match[3] === undefined ? 27017 : Number(match[3]) };
}
