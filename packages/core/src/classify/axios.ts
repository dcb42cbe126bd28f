import { ABORTED, CALLER_TIMEOUT, isTimeoutReason } from './abort.js';
import { statusRuleWithHeaders } from './http-status.js';
import { type Rule, type RuleTable, RANK_GENERIC, rule, ruleTable } from './rule.js';
import { readNumber, readObject, readProp, readString } from './safe-read.js';

/**
 * axios errors (`isAxiosError: true`). A response, when there is one, is the
 * fault (`response.status`, `response.headers['retry-after']`). axios reports
 * its own `timeout` option as `ECONNABORTED` ("timeout of 100ms exceeded"), or
 * `ETIMEDOUT` with `transitional.clarifyTimeoutError`: a timeout either way,
 * not Node's ECONNABORTED. An AbortSignal becomes `ERR_CANCELED`; its reason
 * tells a deadline from a plain abort.
 */
export function isAxiosError(error: object): boolean {
  return readProp(error, 'isAxiosError') === true;
}

const AXIOS_TIMEOUT = rule('ETIMEDOUT', {
  kind: 'timeout',
  phase: 'unknown',
  transient: true,
  hint: "the request did not complete within axios' `timeout` (a slow or stuck server); raise the timeout for slow endpoints, retry if safe",
});

function responseRule(error: object): Rule | undefined {
  const response = readObject(error, 'response');
  if (response === undefined) return undefined;
  const status = readNumber(response, 'status');
  return status === undefined ? undefined : statusRuleWithHeaders(status, readProp(response, 'headers'));
}

function timeoutRule(error: object): Rule | undefined {
  return isAxiosError(error) ? AXIOS_TIMEOUT : undefined;
}

function canceledRule(error: object): Rule {
  const signal = readObject(readObject(error, 'config') ?? {}, 'signal');
  return signal !== undefined && isTimeoutReason(readProp(signal, 'reason')) ? CALLER_TIMEOUT : ABORTED;
}

const BAD_RESPONSE = rule('ERR_BAD_RESPONSE', {
  kind: 'protocol',
  phase: 'response',
  transient: false,
  rank: RANK_GENERIC,
  hint: 'axios could not use the response (too large for maxContentLength, or undecodable); check the response or raise the limit',
});

// axios' http adapter rejects with this when the connection ends before the body it was reading is complete. The
// error carries the response whose body was cut (usually a 200), which says nothing about the fault.
const STREAM_ABORTED = rule('ERR_BAD_RESPONSE', {
  kind: 'closed',
  phase: 'response',
  transient: true,
  hint: 'the connection closed while axios was reading the response body (a server or proxy cut it short); retry if the request is safe to repeat',
});

const NETWORK = rule('ERR_NETWORK', {
  kind: 'unknown',
  phase: 'unknown',
  transient: true,
  rank: RANK_GENERIC,
  hint: 'axios reported a network error without detail; look at its cause, retry if safe',
});

const axiosOnly = (then: (error: object) => Rule | undefined) => (error: object) => (isAxiosError(error) ? then(error) : undefined);

export const AXIOS_RULES: RuleTable = ruleTable({
  ECONNABORTED: (error) => (isAxiosError(error) && readString(error, 'message')?.startsWith('timeout') === true ? AXIOS_TIMEOUT : undefined),
  ETIMEDOUT: timeoutRule,
  ERR_CANCELED: axiosOnly(canceledRule),
  ERR_BAD_RESPONSE: axiosOnly((error) =>
    readString(error, 'message') === 'stream has been aborted' ? STREAM_ABORTED : (responseRule(error) ?? BAD_RESPONSE),
  ),
  ERR_BAD_REQUEST: axiosOnly(responseRule),
  ERR_NETWORK: axiosOnly(() => NETWORK),
  ERR_FR_TOO_MANY_REDIRECTS: {
    kind: 'protocol',
    phase: 'response',
    transient: false,
    hint: 'too many redirects (a redirect loop); fix the URL or the server configuration, or raise maxRedirects',
  },
});

/** An axios error whose code says nothing we know: its response, if any, still does. */
export const axiosResponse = responseRule;
