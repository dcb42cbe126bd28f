import { type Rule, type RuleTable, RANK_GENERIC, rule, ruleTable } from './rule.js';

/**
 * Certificate verification and handshake failures. Trying again cannot fix a
 * certificate, so none is transient. The fix is always to trust the right CA
 * (`ca` option, NODE_EXTRA_CA_CERTS) or to fix the certificate: never to turn
 * verification off, which would hand the connection to anyone in the path.
 */
const tls = (hint: string) => ({ kind: 'tls', phase: 'connect', transient: false, hint }) as const;

const UNTRUSTED_ISSUER_HINT =
  "the server's certificate is signed by a CA this client does not trust (a private CA or a corporate proxy); pass that CA certificate in the `ca` option or NODE_EXTRA_CA_CERTS";

export const TLS_RULES: RuleTable = ruleTable({
  CERT_HAS_EXPIRED: tls("the server's certificate has expired; renew it on the server (and check this host's clock)"),
  CERT_NOT_YET_VALID: tls(
    "the server's certificate is not valid yet: this host's clock is behind, or the certificate was issued with a future date; fix the clock (NTP) or the certificate",
  ),
  DEPTH_ZERO_SELF_SIGNED_CERT: tls(
    "the server presents a self-signed certificate; pass that certificate (or the CA that signed it) in the client's `ca` option",
  ),
  SELF_SIGNED_CERT_IN_CHAIN: tls(
    "the server's chain ends in a root CA this client does not trust (a private CA or a TLS-inspecting proxy); pass that root in the `ca` option or NODE_EXTRA_CA_CERTS",
  ),
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: tls(
    "the server's certificate cannot be traced to a trusted CA (the server omits its intermediate certificates, or a private CA signed it); serve the full chain, or pass the CA in the `ca` option",
  ),
  UNABLE_TO_GET_ISSUER_CERT: tls(UNTRUSTED_ISSUER_HINT),
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: tls(UNTRUSTED_ISSUER_HINT),
  CERT_UNTRUSTED: tls(UNTRUSTED_ISSUER_HINT),
  CERT_REJECTED: tls(UNTRUSTED_ISSUER_HINT),
  INVALID_CA: tls('a certificate in the chain is not a valid CA certificate; fix the chain the server sends (or the `ca` given to the client)'),
  CERT_SIGNATURE_FAILURE: tls('a certificate signature does not verify (a corrupted or mismatched chain); fix the chain the server sends'),
  CERT_REVOKED: tls("the server's certificate has been revoked; the server must get a new one"),
  PATH_LENGTH_EXCEEDED: tls("the server's chain is longer than its CA allows; fix the chain the server sends"),
  INVALID_PURPOSE: tls("the server's certificate is not issued for TLS server use; issue one with the serverAuth purpose"),
  HOSTNAME_MISMATCH: tls(
    'the certificate does not name the host connected to; connect by a name the certificate lists, or reissue it with that name',
  ),
  ERR_TLS_CERT_ALTNAME_INVALID: tls(
    'the certificate does not name the host connected to (its subjectAltName lists other names); connect by a listed name (set `servername` when connecting by IP), or reissue the certificate',
  ),
  ERR_TLS_CERT_ALTNAME_FORMAT: tls("the certificate's subjectAltName is malformed; reissue the certificate"),
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: tls(
    'the server rejected the handshake: no TLS version or cipher both sides accept, or it requires a client certificate; align minVersion/ciphers, or configure `cert` and `key`',
  ),
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: tls(
    'the server does not accept the TLS versions this client offers; align minVersion/maxVersion on both sides',
  ),
  ERR_SSL_UNSUPPORTED_PROTOCOL: tls('the peer only speaks a TLS version this client refuses (too old); upgrade the server, or align minVersion'),
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: tls('no TLS version is left between minVersion and maxVersion; fix those options'),
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: tls(
    "the server does not trust this client's certificate (mutual TLS); use a client `cert` signed by a CA the server trusts",
  ),
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: tls("the server rejected this client's certificate (mutual TLS); configure a valid client `cert` and `key`"),
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: tls('the server requires a client certificate (mutual TLS); configure `cert` and `key`'),
  ERR_TLS_HANDSHAKE_TIMEOUT: {
    kind: 'timeout',
    phase: 'connect',
    transient: true,
    hint: 'the TLS handshake did not finish in time (an overloaded server, or the port does not speak TLS); retry with backoff, and check that the port serves TLS',
  },
});

/** An OpenSSL or Node TLS code no table row names: a TLS fault all the same. */
export const TLS_OTHER: Rule = rule('ERR_SSL', {
  kind: 'tls',
  phase: 'connect',
  transient: false,
  rank: RANK_GENERIC,
  hint: "the TLS handshake failed; compare both sides' TLS versions, ciphers and certificates (`openssl s_client -connect host:port` shows what the server offers)",
});

/** Codes that are TLS by their shape: OpenSSL reason codes and the verification codes. */
export function isTlsCode(code: string): boolean {
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('CERT_') || code.startsWith('UNABLE_TO_');
}
