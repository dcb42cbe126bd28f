import type { Fault, FaultContext, FaultKind, FaultPhase } from '../fault.js';
import type { Rule } from './rule.js';

/**
 * How far the operation got, from what the error proves and what the caller
 * knows. The order matters: a caller's explicit phase wins; a connect-phase
 * error stays connect (nothing reached the peer); response bytes mean
 * `response`; a connection that died on reuse before any response byte is the
 * keep-alive race (`idle`), which is safe to retry; written bytes mean `request`.
 */
export const IDLE_HINT =
  "the server's keep-alive timeout is shorter than the client's idle timeout; lower the client's keep-alive timeout below the server's";

/** Faults where the peer dropped the connection: the ones a stale pooled connection produces. */
const DROPPED: ReadonlySet<FaultKind> = new Set<FaultKind>(['connection-reset', 'broken-pipe', 'closed']);
const PHASES: ReadonlySet<unknown> = new Set<FaultPhase>(['connect', 'request', 'response', 'idle', 'unknown']);

export function decidePhase(kind: FaultKind, evidence: FaultPhase, context: FaultContext | undefined): FaultPhase {
  // A null context (untyped callers) is no context.
  if (!context) return evidence;
  const given = context.phase;
  if (given !== undefined && PHASES.has(given)) return given;
  if (evidence === 'connect') return 'connect';
  const received = context.bytesReceived;
  if (evidence === 'response' || (typeof received === 'number' && received > 0)) return 'response';
  if (received === 0 && context.reusedConnection === true && DROPPED.has(kind)) return 'idle';
  if (evidence !== 'unknown') return evidence;
  const sent = context.bytesSent;
  return typeof sent === 'number' && sent > 0 ? 'request' : 'unknown';
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** The Fault for a rule: one object, with `status` / `retryAfterMs` only when known. */
export function faultFrom(rule: Rule, message: string, context: FaultContext | undefined, evidence: FaultPhase = rule.phase): Fault {
  const phase = decidePhase(rule.kind, evidence, context);
  const fault: Writable<Fault> = {
    kind: rule.kind,
    code: rule.code,
    phase,
    transient: rule.transient,
    hint: phase === 'idle' && evidence !== 'idle' ? IDLE_HINT : rule.hint,
    message,
  };
  if (rule.status !== undefined) fault.status = rule.status;
  if (rule.retryAfterMs !== undefined) fault.retryAfterMs = rule.retryAfterMs;
  return fault;
}
