import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A collector certificate signed by a throwaway CA, made at test time with
 * the openssl CLI, so no key material lives in the repository. The server
 * certificate names 127.0.0.1, which is where the tests connect.
 */
export interface TestCertificates {
  readonly dir: string;
  /** Path of the CA certificate, as OTEL_EXPORTER_OTLP_CERTIFICATE takes it. */
  readonly caFile: string;
  readonly serverKey: Buffer;
  readonly serverCert: Buffer;
  /** The CA certificate itself, for a server that verifies client certificates. */
  readonly ca: Buffer;
  /** Paths of a client key and certificate signed by the same CA (mutual TLS), as OTEL_EXPORTER_OTLP_CLIENT_KEY / _CLIENT_CERTIFICATE take them. */
  readonly clientKeyFile: string;
  readonly clientCertFile: string;
  remove(): Promise<void>;
}

const run = promisify(execFile);

export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'holdfast-otlp-certs-'));
  const openssl = (args: string[]) => run('openssl', args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=holdfast otlp test CA']);
  await openssl(['req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  await run('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n" > server.ext'], { cwd: dir });
  await openssl([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '1',
    '-extfile',
    'server.ext',
  ]);
  await openssl(['req', '-new', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=holdfast otlp test client']);
  await run('sh', ['-c', 'printf "extendedKeyUsage=clientAuth\\nbasicConstraints=CA:FALSE\\n" > client.ext'], { cwd: dir });
  await openssl([
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.crt',
    '-days',
    '1',
    '-extfile',
    'client.ext',
  ]);
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    serverKey: await readFile(join(dir, 'server.key')),
    serverCert: await readFile(join(dir, 'server.crt')),
    ca: await readFile(join(dir, 'ca.crt')),
    clientKeyFile: join(dir, 'client.key'),
    clientCertFile: join(dir, 'client.crt'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
