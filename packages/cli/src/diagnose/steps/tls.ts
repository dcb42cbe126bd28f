import { isIP } from 'node:net';
import tls from 'node:tls';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { DiagnoseContext } from '../context.js';
import type { StepRecord } from '../step.js';
import { describeError, round } from '../step.js';
import type { Address } from './dns.js';

const EXPIRES_SOON_DAYS = 14;
const DAY_MS = 86_400_000;

export interface TlsFacts {
  /** A verifying client would accept this server (chain, dates, name). */
  readonly trusted: boolean;
  readonly alpn: string | false;
  readonly protocol: string | null;
}

/** The CAs a client of this run trusts: the system's, plus --ca (plus NODE_EXTRA_CA_CERTS, which Node adds itself). */
export function trustedCas(context: DiagnoseContext): (string | Buffer)[] | undefined {
  return context.extraCas.length === 0 ? undefined : [...tls.rootCertificates, ...context.extraCas];
}

/**
 * The TLS handshake as a client would do it, and the certificate it gets.
 * The handshake is made without letting a verification failure abort it, so
 * that the certificate can be shown (its names, dates, issuer) the way
 * `openssl s_client` shows it; nothing is sent over that connection and it is
 * closed at once. The verdict is what a verifying client would decide, and
 * the steps after this one (HTTP, WebSocket…) only run, verifying, when it
 * would succeed.
 */
export async function tlsStep(
  context: DiagnoseContext,
  host: string,
  port: number,
  address: Address,
  alpn: readonly string[] = [],
  name = 'tls',
): Promise<TlsFacts | undefined> {
  const { value } = await context.step(name, async (record) => {
    if (context.env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
      record.find(
        'tls-verification-disabled',
        'warning',
        'NODE_TLS_REJECT_UNAUTHORIZED=0 is set in this environment: every TLS client of the process accepts any certificate',
      );
    }
    const servername = isIP(host) === 0 ? host : undefined;
    const t0 = performance.now();
    let socket: TLSSocket;
    try {
      socket = await handshake(address, port, servername, alpn, trustedCas(context), context.timeoutMs);
    } catch (error) {
      handshakeFailure(record, error, host, port);
      return undefined;
    }
    const ms = performance.now() - t0;
    try {
      const cert = socket.getPeerCertificate(true);
      const protocol = socket.getProtocol();
      const cipher = socket.getCipher();
      const negotiated = socket.alpnProtocol;
      record.data.protocol = protocol;
      record.data.cipher = cipher.name;
      record.data.alpn = negotiated;
      record.detail(
        `${protocol ?? 'TLS'}, ${cipher.name}${negotiated === false || negotiated === null ? '' : `, ALPN ${negotiated}`} (${round(ms)} ms)`,
      );
      let trusted = socket.authorized;
      if (Object.keys(cert).length === 0) {
        record.summary = 'the server sent no certificate';
        record.find('tls-handshake-reset', 'problem', 'no certificate in the handshake');
        return { trusted: false, alpn: negotiated ?? false, protocol };
      }
      describeCertificate(record, cert);
      if (protocol === 'TLSv1' || protocol === 'TLSv1.1') record.find('tls-old-protocol', 'warning', `the server negotiated ${protocol}`);
      trusted = checkChain(record, socket, cert, servername ?? host) && trusted;
      record.summary = trusted
        ? `${protocol ?? 'TLS'}, certificate valid for ${servername ?? host}`
        : 'a verifying client would refuse this certificate';
      record.data.trusted = trusted;
      return { trusted, alpn: negotiated ?? false, protocol };
    } finally {
      socket.destroy();
    }
  });
  return value;
}

function handshake(
  address: Address,
  port: number,
  servername: string | undefined,
  alpn: readonly string[],
  ca: (string | Buffer)[] | undefined,
  timeoutMs: number,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: address.address,
      port,
      ...(servername === undefined ? {} : { servername }),
      ...(alpn.length === 0 ? {} : { ALPNProtocols: [...alpn] }),
      ...(ca === undefined ? {} : { ca }),
      // Inspection only: the certificate is judged below exactly as a verifying client would, and no data is sent.
      rejectUnauthorized: false,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`the TLS handshake did not complete within ${timeoutMs} ms`), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

function handshakeFailure(record: StepRecord, error: unknown, host: string, port: number): void {
  const { fault, text } = describeError(error);
  const message = error instanceof Error ? error.message : String(error);
  record.summary = 'the TLS handshake failed';
  record.detail(text);
  if (/wrong version number|packet length too long|unknown protocol|http request/i.test(message) || fault.code === 'EPROTO') {
    record.find('not-tls', 'problem', `${host}:${port} answered the TLS handshake with something else (${text})`);
  } else if (/certificate required|CERTIFICATE_REQUIRED|alert bad certificate|alert unknown ca/i.test(`${fault.code} ${message}`)) {
    record.find('tls-client-certificate', 'problem', text);
  } else {
    record.find('tls-handshake-reset', 'problem', `${text}${fault.hint === '' ? '' : ` — ${fault.hint}`}`);
  }
}

function describeCertificate(record: StepRecord, cert: DetailedPeerCertificate): void {
  const subject = nameOf(cert.subject);
  const issuer = nameOf(cert.issuer);
  const validTo = new Date(cert.valid_to);
  const days = Math.floor((validTo.getTime() - Date.now()) / DAY_MS);
  record.detail(
    `certificate: ${subject}, issued by ${issuer}; valid ${new Date(cert.valid_from).toISOString().slice(0, 10)} to ${validTo.toISOString().slice(0, 10)} (${days >= 0 ? `${days} days left` : `expired ${-days} days ago`})`,
  );
  if (cert.subjectaltname !== undefined) record.detail(`names: ${cert.subjectaltname}`);
  record.data.certificate = {
    subject,
    issuer,
    validFrom: cert.valid_from,
    validTo: cert.valid_to,
    names: cert.subjectaltname,
    fingerprint256: cert.fingerprint256,
  };
  // Undefined past the last certificate the server sent (Node's types say otherwise).
  let link = cert.issuerCertificate as DetailedPeerCertificate | undefined;
  const chain: string[] = [];
  let previous = cert;
  while (link !== undefined && link !== previous && chain.length < 8) {
    chain.push(nameOf(link.subject));
    previous = link;
    link = link.issuerCertificate;
  }
  if (chain.length > 0) record.detail(`chain: ${[subject, ...chain].join(' ← ')}`);
}

/** What a verifying client decides, each reason a finding of its own. Returns whether it would accept. */
function checkChain(record: StepRecord, socket: TLSSocket, cert: DetailedPeerCertificate, name: string): boolean {
  const now = Date.now();
  const validFrom = new Date(cert.valid_from).getTime();
  const validTo = new Date(cert.valid_to).getTime();
  let ok = true;
  // Node stores the verification error's code here (a string), null when verified; its types say Error.
  const raw: unknown = socket.authorizationError;
  const code = typeof raw === 'string' ? raw : raw instanceof Error ? ((raw as NodeJS.ErrnoException).code ?? raw.message) : undefined;
  if (code !== undefined) record.detail(`verification: ${code}`);
  const selfSigned = code === 'DEPTH_ZERO_SELF_SIGNED_CERT';
  if (selfSigned) {
    ok = false;
    record.find('tls-self-signed', 'problem', `${name} presents a self-signed certificate (${nameOf(cert.subject)})`);
  } else if (
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT' ||
    code === 'CERT_UNTRUSTED'
  ) {
    ok = false;
    record.find('tls-untrusted-ca', 'problem', `${code}: the chain ends in a CA this machine does not trust (${nameOf(cert.issuer)})`);
  } else if (code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') {
    ok = false;
    record.find(
      'tls-unknown-issuer',
      'problem',
      `${code}: ${name}'s certificate (issued by ${nameOf(cert.issuer)}) cannot be traced to a CA this machine trusts`,
    );
  }
  if (validTo < now) {
    ok = false;
    record.find('tls-expired', 'problem', `the certificate expired on ${new Date(validTo).toISOString().slice(0, 10)}`);
  } else if (validFrom > now) {
    ok = false;
    record.find('tls-not-yet-valid', 'problem', `the certificate is valid from ${new Date(validFrom).toISOString().slice(0, 10)}`);
  } else if (validTo - now < EXPIRES_SOON_DAYS * DAY_MS) {
    record.find('tls-expiring-soon', 'warning', `the certificate expires on ${new Date(validTo).toISOString().slice(0, 10)}`);
  }
  const identity = tls.checkServerIdentity(name, cert);
  if (identity !== undefined) {
    ok = false;
    record.find('tls-hostname-mismatch', 'problem', identity.message);
  }
  if (ok && code !== undefined && code !== 'ERR_TLS_CERT_ALTNAME_INVALID' && code !== 'CERT_HAS_EXPIRED' && code !== 'CERT_NOT_YET_VALID') {
    // A verification error none of the rules above names.
    ok = false;
    record.find('tls-untrusted-ca', 'problem', `the certificate does not verify: ${code}`);
  }
  if (ok) record.detail(`verified: the chain, the dates, and the name ${name}`);
  return ok;
}

/** A certificate name as people read it: its CN, else its organisation, else every field. */
function nameOf(fields: Readonly<Record<string, string | string[] | undefined>>): string {
  const text = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(', ') : v);
  return text(fields.CN) ?? text(fields.O) ?? Object.values(fields).map(text).join(', ');
}
