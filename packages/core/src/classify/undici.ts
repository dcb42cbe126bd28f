import { ABORTED } from './abort.js';
import { statusRuleWithHeaders } from './http-status.js';
import { type Rule, type RuleTable, RANK_GENERIC, RANK_WRAPPER, rule, ruleTable } from './rule.js';
import { readNumber, readProp } from './safe-read.js';

/**
 * undici's `UND_ERR_*` errors (also what Node's global fetch throws inside
 * `TypeError('fetch failed')`). undici reports a peer that closed the
 * connection (FIN) as `UND_ERR_SOCKET` "other side closed"; a real RST comes
 * through as Node's `ECONNRESET`.
 */
const CALLER_BUG = (hint: string) => ({ kind: 'unknown', phase: 'unknown', transient: false, rank: RANK_GENERIC, hint }) as const;

const RETRY_EXHAUSTED = rule('UND_ERR_REQ_RETRY', {
  kind: 'unknown',
  phase: 'unknown',
  transient: false,
  rank: RANK_WRAPPER,
  hint: "undici's retry handler gave up; the cause or status it carries is the fault",
});

/** Errors that carry the response status (RequestRetryError, ResponseError, v6's ResponseStatusCodeError). */
function withStatus(fallback: Rule | undefined) {
  return (error: object): Rule | undefined => {
    const status = readNumber(error, 'statusCode') ?? readNumber(error, 'status');
    if (status === undefined) return fallback;
    return statusRuleWithHeaders(status, readProp(error, 'headers'));
  };
}

export const UNDICI_RULES: RuleTable = ruleTable({
  UND_ERR_SOCKET: {
    kind: 'closed',
    phase: 'unknown',
    transient: true,
    hint: "the server closed the connection without finishing the answer (a restart, or a keep-alive connection it had already timed out); retry if safe, and keep the client's keepAliveTimeout below the server's",
  },
  UND_ERR_CONNECT_TIMEOUT: {
    kind: 'timeout',
    phase: 'connect',
    transient: true,
    hint: 'the connection (TCP and TLS handshake) was not set up within connectTimeout (host down, firewall dropping packets, or an overloaded server); check the address, retry with backoff',
  },
  UND_ERR_HEADERS_TIMEOUT: {
    kind: 'timeout',
    phase: 'request',
    transient: true,
    hint: 'the request was sent but the response headers did not arrive within headersTimeout (a slow or stuck server); raise headersTimeout for slow endpoints, retry if safe',
  },
  UND_ERR_BODY_TIMEOUT: {
    kind: 'timeout',
    phase: 'response',
    transient: true,
    hint: 'the response body stalled for longer than bodyTimeout (a stuck server or proxy); raise bodyTimeout for slow streams, retry if safe or resume from the bytes received',
  },
  UND_ERR_CLOSED: {
    kind: 'closed',
    phase: 'unknown',
    transient: false,
    rank: RANK_GENERIC,
    hint: 'the undici client or agent was closed by the application; create a new one instead of using it after close()',
  },
  UND_ERR_DESTROYED: {
    kind: 'closed',
    phase: 'unknown',
    transient: false,
    rank: RANK_GENERIC,
    hint: 'the undici client or agent was destroyed by the application; create a new one instead of using it after destroy()',
  },
  UND_ERR_ABORTED: () => ABORTED,
  UND_ERR_ABORT: () => ABORTED,
  UND_ERR_REQ_RETRY: withStatus(RETRY_EXHAUSTED),
  UND_ERR_RESPONSE: withStatus(undefined),
  UND_ERR_RESPONSE_STATUS_CODE: withStatus(undefined),
  UND_ERR_HEADERS_OVERFLOW: {
    kind: 'protocol',
    phase: 'response',
    transient: false,
    hint: "the response headers exceed undici's maxHeaderSize; raise maxHeaderSize or make the server send smaller headers",
  },
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: {
    kind: 'protocol',
    phase: 'response',
    transient: false,
    hint: 'the response body length does not match its Content-Length (a broken server or proxy); fix the server',
  },
  UND_ERR_RES_EXCEEDED_MAX_SIZE: {
    kind: 'protocol',
    phase: 'response',
    transient: false,
    hint: 'the response is larger than maxResponseSize; raise the limit or ask for less',
  },
  UND_ERR_HTTP_PARSER: {
    kind: 'protocol',
    phase: 'response',
    transient: false,
    hint: 'the response is not valid HTTP/1.x (wrong port, another protocol, or a broken server); check the port and the scheme',
  },
  UND_ERR_WS_MESSAGE_SIZE_EXCEEDED: {
    kind: 'protocol',
    phase: 'response',
    transient: false,
    hint: 'a WebSocket message exceeded the maximum size this client accepts; raise the limit or send smaller messages',
  },
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: CALLER_BUG('the request body length does not match its Content-Length header; fix the request'),
  UND_ERR_INVALID_ARG: CALLER_BUG('undici was called with an invalid argument; fix the call'),
  UND_ERR_INVALID_RETURN_VALUE: CALLER_BUG('a handler returned an invalid value to undici; fix the handler'),
  UND_ERR_NOT_SUPPORTED: CALLER_BUG('undici does not support what was asked; change the request or the client options'),
  UND_ERR_INFO: CALLER_BUG('undici reported an unexpected state; check the request and the client options'),
  UND_ERR_MAX_ORIGINS_REACHED: CALLER_BUG('the agent reached its maxOrigins limit; raise it or reuse fewer origins'),
  UND_ERR_BPL_MISSING_UPSTREAM: {
    kind: 'connection-refused',
    phase: 'connect',
    transient: false,
    rank: RANK_GENERIC,
    hint: 'the BalancedPool has no upstream to send to; add upstreams to the pool',
  },
  UND_ERR_PRX_TLS: {
    kind: 'tls',
    phase: 'connect',
    transient: false,
    rank: RANK_WRAPPER,
    hint: "the TLS connection to the proxy failed; trust the proxy's CA with the proxy TLS `ca` option",
  },
});
