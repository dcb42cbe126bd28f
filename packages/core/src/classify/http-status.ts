import { STATUS_CODES } from 'node:http';
import type { Fault, FaultContext } from '../fault.js';
import { faultFrom } from './phase.js';
import { type Rule, rule } from './rule.js';
import { retryAfterFromHeaders } from './retry-after.js';

/**
 * HTTP responses that are faults. Transient: 408, 425, 429, 500, 502, 503,
 * 504 (the server or a gateway may answer differently soon); every other
 * status says something about the request, which sending it again cannot
 * change. Whether a transient status may be *repeated* is retryVerdict's call.
 */
const TRANSIENT_STATUS: ReadonlySet<number> = new Set([408, 425, 429, 500, 502, 503, 504]);

const HINTS: Readonly<Record<number, string>> = {
  400: 'the server rejected the request as malformed; fix the request, retrying cannot help',
  401: 'not authenticated: credentials missing, wrong or expired; fix the credentials',
  403: 'forbidden: the credentials lack permission, or a firewall/WAF blocked the request; fix the permissions',
  404: 'not found: a wrong URL or a resource that does not exist; check the URL',
  408: 'the server gave up waiting for the request (a slow upload, or a keep-alive connection it timed out); retry',
  409: "the request conflicts with the resource's current state; re-read it and resolve the conflict",
  413: 'the request body is larger than the server accepts; send less, or raise the server limit',
  421: 'the request reached a server that does not serve this host (a reused HTTP/2 connection); send it on a new connection',
  425: 'the server will not process a request that might be replayed (TLS early data); retry once the handshake is complete',
  429: 'rate limited: too many requests; slow down, and wait for Retry-After before retrying',
  431: 'the request headers are too large for the server (often cookies); send fewer or smaller headers',
  500: "the server failed on this request (a bug or a failing dependency); retry idempotent requests with backoff, and check the server's logs",
  501: 'the server does not implement this method or feature; change the request',
  502: 'a proxy or gateway got no valid answer from the server behind it (down or restarting); retry with backoff',
  503: 'the server is overloaded, starting or in maintenance; retry after Retry-After, with backoff',
  504: "a proxy or gateway timed out waiting for the server behind it; retry with backoff, and check that server's latency",
  505: 'the server does not support this HTTP version; use another HTTP version',
  511: 'the network requires authentication first (a captive portal); sign in to the network',
};
const CLIENT_ERROR_HINT = 'the server rejected the request (4xx); fix the request, retrying cannot help';
const SERVER_ERROR_HINT = "the server failed (5xx) in a way retrying is not expected to fix; check the server's logs";
const NOT_AN_ERROR_HINT = 'not an error status; nothing to retry';

const INVALID_STATUS = rule('HTTP_INVALID_STATUS', {
  kind: 'protocol',
  phase: 'response',
  transient: false,
  hint: 'the response status is not a valid HTTP status (a broken server or proxy); check what the server sends',
});

const byStatus: (Rule | undefined)[] = [];
const messages: (string | undefined)[] = [];

/** The rule for a status (100-599), built once per status and then shared. */
export function statusRule(status: number): Rule {
  if (!Number.isInteger(status) || status < 100 || status > 599) return INVALID_STATUS;
  let found = byStatus[status];
  if (found === undefined) {
    const hint = HINTS[status] ?? (status >= 500 ? SERVER_ERROR_HINT : status >= 400 ? CLIENT_ERROR_HINT : NOT_AN_ERROR_HINT);
    found = rule(`HTTP_${status}`, { kind: 'http-status', phase: 'response', transient: TRANSIENT_STATUS.has(status), hint, status });
    byStatus[status] = found;
  }
  return found;
}

/** The rule for a status with the peer's pushback from the headers, when it gave one. */
export function statusRuleWithHeaders(status: number, headers: unknown): Rule {
  const base = statusRule(status);
  const retryAfterMs = headers === undefined ? undefined : retryAfterFromHeaders(headers);
  return retryAfterMs === undefined || base === INVALID_STATUS ? base : { ...base, retryAfterMs };
}

function statusMessage(status: number): string {
  if (!Number.isInteger(status) || status < 100 || status > 599) return 'invalid HTTP status';
  let text = messages[status];
  if (text === undefined) {
    const reason = STATUS_CODES[status];
    text = reason === undefined ? `HTTP ${status}` : `HTTP ${status} ${reason}`;
    messages[status] = text;
  }
  return text;
}

/**
 * A Fault for an HTTP response the caller considers failed. `headers` may be
 * any header bag (plain object, `Headers`, undici's raw array); `Retry-After`
 * (seconds or HTTP-date) becomes `retryAfterMs`. Never throws.
 */
export function classifyResponse(status: number, headers?: unknown, context?: FaultContext): Fault {
  try {
    return faultFrom(statusRuleWithHeaders(status, headers), statusMessage(status), context);
  } catch {
    return faultFrom(INVALID_STATUS, 'invalid HTTP status', undefined);
  }
}
