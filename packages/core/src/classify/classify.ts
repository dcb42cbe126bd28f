import { FAULT_KINDS, FAULT_PHASES, type Fault, type FaultContext, type FaultPhase } from '../fault.js';
import { redactText } from '../redact.js';
import { ABORT_RULES, abortByName } from './abort.js';
import { AXIOS_RULES, axiosResponse, isAxiosError } from './axios.js';
import { DNS_RULES } from './dns.js';
import { fetchTypeError } from './fetch.js';
import { GOT_RULES, gotHttpError } from './got.js';
import { mongoRule, topologyServerErrors } from './mongo.js';
import { NODE_RULES, nodeMessageRule } from './node.js';
import { decidePhase, faultFrom } from './phase.js';
import { HTTP_PARSER_OTHER, PROTOCOL_RULES, undiciParserError } from './protocol.js';
import { type Refine, type Rule, type RuleTable, RANK_WRAPPER, rule } from './rule.js';
import { isArray, readProp, readString } from './safe-read.js';
import { TLS_OTHER, TLS_RULES, isTlsCode } from './tls.js';
import { UNDICI_RULES } from './undici.js';
import { WS_FRAMING_OTHER, WS_RULES, wsMessageRule } from './ws.js';

/**
 * Where classify() looks a code up. When two sources use the same code (axios
 * and got reuse Node's ETIMEDOUT, c-ares reuses ECONNREFUSED), the earlier
 * table is asked first and passes on by returning undefined.
 */
const TABLES: readonly RuleTable[] = [AXIOS_RULES, GOT_RULES, UNDICI_RULES, WS_RULES, ABORT_RULES, TLS_RULES, PROTOCOL_RULES, DNS_RULES, NODE_RULES];

function mergeTables(tables: readonly RuleTable[]): ReadonlyMap<string, Rule | Refine> {
  const grouped = new Map<string, (Rule | Refine)[]>();
  for (const table of tables) {
    for (const [code, entry] of table) {
      const list = grouped.get(code);
      if (list === undefined) grouped.set(code, [entry]);
      else list.push(entry);
    }
  }
  const merged = new Map<string, Rule | Refine>();
  for (const [code, entries] of grouped) {
    const only = entries.length === 1 ? entries[0] : undefined;
    merged.set(
      code,
      only ??
        ((error: object) => {
          for (const entry of entries) {
            const found = typeof entry === 'function' ? entry(error) : entry;
            if (found !== undefined) return found;
          }
          return undefined;
        }),
    );
  }
  return merged;
}

const BY_CODE = mergeTables(TABLES);

/** Every code classify() looks up directly (the field guide in docs/faults.md lists them). */
export const KNOWN_CODES: readonly string[] = [...BY_CODE.keys()];

const UNKNOWN = rule('UNKNOWN', {
  kind: 'unknown',
  phase: 'unknown',
  transient: false,
  rank: RANK_WRAPPER - 1,
  hint: "not a fault holdfast recognises (see the message); if trying again can help, say so with retry's shouldRetry",
});

/** Cause chains are followed this deep and this wide; a longer chain is someone else's cycle. */
const MAX_DEPTH = 8;
const MAX_NODES = 64;
const MAX_MESSAGE = 1000;

const withCode = (found: Rule, code: string): Rule => (found.code === code ? found : { ...found, code });

/** Recognises an error by what it carries besides a known code: name, library markers, code family, message. */
function matchByShape(node: object, code: unknown): Rule | undefined {
  const name = readString(node, 'name');
  if (name !== undefined) {
    if (name.startsWith('Mongo')) return mongoRule(node, name);
    const byName =
      abortByName(node, name) ??
      (name === 'HTTPParserError' ? undiciParserError(node) : undefined) ??
      (name === 'HTTPError' ? gotHttpError(node) : undefined) ??
      (name === 'TypeError' ? fetchTypeError(node) : undefined);
    if (byName !== undefined) return byName;
  }
  if (isAxiosError(node)) {
    const response = axiosResponse(node);
    if (response !== undefined) return response;
  }
  if (typeof code === 'string') {
    if (isTlsCode(code)) return withCode(TLS_OTHER, code);
    if (code.startsWith('HPE_')) return withCode(HTTP_PARSER_OTHER, code);
    if (code.startsWith('WS_ERR_')) return withCode(WS_FRAMING_OTHER, code);
  }
  const message = readString(node, 'message');
  return message === undefined ? undefined : messageRule(message);
}

function messageRule(message: string): Rule | undefined {
  return wsMessageRule(message) ?? nodeMessageRule(message);
}

/** The rule one error says on its own, or undefined when it says nothing holdfast knows. */
function matchNode(node: object): Rule | undefined {
  const code = readProp(node, 'code');
  if (typeof code === 'string') {
    const entry = BY_CODE.get(code);
    if (entry !== undefined) {
      const found = typeof entry === 'function' ? entry(node) : entry;
      if (found !== undefined) return found;
    }
  }
  return matchByShape(node, code);
}

const KINDS: ReadonlySet<unknown> = new Set(FAULT_KINDS);
const PHASES: ReadonlySet<unknown> = new Set(FAULT_PHASES);

/** A Fault an error already carries (HoldfastError's `fault`), when it is a well-formed one. */
function carriedFault(error: object): Fault | undefined {
  const fault = readProp(error, 'fault');
  if (typeof fault !== 'object' || fault === null) return undefined;
  const f = fault as Record<string, unknown>;
  return KINDS.has(readProp(f, 'kind')) &&
    PHASES.has(readProp(f, 'phase')) &&
    typeof readProp(f, 'code') === 'string' &&
    typeof readProp(f, 'transient') === 'boolean' &&
    typeof readProp(f, 'hint') === 'string' &&
    typeof readProp(f, 'message') === 'string'
    ? (fault as Fault)
    : undefined;
}

function messageOf(node: object): string | undefined {
  const message = readString(node, 'message');
  if (message === undefined || message.length === 0) return undefined;
  return redactText(message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message);
}

function elementAt(list: readonly unknown[], index: number): unknown {
  try {
    return list[index];
  } catch {
    // An array Proxy whose get trap throws.
    return undefined;
  }
}

/** What the walk over a cause chain has found so far. */
class Walk {
  best: Rule | undefined;
  bestNode: object | undefined;
  bestDepth = -1;
  /** The outermost phase any error on the chain proves (fetch's `terminated` says response even when its cause cannot). */
  evidence: FaultPhase = 'unknown';
  unknownCode: string | undefined;
  unknownDepth = -1;
  carried: Fault | undefined;
  readonly seen = new Set<object>();

  visit(node: object, depth: number, found: Rule | undefined): void {
    if (this.seen.has(node) || this.seen.size >= MAX_NODES) return;
    this.seen.add(node);
    if (found !== undefined) {
      if (this.best === undefined || found.rank > this.best.rank || (found.rank === this.best.rank && depth > this.bestDepth)) {
        this.best = found;
        this.bestNode = node;
        this.bestDepth = depth;
      }
      if (this.evidence === 'unknown') this.evidence = found.phase;
    } else {
      const code = readProp(node, 'code');
      if ((typeof code === 'string' && code.length > 0) || typeof code === 'number') {
        if (depth > this.unknownDepth) {
          this.unknownCode = String(code);
          this.unknownDepth = depth;
        }
      }
    }
    if (depth >= MAX_DEPTH) return;
    const cause = readProp(node, 'cause');
    if (typeof cause === 'object' && cause !== null) this.child(cause, depth + 1);
    const errors = readProp(node, 'errors');
    if (isArray(errors)) {
      const count = Math.min(errors.length, MAX_NODES);
      for (let i = 0; i < count; i++) {
        const inner = elementAt(errors, i);
        if (typeof inner === 'object' && inner !== null) this.child(inner, depth + 1);
      }
    }
    const serverErrors = topologyServerErrors(node);
    if (serverErrors !== undefined) for (const inner of serverErrors) this.child(inner, depth + 1);
  }

  private child(node: object, depth: number): void {
    if (this.carried !== undefined || this.seen.has(node)) return;
    const carried = carriedFault(node);
    if (carried !== undefined) {
      this.carried = carried;
      return;
    }
    this.visit(node, depth, matchNode(node));
  }
}

/** A carried Fault that does not know its phase takes it from the caller's context (an attempt's own timeout). */
function withContextPhase(fault: Fault, context: FaultContext | undefined): Fault {
  if (fault.phase !== 'unknown' || !context) return fault;
  const phase = decidePhase(fault.kind, 'unknown', context);
  return phase === 'unknown' ? fault : { ...fault, phase };
}

function classifyObject(root: object, context: FaultContext | undefined): Fault {
  const carried = carriedFault(root);
  if (carried !== undefined) return withContextPhase(carried, context);
  const found = matchNode(root);
  const cause = readProp(root, 'cause');
  const errors = readProp(root, 'errors');
  if ((typeof cause !== 'object' || cause === null) && !isArray(errors) && topologyServerErrors(root) === undefined) {
    // The common case, a lone error: no walk, no allocation but the Fault.
    if (found !== undefined) return faultFrom(found, messageOf(root) ?? '', context);
    const code = readProp(root, 'code');
    const unknown =
      typeof code === 'string' && code.length > 0 ? withCode(UNKNOWN, code) : typeof code === 'number' ? withCode(UNKNOWN, String(code)) : UNKNOWN;
    return faultFrom(unknown, messageOf(root) ?? '', context);
  }
  const walk = new Walk();
  walk.visit(root, 0, found);
  if (walk.carried !== undefined) return withContextPhase(walk.carried, context);
  let best = walk.best;
  let node = walk.bestNode ?? root;
  if (best === undefined || (best.rank <= RANK_WRAPPER && walk.unknownCode !== undefined && walk.unknownDepth > walk.bestDepth)) {
    // Nothing on the chain names the fault: report the innermost code it carries.
    best = withCode(best?.rank === RANK_WRAPPER ? { ...UNKNOWN, phase: best.phase } : UNKNOWN, walk.unknownCode ?? 'UNKNOWN');
    node = root;
  }
  const evidence = best.phase !== 'unknown' ? best.phase : walk.evidence;
  return faultFrom(best, messageOf(node) ?? messageOf(root) ?? '', context, evidence);
}

function classifyPrimitive(value: unknown, context: FaultContext | undefined): Fault {
  if (typeof value === 'string') {
    const message = redactText(value.length > MAX_MESSAGE ? `${value.slice(0, MAX_MESSAGE)}…` : value);
    return faultFrom(messageRule(value) ?? UNKNOWN, message, context);
  }
  const message = typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? String(value) : '';
  return faultFrom(UNKNOWN, message, context);
}

const LAST_RESORT: Fault = Object.freeze({
  kind: 'unknown',
  code: 'UNKNOWN',
  phase: 'unknown',
  transient: false,
  hint: UNKNOWN.hint,
  message: '',
});

/**
 * What happened: anything thrown, rejected or emitted, turned into a Fault.
 * Follows `cause` and `AggregateError.errors` (cycle-safe, bounded) and keeps
 * the error that says most, the innermost on a tie; `context` sharpens the
 * phase. An error that already carries a Fault (HoldfastError) returns it
 * unchanged (its phase from `context` when it says `unknown`). Never throws.
 */
export function classify(error: unknown, context?: FaultContext): Fault {
  try {
    if ((typeof error === 'object' && error !== null) || typeof error === 'function') return classifyObject(error, context);
    return classifyPrimitive(error, context);
  } catch {
    // Only a context whose getters throw can get here; the error itself is read defensively.
    return LAST_RESORT;
  }
}
