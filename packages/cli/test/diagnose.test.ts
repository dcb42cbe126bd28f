import { createChaosProxy } from '@holdfast/chaos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diagnose, main } from '../src/index.js';
import type { DiagnoseReport } from '../src/index.js';
import { makeCertificates } from './support/certs.js';
import type { TestCertificates } from './support/certs.js';
import { captureIo } from './support/io.js';
import { startHttp, startHttps, startResetOnData, startSilentIdleServer } from './support/servers.js';
import type { Started } from './support/servers.js';

/** `verdict cause` of every finding, in order. */
const causes = (report: DiagnoseReport): string[] => report.findings.map((f) => `${f.verdict} ${f.cause}`);
const step = (report: DiagnoseReport, name: string) => report.steps.find((s) => s.step === name);

const QUICK = { timeoutMs: 2000, idleWaitMs: 1500, env: {} };

let certs: TestCertificates;
beforeAll(async () => {
  certs = await makeCertificates();
}, 30_000);
afterAll(() => certs.remove());

async function using<T extends Started>(server: Promise<T>, body: (s: T) => Promise<void>): Promise<void> {
  const s = await server;
  try {
    await body(s);
  } finally {
    await s.close();
  }
}

describe('connections that fail before any protocol', () => {
  it('nothing listening: connection-refused, with the address', async () => {
    const probe = await startHttp();
    await probe.close();
    const report = await diagnose(`http://127.0.0.1:${probe.port}/`, QUICK);
    expect(causes(report)).toEqual(['problem connection-refused']);
    expect(report.verdict).toBe('problem');
    expect(report.findings[0]?.seen).toMatch(/ECONNREFUSED/);
    expect(report.steps.map((s) => s.step)).toEqual(['dns', 'tcp']);
  });

  it('a name that does not resolve: dns-not-found', async () => {
    const report = await diagnose('http://holdfast-diagnose-test.invalid/', QUICK);
    expect(causes(report)[0]).toMatch(/^problem dns-(not-found|unavailable)$/);
    expect(report.steps.map((s) => s.step)).toEqual(['dns']);
  });

  it('the chaos proxy resetting every connection it accepts: reset-on-connect', async () => {
    await using(startHttp(), async (server) => {
      const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: server.port } });
      await proxy.disable({ mode: 'reset' });
      try {
        const report = await diagnose(`http://${proxy.address}/`, QUICK);
        expect(causes(report)).toEqual(['problem reset-on-connect']);
        expect(report.findings[0]?.seen).toMatch(/reset .*\(ECONNRESET\)/);
      } finally {
        await proxy.close();
      }
    });
  });

  it('a stalled path (the chaos proxy drops the request): http-timeout', async () => {
    await using(startHttp(), async (server) => {
      const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: server.port } });
      proxy.addToxic({ type: 'timeout', stream: 'upstream', attributes: { timeout: 0 } });
      try {
        const report = await diagnose(`http://${proxy.address}/`, { ...QUICK, timeoutMs: 800 });
        expect(causes(report)).toEqual(['problem http-timeout']);
        expect(step(report, 'tcp')?.verdict).toBe('ok');
      } finally {
        await proxy.close();
      }
    });
  });

  it('a server that resets the request: http-reset, with the hint', async () => {
    await using(startResetOnData(), async (server) => {
      const report = await diagnose(`http://127.0.0.1:${server.port}/`, QUICK);
      expect(causes(report)).toEqual(['problem http-reset']);
      expect(report.findings[0]?.seen).toMatch(/ECONNRESET/);
    });
  });
});

describe('TLS', () => {
  it('a self-signed certificate: tls-self-signed; the fix names the ca option and NODE_EXTRA_CA_CERTS, never turning verification off', async () => {
    await using(startHttps(certs.selfSigned), async (server) => {
      const report = await diagnose(`https://127.0.0.1:${server.port}/`, QUICK);
      expect(causes(report)).toEqual(['problem tls-self-signed']);
      const fix = report.findings[0]?.fix ?? '';
      expect(fix).toMatch(/`ca` option/);
      expect(fix).toMatch(/NODE_EXTRA_CA_CERTS/);
      expect(fix).toMatch(/never NODE_TLS_REJECT_UNAUTHORIZED=0/);
      // A verifying client stops at the certificate, so does diagnose.
      expect(step(report, 'http')?.verdict).toBe('skipped');

      const trusted = await diagnose(`https://127.0.0.1:${server.port}/`, { ...QUICK, ca: certs.selfSigned.cert });
      expect(causes(trusted)).toEqual([]);
      expect(step(trusted, 'http')?.summary).toMatch(/HTTP\/1.1 200/);
    });
  });

  it('an expired certificate: tls-expired, even from a trusted CA', async () => {
    await using(startHttps(certs.expired), async (server) => {
      const report = await diagnose(`https://127.0.0.1:${server.port}/`, { ...QUICK, ca: certs.valid.cert.length > 0 ? await readCa() : undefined });
      expect(causes(report)).toEqual(['problem tls-expired']);
      expect(report.findings[0]?.seen).toMatch(/expired on \d{4}-\d\d-\d\d/);
    });
  });

  it('a certificate from a CA this machine does not know: tls-unknown-issuer; trusted with --ca', async () => {
    await using(startHttps(certs.valid), async (server) => {
      expect(causes(await diagnose(`https://127.0.0.1:${server.port}/`, QUICK))).toEqual(['problem tls-unknown-issuer']);
      expect(causes(await diagnose(`https://127.0.0.1:${server.port}/`, { ...QUICK, ca: await readCa() }))).toEqual([]);
    });
  });

  it('a certificate that expires in 3 days: a warning, the request still made', async () => {
    await using(startHttps(certs.expiringSoon), async (server) => {
      const report = await diagnose(`https://127.0.0.1:${server.port}/`, { ...QUICK, ca: await readCa() });
      expect(causes(report)).toEqual(['warning tls-expiring-soon']);
      expect(step(report, 'http')?.verdict).toBe('ok');
    });
  });

  it('an OTLP collector over https: trusted through OTEL_EXPORTER_OTLP_CERTIFICATE, as the exporters are', async () => {
    await using(
      startHttps(certs.valid, (req, res) => {
        req.resume();
        req.on('end', () =>
          res.writeHead(req.method === 'POST' && req.url === '/v1/traces' ? 200 : 404, { 'content-type': 'application/x-protobuf' }).end(),
        );
      }),
      async (server) => {
        const env = { OTEL_EXPORTER_OTLP_ENDPOINT: `https://127.0.0.1:${server.port}` };
        const untrusted = await diagnose('otlp', { ...QUICK, env });
        expect(causes(untrusted)).toEqual(['problem tls-unknown-issuer']);
        expect(step(untrusted, 'export')?.summary).toMatch(/skipped: the collector certificate is not trusted/);
        const trusted = await diagnose('otlp', { ...QUICK, env: { ...env, OTEL_EXPORTER_OTLP_CERTIFICATE: certs.caFile } });
        expect(causes(trusted)).toEqual([]);
        expect(step(trusted, 'export')?.summary).toMatch(/accepted an empty http\/protobuf export \(HTTP 200/);
      },
    );
  });

  it('a certificate for another name: tls-hostname-mismatch', async () => {
    await using(startHttps(certs.otherName), async (server) => {
      const report = await diagnose(`https://127.0.0.1:${server.port}/`, { ...QUICK, ca: await readCa() });
      expect(causes(report)).toEqual(['problem tls-hostname-mismatch']);
      expect(report.findings[0]?.seen).toMatch(/127\.0\.0\.1/);
    });
  });

  it('https:// to a plain HTTP port: not-tls', async () => {
    await using(startHttp(), async (server) => {
      expect(causes(await diagnose(`https://127.0.0.1:${server.port}/`, QUICK))).toEqual(['problem not-tls']);
    });
  });

  it('a server that resets the TLS handshake: tls-handshake-reset', async () => {
    await using(startResetOnData(), async (server) => {
      const report = await diagnose(`https://127.0.0.1:${server.port}/`, QUICK);
      expect(causes(report)).toEqual(['problem tls-handshake-reset']);
      expect(step(report, 'tcp')?.verdict).toBe('ok');
    });
  });

  it('warns when NODE_TLS_REJECT_UNAUTHORIZED=0 is set', async () => {
    await using(startHttps(certs.valid), async (server) => {
      const report = await diagnose(`https://127.0.0.1:${server.port}/`, {
        ...QUICK,
        ca: await readCa(),
        env: { NODE_TLS_REJECT_UNAUTHORIZED: '0' },
      });
      expect(causes(report)).toEqual(['warning tls-verification-disabled']);
    });
  });
});

describe('HTTP keep-alive', () => {
  it('a 1 s keep-alive timeout (announced): a warning, the idle close measured', async () => {
    await using(startHttp({ keepAliveTimeout: 1000 }), async (server) => {
      const report = await diagnose(`http://127.0.0.1:${server.port}/`, { ...QUICK, idleWaitMs: 4000 });
      expect(causes(report)).toEqual(['warning keep-alive-race']);
      const keepAlive = step(report, 'http')?.data.keepAlive as { hintMs: number; closedAfterMs: number };
      expect(keepAlive.hintMs).toBe(1000);
      // Node closes an idle connection after keepAliveTimeout (its timer may fire a little late on a busy machine).
      expect(keepAlive.closedAfterMs).toBeGreaterThanOrEqual(900);
      expect(keepAlive.closedAfterMs).toBeLessThan(3500);
    });
  });

  it('idle connections closed after 1 s without saying so: a problem, fetch and http.Agent race it', async () => {
    await using(startSilentIdleServer(1000), async (server) => {
      const report = await diagnose(`http://127.0.0.1:${server.port}/`, { ...QUICK, idleWaitMs: 4000 });
      expect(causes(report)).toEqual(['problem keep-alive-race']);
      expect(report.findings[0]?.seen).toMatch(/without announcing it; fetch \/ undici, Node's http.Agent .*, @holdfast\/http keep them longer/);
    });
  });

  it("Node's default server (5 s, announced) is fine: nothing closes within the wait", async () => {
    await using(startHttp(), async (server) => {
      const report = await diagnose(`http://127.0.0.1:${server.port}/`, QUICK);
      expect(causes(report)).toEqual([]);
      expect(report.verdict).toBe('ok');
      expect(step(report, 'http')?.details.join('\n')).toMatch(/Keep-Alive: timeout=5/);
    });
  });

  it('a 503 is a warning; a server that closes after each response is fine', async () => {
    await using(startHttp({ handler: (_req, res) => res.writeHead(503, { connection: 'close' }).end('busy') }), async (server) => {
      const report = await diagnose(`http://127.0.0.1:${server.port}/`, QUICK);
      expect(causes(report)).toEqual(['warning http-server-error']);
      expect(step(report, 'http')?.details.join('\n')).toMatch(/no keep-alive/);
    });
  });
});

describe('the command', () => {
  it('prints the steps and the findings, exits 1 on a problem, and never prints a credential', async () => {
    await using(startSilentIdleServer(800), async (server) => {
      const c = captureIo();
      const code = await main(
        [
          'diagnose',
          `http://admin:hunter2@127.0.0.1:${server.port}/orders?token=s3cr3t&page=2`,
          '--header',
          'Authorization: Bearer abc.def',
          '--idle-wait',
          '3000',
          '--timeout',
          '2000',
        ],
        c.io,
      );
      expect(code).toBe(1);
      const out = c.stdout() + c.stderr();
      expect(out).toMatch(/✗ problem {2}The server closes idle connections before clients stop reusing them/);
      expect(out).toMatch(/\[keep-alive-race\]/);
      for (const secret of ['hunter2', 's3cr3t', 'abc.def', 'admin:']) expect(out).not.toContain(secret);

      const json = captureIo();
      expect(await main(['diagnose', `http://admin:hunter2@127.0.0.1:${server.port}/?token=s3cr3t`, '--json', '--idle-wait', '3000'], json.io)).toBe(
        1,
      );
      const report = JSON.parse(json.stdout()) as DiagnoseReport;
      expect(report.target).toBe(`http://[redacted]@127.0.0.1:${server.port}/?token=[redacted]`);
      expect(json.stdout() + json.stderr()).not.toMatch(/hunter2|s3cr3t/);
    });
  });

  it('exits 0 with only warnings, and 2 for a target it cannot read', async () => {
    await using(startHttp({ keepAliveTimeout: 1000 }), async (server) => {
      const c = captureIo();
      expect(await main(['diagnose', `http://127.0.0.1:${server.port}/`, '--idle-wait', '3000'], c.io)).toBe(0);
      expect(c.stdout()).toMatch(/! no problem, 1 warning/);
    });
    for (const args of [
      ['ftp://x/'],
      [],
      ['tcp://host'],
      ['http://x/', '--protocol', 'grpc'],
      ['otlp', '--protocol', 'carrier-pigeon'],
      ['http://x/', '--ca', '/nonexistent'],
    ]) {
      const c = captureIo();
      expect(await main(['diagnose', ...args], c.io)).toBe(2);
      expect(c.stderr()).toMatch(/usage: holdfast diagnose/);
    }
  });
});

async function readCa(): Promise<Buffer> {
  const { readFile } = await import('node:fs/promises');
  return readFile(certs.caFile);
}

describe('diagnose() as a function', () => {
  it('checks its options as every holdfast object does, and refuses a target it cannot read with a TypeError', async () => {
    await expect(diagnose('http://127.0.0.1:1/', { timeoutMS: 5 } as never)).rejects.toThrow(
      /diagnose: unknown option 'timeoutMS' \(did you mean timeoutMs\?\)/,
    );
    await expect(diagnose('http://127.0.0.1:1/', { protocol: 'http' as never })).rejects.toThrow(RangeError);
    await expect(diagnose('gopher://old.example/')).rejects.toThrow(TypeError);
  });
});

describe('diagnose() stopped by its signal', () => {
  it('runs no step once the signal aborted, and says so', async () => {
    const controller = new AbortController();
    controller.abort();
    const report = await diagnose('http://127.0.0.1:1/', { ...QUICK, signal: controller.signal });
    expect(report.steps.map((s) => `${s.step} ${s.verdict} ${s.summary}`)).toEqual([
      'dns skipped 127.0.0.1 is an address: no lookup',
      'tcp skipped skipped: stopped',
    ]);
    expect(report.verdict).toBe('ok');
  });
});
