/**
 * The one answer to "what happened?". Every transport package turns what it
 * sees (a thrown error, an `'error'` event, a close code, a response status)
 * into a Fault through `classify()`, and decides what to do from it alone.
 */
export type FaultKind =
  | 'connection-reset'
  | 'connection-refused'
  | 'timeout'
  | 'dns'
  | 'network-unreachable'
  | 'broken-pipe'
  | 'tls'
  | 'protocol'
  | 'http-status'
  | 'closed'
  | 'aborted'
  | 'circuit-open'
  | 'unknown';

/**
 * How far the operation got before it failed:
 * - `connect`: nothing reached the peer (refused, DNS, TLS handshake, connect timeout)
 * - `request`: the peer may have received (part of) the request
 * - `response`: a response had started arriving
 * - `idle`: a pooled connection died while unused, before this request's first byte was answered
 * - `unknown`: nothing tells
 */
export type FaultPhase = 'connect' | 'request' | 'response' | 'idle' | 'unknown';

export const FAULT_KINDS: readonly FaultKind[] = [
  'connection-reset',
  'connection-refused',
  'timeout',
  'dns',
  'network-unreachable',
  'broken-pipe',
  'tls',
  'protocol',
  'http-status',
  'closed',
  'aborted',
  'circuit-open',
  'unknown',
];

export const FAULT_PHASES: readonly FaultPhase[] = ['connect', 'request', 'response', 'idle', 'unknown'];

export interface Fault {
  readonly kind: FaultKind;
  /** The innermost concrete code found (`ECONNRESET`, `UND_ERR_SOCKET`, `CERT_HAS_EXPIRED`, `HTTP_503`, `WS_1006`…); `UNKNOWN` when none. */
  readonly code: string;
  readonly phase: FaultPhase;
  /** Whether trying again can help at all. Whether it is *safe* is `isSafeToRetry()`'s question. */
  readonly transient: boolean;
  /** One line: the likely cause and the fix. */
  readonly hint: string;
  /** HTTP status, for `http-status` faults. */
  readonly status?: number;
  /** The peer's pushback (`Retry-After`, gRPC pushback), in milliseconds. */
  readonly retryAfterMs?: number;
  /** The error's message, with credentials removed. */
  readonly message: string;
}

/** What the caller knows about the operation that failed; it sharpens the phase and the hint. */
export interface FaultContext {
  /** HTTP method (any case). */
  readonly method?: string;
  /** The caller's own word that the operation may be repeated. */
  readonly idempotent?: boolean;
  /** The request ran on a pooled connection that had served earlier requests. */
  readonly reusedConnection?: boolean;
  /** Bytes of this request written to the socket (undefined: unknown). */
  readonly bytesSent?: number;
  /** Bytes of the response received (undefined: unknown). */
  readonly bytesReceived?: number;
  /** The phase, when the caller knows it better than the error does. */
  readonly phase?: FaultPhase;
}
