import { statusRuleWithHeaders } from './http-status.js';
import { type Rule, type RuleTable, RANK_WRAPPER, rule, ruleTable } from './rule.js';
import { readObject, readNumber, readProp, readString } from './safe-read.js';

/**
 * got's errors. Its `TimeoutError` (code ETIMEDOUT) names the stage that timed
 * out in `event`, which is the phase: lookup/connect/secureConnect before
 * anything was sent, send/response after, read while the body arrived.
 * `HTTPError` carries the response (`response.statusCode`, `response.headers`).
 */
const timeout = (phase: 'connect' | 'request' | 'response' | 'unknown', hint: string) =>
  rule('ETIMEDOUT', { kind: 'timeout', phase, transient: true, hint });

const EVENT_TIMEOUTS: ReadonlyMap<string, Rule> = new Map([
  [
    'lookup',
    timeout(
      'connect',
      'the DNS lookup did not finish within timeout.lookup (a slow or unreachable resolver); check the resolver, retry with backoff',
    ),
  ],
  [
    'connect',
    timeout(
      'connect',
      'the TCP connection was not set up within timeout.connect (host down or a firewall dropping packets); check the address, retry with backoff',
    ),
  ],
  [
    'secureConnect',
    timeout(
      'connect',
      'the TLS handshake did not finish within timeout.secureConnect (an overloaded server, or the port does not speak TLS); retry with backoff',
    ),
  ],
  ['socket', timeout('unknown', 'the socket was idle for longer than timeout.socket; raise it for slow endpoints, retry if safe')],
  ['send', timeout('request', 'the request was not fully sent within timeout.send (a slow upload or a stalled server); retry if safe')],
  ['response', timeout('request', 'the request was sent but no response arrived within timeout.response (a slow or stuck server); retry if safe')],
  ['read', timeout('response', 'the response body did not finish within timeout.read; retry if safe or resume from the bytes received')],
  ['request', timeout('unknown', 'the whole request did not finish within timeout.request; raise it for slow endpoints, retry if safe')],
]);

function responseRule(error: object): Rule | undefined {
  const response = readObject(error, 'response');
  if (response === undefined) return undefined;
  const status = readNumber(response, 'statusCode');
  return status === undefined ? undefined : statusRuleWithHeaders(status, readProp(response, 'headers'));
}

const READ_ERROR = rule('ERR_READING_RESPONSE_STREAM', {
  kind: 'closed',
  phase: 'response',
  transient: true,
  rank: RANK_WRAPPER,
  hint: 'reading the response body failed; its cause says why, retry if safe',
});

export const GOT_RULES: RuleTable = ruleTable({
  ETIMEDOUT: (error) => {
    const event = readString(error, 'event');
    return event === undefined ? undefined : EVENT_TIMEOUTS.get(event);
  },
  ERR_NON_2XX_3XX_RESPONSE: responseRule,
  ERR_READING_RESPONSE_STREAM: () => READ_ERROR,
  ERR_TOO_MANY_REDIRECTS: {
    kind: 'protocol',
    phase: 'response',
    transient: false,
    hint: 'too many redirects (a redirect loop); fix the URL or the server configuration, or raise maxRedirects',
  },
  ERR_BODY_PARSE_FAILURE: {
    kind: 'protocol',
    phase: 'response',
    transient: false,
    hint: 'the response body could not be parsed as the expected type (HTML error page instead of JSON?); check responseType and what the server sends',
  },
  ERR_GOT_REQUEST_ERROR: {
    kind: 'unknown',
    phase: 'unknown',
    transient: false,
    rank: RANK_WRAPPER,
    hint: "got failed without a code; look at the error's cause",
  },
});

/** got's HTTPError by name, whatever code a subclass sets. */
export const gotHttpError = responseRule;
