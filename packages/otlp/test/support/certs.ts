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
  await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'server.ext']);
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    serverKey: await readFile(join(dir, 'server.key')),
    serverCert: await readFile(join(dir, 'server.crt')),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
