import type { Fault, FaultContext } from '../fault.js';
import { redactText } from '../redact.js';
import { statusRule } from './http-status.js';
import { faultFrom } from './phase.js';
import { type Rule, type RuleTable, RANK_GENERIC, rule, ruleTable } from './rule.js';

/**
 * WebSocket close codes (RFC 6455 §7.4, IANA registry) and the `ws` package's
 * errors. Decisions: 1000 (normal closure) is not transient: the peer ended
 * the session on purpose, and reconnecting is the application's choice, not a
 * recovery. 1001 (going away: a server shutting down or restarting) and 1005
 * (closed without a status, which servers do on shutdown) are transient.
 * 4000-4999 belong to the application's own protocol, so holdfast cannot know
 * they are transient and says they are not.
 */
const MAX_PAYLOAD_HINT =
  "a message exceeded the receiver's size limit (ws maxPayload); send smaller messages, or raise maxPayload on the receiving side";

type CloseSpec = Omit<Rule, 'code' | 'rank'>;
const closed = (transient: boolean, hint: string): CloseSpec => ({ kind: 'closed', phase: 'unknown', transient, hint });
const protocol = (hint: string): CloseSpec => ({ kind: 'protocol', phase: 'unknown', transient: false, hint });

const CLOSE_CODES: ReadonlyMap<number, CloseSpec> = new Map([
  [
    1000,
    closed(false, 'the peer closed the connection normally, ending the session on purpose; reconnect only if the application wants a new session'),
  ],
  [1001, closed(true, 'the peer is going away (a server shutting down or restarting); reconnect with backoff')],
  [1002, protocol('the peer closed on a WebSocket protocol error (a broken client, server or proxy); fix the implementation')],
  [1003, protocol('the peer cannot accept this type of data (text vs binary); send a type it accepts')],
  [1005, closed(true, 'the peer closed without a status code (often a server shutting down); reconnect with backoff')],
  [
    1006,
    {
      kind: 'connection-reset',
      phase: 'unknown',
      transient: true,
      hint: 'the connection dropped without a close frame (network failure, server crash, or a proxy idle timeout); reconnect with backoff, and ping to keep idle connections alive',
    },
  ],
  [1007, protocol('the peer received data inconsistent with the message type (invalid UTF-8 in text); fix the data sent')],
  [
    1008,
    closed(
      false,
      'the peer closed for a policy violation (often failed authentication or a forbidden origin); fix the credentials or the request, reconnecting will not help',
    ),
  ],
  [1009, protocol(MAX_PAYLOAD_HINT)],
  [1010, protocol('the server did not negotiate an extension the client requires; change the client extensions')],
  [1011, closed(true, 'the server hit an internal error; reconnect with backoff, and check the server logs')],
  [1012, closed(true, 'the server is restarting; reconnect with backoff')],
  [1013, closed(true, 'the server is overloaded and asked to try again later; reconnect with backoff')],
  [1014, closed(true, 'a gateway got an invalid answer from the server behind it; reconnect with backoff')],
  [
    1015,
    {
      kind: 'tls',
      phase: 'connect',
      transient: false,
      hint: 'the TLS handshake failed; check the certificate and trust the right CA with the `ca` option',
    },
  ],
]);
const REGISTERED = closed(false, 'a close code registered by a library or framework (3000-3999); see that library for its meaning');
const APPLICATION = closed(false, "an application-defined close code (4000-4999); whether to reconnect is the server application's protocol");
const RESERVED = protocol('a reserved or invalid close code (a broken peer); fix the peer');

const byCode = new Map<number, Rule>();

function closeRule(code: number): Rule {
  let found = byCode.get(code);
  if (found === undefined) {
    const valid = Number.isInteger(code) && code >= 0 && code <= 4999;
    const spec = CLOSE_CODES.get(code) ?? (code >= 4000 && valid ? APPLICATION : code >= 3000 && valid ? REGISTERED : RESERVED);
    found = rule(valid ? `WS_${code}` : 'WS_INVALID_CLOSE_CODE', spec);
    if (valid) byCode.set(code, found);
  }
  return found;
}

function reasonText(reason: unknown): string {
  if (typeof reason === 'string') return reason;
  if (reason instanceof Uint8Array) return Buffer.from(reason.buffer, reason.byteOffset, reason.byteLength).toString('utf8');
  return '';
}

/**
 * A Fault for a WebSocket close code (the `close` event's `code`, with its
 * `reason` as a string or the Buffer `ws` hands out). Never throws.
 */
export function classifyCloseCode(code: number, reason?: string | Uint8Array, context?: FaultContext): Fault {
  try {
    const text = reasonText(reason);
    const message = redactText(text.length > 0 ? `WebSocket closed with code ${code}: ${text}` : `WebSocket closed with code ${code}`);
    return faultFrom(closeRule(code), message, context);
  } catch {
    return faultFrom(closeRule(Number.NaN), 'WebSocket closed with an invalid code', undefined);
  }
}

export const WS_RULES: RuleTable = ruleTable({
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: { kind: 'protocol', phase: 'unknown', transient: false, hint: MAX_PAYLOAD_HINT },
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: { kind: 'protocol', phase: 'unknown', transient: false, hint: MAX_PAYLOAD_HINT },
});

/** Any other `WS_ERR_*`: the peer broke the WebSocket framing. */
export const WS_FRAMING_OTHER: Rule = rule('WS_ERR', {
  kind: 'protocol',
  phase: 'unknown',
  transient: false,
  rank: RANK_GENERIC,
  hint: 'the peer sent invalid WebSocket frames (a broken peer or a proxy mangling the stream); fix the peer',
});

const HANDSHAKE_TIMEOUT = rule('WS_HANDSHAKE_TIMEOUT', {
  kind: 'timeout',
  phase: 'connect',
  transient: true,
  hint: 'the WebSocket opening handshake did not finish within handshakeTimeout (an overloaded server, or a proxy holding the upgrade); reconnect with backoff',
});
const CLOSED_BEFORE_OPEN = rule('WS_CLOSED_BEFORE_OPEN', {
  kind: 'aborted',
  phase: 'connect',
  transient: false,
  hint: 'the application closed the WebSocket before it was open; nothing to retry',
});
const NOT_A_WEBSOCKET = rule('WS_HANDSHAKE_INVALID', {
  kind: 'protocol',
  phase: 'connect',
  transient: false,
  hint: 'the server did not complete a WebSocket handshake (not a WebSocket endpoint, or a proxy that drops the Upgrade headers); check the URL and the proxy',
});

const UNEXPECTED_RESPONSE = 'Unexpected server response: ';

/** `ws` reports handshake failures by message only. */
export function wsMessageRule(message: string): Rule | undefined {
  if (message.startsWith(UNEXPECTED_RESPONSE)) {
    const status = Number(message.slice(UNEXPECTED_RESPONSE.length));
    return statusRule(status);
  }
  if (message === 'Opening handshake has timed out') return HANDSHAKE_TIMEOUT;
  if (message === 'WebSocket was closed before the connection was established') return CLOSED_BEFORE_OPEN;
  if (
    message === 'Invalid Upgrade header' ||
    message === 'Invalid Sec-WebSocket-Accept header' ||
    message.startsWith('Server sent') ||
    message === 'Invalid Sec-WebSocket-Extensions header'
  ) {
    return NOT_A_WEBSOCKET;
  }
  return undefined;
}
