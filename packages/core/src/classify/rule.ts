import type { FaultKind, FaultPhase } from '../fault.js';

/**
 * What one error says on its own: a row of a rule table. Tables hold frozen
 * rules built once at load, so classifying a known code allocates nothing but
 * the Fault it returns.
 */
export interface Rule {
  readonly kind: FaultKind;
  readonly code: string;
  /** The phase this error proves by itself (`unknown` when it proves none). */
  readonly phase: FaultPhase;
  readonly transient: boolean;
  readonly hint: string;
  /**
   * How much the rule says, to pick one error out of a cause chain: a wrapper
   * (`fetch failed`) says less than the system error inside it. Equal ranks go
   * to the innermost error.
   */
  readonly rank: number;
  readonly status?: number;
  readonly retryAfterMs?: number;
}

/** Ranks, from "only wraps another error" to "a concrete code that names the fault". */
export const RANK_WRAPPER = 0;
export const RANK_GENERIC = 1;
export const RANK_LOCAL = 2;
export const RANK_CONCRETE = 3;

/**
 * A rule that depends on more than the code (syscall, message, a library's
 * extra fields). `undefined` passes the error on to the next table that knows
 * the same code (axios and got reuse Node's `ETIMEDOUT`).
 */
export type Refine = (error: object) => Rule | undefined;

export type RuleTable = ReadonlyMap<string, Rule | Refine>;

type RuleSpec = Omit<Rule, 'code' | 'rank'> & { readonly rank?: number };

export function rule(code: string, spec: RuleSpec): Rule {
  return Object.freeze({ rank: RANK_CONCRETE, ...spec, code });
}

/** A table from `{ CODE: spec }`; each rule's code is its key. */
export function ruleTable(specs: Readonly<Record<string, RuleSpec | Refine>>): Map<string, Rule | Refine> {
  const table = new Map<string, Rule | Refine>();
  for (const [code, spec] of Object.entries(specs)) {
    table.set(code, typeof spec === 'function' ? spec : rule(code, spec));
  }
  return table;
}
