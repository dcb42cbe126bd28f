import { type Rule, type RuleTable, rule, ruleTable } from './rule.js';
import { readString } from './safe-read.js';

/**
 * Name resolution: `getaddrinfo` (dns.lookup, what net/http/undici use) and
 * c-ares (dns.resolve*). Resolution happens before any connection, so every
 * DNS fault is in the connect phase: nothing reached the peer.
 */
const NOT_FOUND_HINT =
  'the hostname does not resolve (a typo, a missing DNS record, or a service name only resolvable inside another network/container); fix the hostname or the DNS record';
const RESOLVER_DOWN_HINT =
  'the DNS resolver did not answer or failed temporarily; retry with backoff, and check the resolver (/etc/resolv.conf, the DNS server) if it persists';

const dns = (transient: boolean, hint: string) => ({ kind: 'dns', phase: 'connect', transient, hint }) as const;

const RESOLVER_REFUSED: Rule = rule('ECONNREFUSED', dns(true, RESOLVER_DOWN_HINT));

export const DNS_RULES: RuleTable = ruleTable({
  // c-ares reuses ECONNREFUSED for "could not reach the DNS server"; its
  // syscall (queryA, getaddrinfo…) tells it apart from a refused TCP connect.
  ECONNREFUSED: (error) => {
    const syscall = readString(error, 'syscall');
    return syscall !== undefined && (syscall.startsWith('query') || syscall.startsWith('get')) ? RESOLVER_REFUSED : undefined;
  },
  ENOTFOUND: dns(false, NOT_FOUND_HINT),
  EAI_NONAME: dns(false, NOT_FOUND_HINT),
  EAI_AGAIN: dns(true, RESOLVER_DOWN_HINT),
  EAI_FAIL: dns(false, 'the DNS resolver failed permanently for this name; check the DNS configuration'),
  EAI_NODATA: dns(false, 'the name exists but has no address records; add an A/AAAA record or use another name'),
  ENODATA: dns(false, 'the name exists but has no record of the requested type; add the record or query another type'),
  ETIMEOUT: dns(true, RESOLVER_DOWN_HINT),
  ESERVFAIL: dns(
    true,
    'the DNS server failed to answer for this name (its upstream is down or DNSSEC failed); retry with backoff, check the DNS server',
  ),
  EREFUSED: dns(false, 'the DNS server refused the query (it does not serve this client or this zone); point the resolver at a DNS server that does'),
  EBADRESP: dns(true, 'the DNS server sent a malformed answer; retry, and check the DNS server or what sits between'),
  EBADNAME: dns(false, 'the hostname is not a valid DNS name; fix the hostname'),
  ENONAME: dns(false, NOT_FOUND_HINT),
  ECANCELLED: {
    kind: 'aborted',
    phase: 'connect',
    transient: false,
    hint: 'the DNS query was cancelled by the application (resolver.cancel()); nothing to retry',
  },
});
