import { type Rule, type RuleTable, RANK_GENERIC, RANK_LOCAL, rule, ruleTable } from './rule.js';
import { readString } from './safe-read.js';

/**
 * Node's system errors (libuv codes) and stream errors. The syscall tells the
 * phase: `connect ECONNRESET` never reached the application on the other side,
 * `read ECONNRESET` may have.
 */
const RESET_HINT =
  "the peer or a proxy between reset the connection (it crashed, restarted or dropped the connection); retry if the operation is safe to repeat, and check the peer's logs";
const HANG_UP_HINT =
  "the server closed the connection without answering (a restart, a crash, or a keep-alive connection it had already timed out); retry if safe, and keep the client's keep-alive timeout below the server's";
const RESPONSE_CUT_HINT =
  'the connection broke while the response was arriving (server crash, restart or proxy timeout); retry idempotent requests or resume from the bytes already received';
const TIMEOUT_HINT =
  "the peer did not answer in time (overloaded, a firewall dropping packets, or the host is down); retry with backoff and check the timeout against the peer's real latency";

const RESET = rule('ECONNRESET', { kind: 'connection-reset', phase: 'unknown', transient: true, hint: RESET_HINT });
const RESET_CONNECTING = rule('ECONNRESET', {
  kind: 'connection-reset',
  phase: 'connect',
  transient: true,
  hint: 'the peer reset the connection while it was being set up (the server is overloaded, restarting, or its accept queue is full); retry with backoff',
});
const HANG_UP = rule('ECONNRESET', { kind: 'connection-reset', phase: 'unknown', transient: true, hint: HANG_UP_HINT });
const RESPONSE_CUT = rule('ECONNRESET', { kind: 'connection-reset', phase: 'response', transient: true, hint: RESPONSE_CUT_HINT });

const TIMEOUT = rule('ETIMEDOUT', { kind: 'timeout', phase: 'unknown', transient: true, hint: TIMEOUT_HINT });
const TIMEOUT_CONNECTING = rule('ETIMEDOUT', {
  kind: 'timeout',
  phase: 'connect',
  transient: true,
  hint: 'the connection could not be set up in time (host down, a firewall dropping SYNs, or a wrong address); check the address and firewall, retry with backoff',
});

export const NODE_RULES: RuleTable = ruleTable({
  ECONNRESET: (error) => {
    const syscall = readString(error, 'syscall');
    if (syscall === 'connect') return RESET_CONNECTING;
    if (syscall === undefined) {
      // Node's http client reports these two with code ECONNRESET and no syscall.
      const message = readString(error, 'message');
      if (message === 'socket hang up') return HANG_UP;
      if (message === 'aborted') return RESPONSE_CUT;
    }
    return RESET;
  },
  ETIMEDOUT: (error) => (readString(error, 'syscall') === 'connect' ? TIMEOUT_CONNECTING : TIMEOUT),
  ECONNREFUSED: {
    kind: 'connection-refused',
    phase: 'connect',
    transient: true,
    hint: 'nothing is listening at that address and port (server down or restarting, wrong host or port); check the address and retry with backoff',
  },
  EPIPE: {
    kind: 'broken-pipe',
    phase: 'request',
    transient: true,
    hint: "the peer closed the connection while the request was being written (a restart, or it rejected the request early); retry if safe, and keep the client's keep-alive timeout below the server's",
  },
  ECONNABORTED: {
    kind: 'connection-reset',
    phase: 'unknown',
    transient: true,
    hint: 'the local network stack aborted the connection (a timeout or an error on the local side); retry if safe',
  },
  ENETUNREACH: {
    kind: 'network-unreachable',
    phase: 'connect',
    transient: true,
    rank: RANK_LOCAL,
    hint: 'this host has no route to that network (network down, VPN off, or an IPv6 address without IPv6 connectivity); check routing or connect over IPv4',
  },
  EHOSTUNREACH: {
    kind: 'network-unreachable',
    phase: 'connect',
    transient: true,
    rank: RANK_LOCAL,
    hint: 'no route to that host (host down, wrong address, or a firewall rejecting it); check the address and the firewall, retry with backoff',
  },
  ENETDOWN: {
    kind: 'network-unreachable',
    phase: 'connect',
    transient: true,
    rank: RANK_LOCAL,
    hint: 'the local network interface is down; wait for the network to come back, retry with backoff',
  },
  EADDRNOTAVAIL: {
    kind: 'network-unreachable',
    phase: 'connect',
    transient: true,
    rank: RANK_LOCAL,
    hint: 'no usable local address or port: ephemeral ports exhausted by many short-lived connections (reuse connections with keep-alive), or a localAddress this host does not have',
  },
  EAFNOSUPPORT: {
    kind: 'network-unreachable',
    phase: 'connect',
    transient: false,
    rank: RANK_LOCAL,
    hint: 'this host does not support that address family (IPv6 disabled); connect over IPv4 or enable IPv6',
  },
  EPROTO: {
    kind: 'protocol',
    phase: 'connect',
    transient: false,
    hint: 'the peer answered with a protocol this client cannot speak (often TLS on one side and plain text on the other); check the scheme (http/https) and the port',
  },
  EMFILE: {
    kind: 'unknown',
    phase: 'connect',
    transient: true,
    rank: RANK_LOCAL,
    hint: 'this process ran out of file descriptors (too many open sockets or files); reuse connections, close what leaks, or raise the ulimit',
  },
  ENFILE: {
    kind: 'unknown',
    phase: 'connect',
    transient: true,
    rank: RANK_LOCAL,
    hint: 'the system ran out of file descriptors; close what leaks or raise the system limit',
  },
  ENOBUFS: {
    kind: 'unknown',
    phase: 'unknown',
    transient: true,
    rank: RANK_LOCAL,
    hint: 'the kernel ran out of socket buffer space (memory pressure or too many sockets); reduce concurrency, retry with backoff',
  },
  ERR_STREAM_PREMATURE_CLOSE: {
    kind: 'closed',
    phase: 'unknown',
    transient: true,
    hint: 'the stream closed before it ended (the peer or a proxy dropped the connection mid-transfer); retry if safe, or resume from the bytes already received',
  },
  ERR_STREAM_DESTROYED: {
    kind: 'closed',
    phase: 'unknown',
    transient: true,
    rank: RANK_GENERIC,
    hint: 'the connection was already destroyed when this operation used it (an earlier error closed it); handle that error, and retry on a new connection if safe',
  },
  ERR_SOCKET_CLOSED: {
    kind: 'closed',
    phase: 'unknown',
    transient: true,
    rank: RANK_GENERIC,
    hint: 'the socket was already closed when this operation used it (an earlier error closed it); retry on a new connection if safe',
  },
  ERR_SOCKET_CONNECTION_TIMEOUT: {
    kind: 'timeout',
    phase: 'connect',
    transient: true,
    hint: 'no address of the host accepted a connection in time (autoSelectFamily tried each); check the address and firewall, or raise autoSelectFamilyAttemptTimeout',
  },
  ERR_STREAM_WRITE_AFTER_END: {
    kind: 'closed',
    phase: 'request',
    transient: false,
    rank: RANK_GENERIC,
    hint: 'the application wrote after ending the stream; a bug in the caller, not a network fault: stop writing after end()',
  },
});

/** Node's hang-up when only its message survived (a thrown string, a copied message). */
export function nodeMessageRule(message: string): Rule | undefined {
  return message === 'socket hang up' ? HANG_UP : undefined;
}
