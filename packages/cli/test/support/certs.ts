import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Certificates made at test time with the openssl CLI (no key material in the
 * repository): a throwaway CA; a server certificate it signed for 127.0.0.1
 * and localhost; one it signed that expired yesterday (`-days -1`); one that
 * expires in 3 days; one that names only another host; and a self-signed one.
 */
export interface TestCertificates {
  readonly dir: string;
  /** Path of the CA certificate, as --ca and NODE_EXTRA_CA_CERTS take it. */
  readonly caFile: string;
  readonly valid: KeyPair;
  readonly expired: KeyPair;
  /** Valid for 3 more days. */
  readonly expiringSoon: KeyPair;
  readonly otherName: KeyPair;
  readonly selfSigned: KeyPair & { readonly certFile: string };
  remove(): Promise<void>;
}

export interface KeyPair {
  readonly key: Buffer;
  readonly cert: Buffer;
}

export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'holdfast-cli-certs-'));
  const openssl = (args: string[]) => run('openssl', args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=holdfast cli test CA']);
  const signed = async (name: string, san: string, days: string): Promise<KeyPair> => {
    await openssl(['req', '-new', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    await writeFile(join(dir, `${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
    await openssl([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      days,
      '-extfile',
      `${name}.ext`,
    ]);
    return { key: await readFile(join(dir, `${name}.key`)), cert: await readFile(join(dir, `${name}.crt`)) };
  };
  const valid = await signed('valid', 'IP:127.0.0.1,DNS:localhost', '30');
  const expired = await signed('expired', 'IP:127.0.0.1,DNS:localhost', '-1');
  const expiringSoon = await signed('soon', 'IP:127.0.0.1,DNS:localhost', '3');
  const otherName = await signed('other', 'DNS:collector.example', '30');
  await openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'self.key',
    '-out',
    'self.crt',
    '-days',
    '30',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    valid,
    expired,
    expiringSoon,
    otherName,
    selfSigned: { key: await readFile(join(dir, 'self.key')), cert: await readFile(join(dir, 'self.crt')), certFile: join(dir, 'self.crt') },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
