import { promises as dns } from 'node:dns';
import { redactText } from '@holdfast/core';
import { checkOptions, rule } from '@holdfast/core/internal';
import { DiagnoseContext } from './context.js';
import type { DiagnoseOptions, StepObserver } from './context.js';
import type { DiagnoseReport } from './report.js';
import { worst } from './report.js';
import { describeError, within } from './step.js';
import { dnsStep } from './steps/dns.js';
import type { Address } from './steps/dns.js';
import { httpStep } from './steps/http.js';
import { helloStep, membersStep } from './steps/mongodb.js';
import type { HelloFacts } from './steps/mongodb.js';
import { otlpConfigStep, otlpExportStep } from './steps/otlp.js';
import { tcpStep } from './steps/tcp.js';
import { tlsStep } from './steps/tls.js';
import { websocketStep } from './steps/websocket.js';
import type { HostPort, Target } from './target.js';
import { parseTarget, portOf, TARGET_FORMS } from './target.js';

const MAX_MONGODB_HOSTS = 3;

const RULES = {
  timeoutMs: rule.timerMs(1),
  idleWaitMs: rule.timerMs(0),
  ca: {
    test: (v: unknown) => (typeof v === 'string' && v.includes('-----BEGIN')) || Buffer.isBuffer(v),
    accepted: 'a PEM certificate (a string or a Buffer)',
  },
  headers: rule.object('an object of header names to string values'),
  endpoint: rule.string(),
  protocol: rule.oneOf(['grpc', 'http/protobuf', 'http/json']),
  env: rule.object('an object like process.env'),
  signal: rule.signal(),
};

/**
 * Diagnoses one target, step by step (each shown to `observer` as it starts
 * and ends), and returns what every step found. Never throws for a network
 * failure: that is what it reports. A target it cannot read is a UsageError.
 */
export async function diagnose(target: string, options: DiagnoseOptions = {}, observer: StepObserver = {}): Promise<DiagnoseReport> {
  checkOptions('diagnose', options, RULES);
  if (typeof target !== 'string') throw new TypeError(`diagnose: 'target' must be a string (${TARGET_FORMS})`);
  const parsed = parseTarget(target);
  const context = new DiagnoseContext(options, observer);
  await run(context, parsed);
  const findings = context.steps.flatMap((s) => s.findings);
  return {
    target: redactText(target),
    kind: parsed.kind,
    verdict: worst(context.steps.map((s) => s.verdict)),
    steps: context.steps,
    findings,
  };
}

async function run(context: DiagnoseContext, target: Target): Promise<void> {
  switch (target.kind) {
    case 'http':
    case 'websocket': {
      const host = target.url.hostname.replace(/^\[|\]$/g, '');
      const port = portOf(target.url, target.secure);
      const open = await reach(context, host, port);
      if (open === undefined) return;
      if (target.secure) {
        const facts = await tlsStep(context, host, port, open, target.kind === 'http' ? ['h2', 'http/1.1'] : ['http/1.1']);
        if (facts?.trusted !== true) {
          context.skip(
            target.kind,
            facts === undefined
              ? 'skipped: no TLS connection'
              : 'skipped: a verifying client stops at the certificate (fix it, or re-run with --ca <file>)',
          );
          return;
        }
      }
      if (target.kind === 'http') await httpStep(context, target.url, open, target.secure);
      else await websocketStep(context, target.url, open);
      return;
    }
    case 'tcp': {
      const open = await reach(context, target.host, target.port);
      if (open !== undefined && target.secure) await tlsStep(context, target.host, target.port, open);
      return;
    }
    case 'mongodb': {
      const hosts = target.srvName === undefined ? target.hosts : await srvStep(context, target.srvName);
      let facts: HelloFacts | undefined;
      for (const host of hosts.slice(0, MAX_MONGODB_HOSTS)) {
        const suffix = hosts.length > 1 ? ` ${host.host}:${host.port}` : '';
        const open = await reach(context, host.host, host.port, suffix);
        if (open === undefined) continue;
        if (target.secure) {
          const tls = await tlsStep(context, host.host, host.port, open, [], `tls${suffix}`);
          if (tls?.trusted !== true) continue;
        }
        facts ??= await helloStep(context, `hello${suffix}`, host, open, target.secure);
      }
      if (facts !== undefined && !target.directConnection) await membersStep(context, facts, hosts, target.directConnection);
      return;
    }
    case 'otlp': {
      const connection = await otlpConfigStep(context);
      if (connection === undefined) return;
      const url = new URL(connection.url);
      const secure = url.protocol === 'https:';
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const port = portOf(url, secure);
      const open = await reach(context, host, port);
      if (open === undefined) return;
      if (secure) {
        const tls = await tlsStep(context, host, port, open, connection.protocol === 'grpc' ? ['h2'] : ['http/1.1']);
        if (tls?.trusted !== true) {
          context.skip('export', 'skipped: the collector certificate is not trusted (OTEL_EXPORTER_OTLP_CERTIFICATE, or --ca)');
          return;
        }
      }
      await otlpExportStep(context, connection, open);
      return;
    }
  }
}

/** DNS then TCP; the first address that accepted, or undefined (the steps say why). */
async function reach(context: DiagnoseContext, host: string, port: number, suffix = ''): Promise<Address | undefined> {
  const addresses = await dnsStep(context, host, suffix);
  if (addresses.length === 0) return undefined;
  const open = await tcpStep(context, host, port, addresses, suffix);
  return open[0];
}

/** `mongodb+srv://name`: the hosts are the SRV records of `_mongodb._tcp.name`. */
async function srvStep(context: DiagnoseContext, name: string): Promise<HostPort[]> {
  const { value } = await context.step('srv', async (record) => {
    try {
      const records = await within(dns.resolveSrv(`_mongodb._tcp.${name}`), context.timeoutMs, `the SRV lookup of ${name}`);
      const hosts = records.map((r) => ({ host: r.name, port: r.port }));
      record.summary = `_mongodb._tcp.${name} → ${hosts.map((h) => `${h.host}:${h.port}`).join(', ')}`;
      return hosts;
    } catch (error) {
      const { fault, text } = describeError(error);
      record.summary = `no SRV record for _mongodb._tcp.${name}`;
      record.find(fault.code === 'ENOTFOUND' || fault.code === 'ENODATA' ? 'dns-not-found' : 'dns-unavailable', 'problem', text);
      return [];
    }
  });
  return value ?? [];
}
