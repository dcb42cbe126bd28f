import { type Rule, type RuleTable, RANK_GENERIC, rule, ruleTable } from './rule.js';
import { leadingBytes, readProp, readString } from './safe-read.js';

/**
 * The two ends speak different protocols: plain HTTP to a TLS port, TLS to a
 * plain port, HTTP/1.1 to an HTTP/2-only (h2c, gRPC) port, or the reverse.
 * Retrying cannot help; the hint names the likely mix-up. When a parser
 * rejected the first bytes of the answer, those bytes tell which one it is.
 */
const TLS_TO_PLAIN_HINT =
  'a TLS client reached a plain-text port (https:// to an http:// server, or the wrong port); use http:// or the port that serves TLS';
const HTTP1_TO_HTTP2_HINT =
  'an HTTP/1.1 request reached an HTTP/2-only port (h2c or gRPC); use an HTTP/2 client (undici allowH2, http2.connect) or enable HTTP/1 on the server';
const PLAIN_TO_TLS_HINT = 'a plain-text request reached a TLS port (http:// to an https:// server); use https:// or the plain-text port';
const NOT_HTTP_HINT = 'the peer did not answer with HTTP/1.x (wrong port, another protocol, or a broken proxy); check the port and the scheme';

const protocol = (hint: string) => ({ kind: 'protocol', phase: 'connect', transient: false, hint }) as const;

const TLS_TO_PLAIN_EPROTO = rule('EPROTO', protocol(TLS_TO_PLAIN_HINT));
const HTTP1_TO_HTTP2 = rule('HPE_INVALID_CONSTANT', protocol(HTTP1_TO_HTTP2_HINT));
const PLAIN_TO_TLS = rule('HPE_INVALID_CONSTANT', protocol(PLAIN_TO_TLS_HINT));
const NOT_HTTP = rule('HPE_INVALID_CONSTANT', protocol(NOT_HTTP_HINT));
const UNDICI_HTTP1_TO_HTTP2 = rule('UND_ERR_HTTP_PARSER', protocol(HTTP1_TO_HTTP2_HINT));
const UNDICI_PLAIN_TO_TLS = rule('UND_ERR_HTTP_PARSER', protocol(PLAIN_TO_TLS_HINT));
const UNDICI_NOT_HTTP = rule('UND_ERR_HTTP_PARSER', protocol(NOT_HTTP_HINT));

type Sniffed = 'http2' | 'tls' | 'other';

/** What the first bytes of an answer are: an HTTP/2 frame on stream 0, a TLS record, or something else. */
export function sniffProtocol(bytes: readonly number[] | undefined): Sniffed {
  if (bytes === undefined || bytes.length < 3) return 'other';
  // TLS record header: content type alert (21) or handshake (22), then major version 3.
  if ((bytes[0] === 0x15 || bytes[0] === 0x16) && bytes[1] === 0x03) return 'tls';
  // HTTP/2 server preface: a SETTINGS (4) or GOAWAY (7) frame on stream 0.
  if (
    bytes.length >= 9 &&
    (bytes[3] === 0x04 || bytes[3] === 0x07) &&
    bytes[5] === 0 &&
    bytes[6] === 0 &&
    bytes[7] === 0 &&
    ((bytes[8] ?? 0) & 0x7f) === 0
  ) {
    return 'http2';
  }
  return 'other';
}

function answerBytes(error: object): readonly number[] | undefined {
  // Node's parser keeps the bytes as `rawPacket` (Buffer); undici's as `data` (string).
  return leadingBytes(readProp(error, 'rawPacket') ?? readProp(error, 'data'), 9);
}

/** Node's `Parse Error: Expected HTTP/`: the answer did not start with an HTTP/1.x status line. */
function parserRejectedAnswer(error: object): Rule {
  switch (sniffProtocol(answerBytes(error))) {
    case 'http2':
      return HTTP1_TO_HTTP2;
    case 'tls':
      return PLAIN_TO_TLS;
    default:
      return NOT_HTTP;
  }
}

/** undici's HTTPParserError carries no code when its parser rejects the status line. */
export function undiciParserError(error: object): Rule {
  switch (sniffProtocol(answerBytes(error))) {
    case 'http2':
      return UNDICI_HTTP1_TO_HTTP2;
    case 'tls':
      return UNDICI_PLAIN_TO_TLS;
    default:
      return UNDICI_NOT_HTTP;
  }
}

const REFUSED_STREAM = rule('ERR_HTTP2_STREAM_ERROR', {
  kind: 'connection-refused',
  phase: 'connect',
  transient: true,
  hint: 'the HTTP/2 server refused the stream before processing it (too many concurrent streams, or it is shutting down); safe to retry, on a new session if it persists',
});
const STREAM_RESET = rule('ERR_HTTP2_STREAM_ERROR', {
  kind: 'connection-reset',
  phase: 'unknown',
  transient: true,
  hint: 'the HTTP/2 server reset the stream (an internal error, a cancelled request or a proxy timeout); retry if safe',
});

export const PROTOCOL_RULES: RuleTable = ruleTable({
  EPROTO: (error) => {
    const message = readString(error, 'message');
    return message !== undefined && (message.includes('wrong version number') || message.includes('packet length too long'))
      ? TLS_TO_PLAIN_EPROTO
      : undefined;
  },
  ERR_SSL_WRONG_VERSION_NUMBER: protocol(TLS_TO_PLAIN_HINT),
  ERR_SSL_PACKET_LENGTH_TOO_LONG: protocol(TLS_TO_PLAIN_HINT),
  ERR_SSL_HTTP_REQUEST: protocol(PLAIN_TO_TLS_HINT),
  ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL: protocol(
    'the TLS server only accepts HTTP/2 (ALPN h2) and the client offered HTTP/1.1; use an HTTP/2 client (undici allowH2) or allowHTTP1 on the server',
  ),
  HPE_INVALID_CONSTANT: parserRejectedAnswer,
  HPE_HEADER_OVERFLOW: {
    kind: 'protocol',
    phase: 'response',
    transient: false,
    hint: "the response headers exceed the client's limit; raise maxHeaderSize (--max-http-header-size) or make the server send fewer or smaller headers",
  },
  ERR_HTTP2_ERROR: protocol(
    'an HTTP/2 client reached a server that does not speak HTTP/2 on this port (prior knowledge to an HTTP/1 server); use HTTP/1.1 or enable HTTP/2 on the server',
  ),
  ERR_HTTP2_STREAM_ERROR: (error) => (readString(error, 'message')?.includes('REFUSED_STREAM') === true ? REFUSED_STREAM : STREAM_RESET),
  ERR_HTTP2_GOAWAY_SESSION: {
    kind: 'closed',
    phase: 'connect',
    transient: true,
    hint: 'the HTTP/2 server is closing the session (GOAWAY, often a graceful restart) and took no new streams; retry on a new session',
  },
  ERR_HTTP2_INVALID_SESSION: {
    kind: 'closed',
    phase: 'connect',
    transient: true,
    hint: 'the HTTP/2 session was already destroyed when the request was made; retry on a new session',
  },
  ERR_HTTP2_SESSION_ERROR: {
    kind: 'connection-reset',
    phase: 'unknown',
    transient: true,
    hint: 'the HTTP/2 session was closed with an error by the peer; retry if safe, on a new session',
  },
  ERR_HTTP2_STREAM_CANCEL: {
    kind: 'closed',
    phase: 'connect',
    transient: true,
    hint: 'the HTTP/2 stream was cancelled before it was sent because its session closed; retry on a new session',
  },
});

/** Any other llhttp (`HPE_*`) code: the answer was not valid HTTP/1.x. */
export const HTTP_PARSER_OTHER: Rule = rule('HPE', {
  kind: 'protocol',
  phase: 'response',
  transient: false,
  rank: RANK_GENERIC,
  hint: 'the response is not valid HTTP/1.x (a broken server or proxy, or the wrong port); check what the server sends (curl -v)',
});
