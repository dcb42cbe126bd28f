/**
 * Option checking shared by every holdfast object: one place that rejects
 * unknown keys (with a did-you-mean hint), tests each value and words the
 * error the same way, so an error names the option the user wrote, the value
 * given and what is accepted. Nothing is built just to check options: each
 * object's rules are plain data, and sub-objects (`queue`, `heartbeat`,
 * `breaker`, `budget`) are checked with their own rules under a dotted name
 * (`queue.maxBytes`).
 */

/** setTimeout fires at once (with a warning) for anything longer than 2^31-1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** One option's test and the words an error uses for what it accepts. */
export interface OptionRule {
  readonly test: (value: unknown) => boolean;
  /** Completes "option 'x' must be …", e.g. `an integer number of milliseconds from 1 to 2147483647`. */
  readonly accepted: string;
}

export type OptionRules = Readonly<Record<string, OptionRule>>;

export interface CheckOptionsSettings {
  /**
   * Names other libraries use for an accepted option, so a ported call fails
   * with a pointer instead of being ignored: `{ retries: 'attempts (which counts the first attempt too)' }`.
   */
  readonly familiar?: Readonly<Record<string, string>>;
  /** Prefix for option names in errors, for a nested object: `'queue'` gives `queue.maxBytes`. */
  readonly path?: string;
}

/**
 * Checks `options` against `rules` and throws the first problem: a
 * `TypeError` for something that is not an options object or an unknown key,
 * a `RangeError` for a value out of range. `undefined` values are skipped
 * (the default applies). Returns the options, typed.
 */
export function checkOptions<T extends object>(where: string, options: T | undefined, rules: OptionRules, settings?: CheckOptionsSettings): T {
  const problem = optionsProblem(where, options, rules, settings);
  if (problem !== undefined) throw problem;
  return (options ?? {}) as T;
}

/** Like `checkOptions`, but returns the error instead of throwing it (for calls that reject rather than throw). */
export function optionsProblem(
  where: string,
  options: unknown,
  rules: OptionRules,
  settings: CheckOptionsSettings = {},
): TypeError | RangeError | undefined {
  if (options === undefined) return undefined;
  const prefix = settings.path === undefined ? '' : `${settings.path}.`;
  if (!isPlainObject(options)) {
    const what = settings.path === undefined ? 'options' : `option '${settings.path}'`;
    return new TypeError(`${where}: ${what} must be an object, got ${formatValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    const rule = rules[key];
    if (rule === undefined) {
      const hint = settings.familiar?.[key] ?? closestName(key, Object.keys(rules));
      return new TypeError(
        `${where}: unknown option '${prefix}${key}'${hint === undefined ? '' : ` (did you mean ${hint}?)`}; accepted: ${Object.keys(rules).join(', ')}`,
      );
    }
    const value = options[key];
    if (value !== undefined && !rule.test(value)) return optionError(where, `${prefix}${key}`, value, rule.accepted);
  }
  return undefined;
}

/** The error for one bad value: names the option, the value given and what is accepted. */
export function optionError(where: string, option: string, value: unknown, accepted: string): RangeError {
  return new RangeError(`${where}: option '${option}' must be ${accepted}, got ${formatValue(value)}`);
}

/** Formats a rejected value for an error message without leaking big objects or long strings. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  return Array.isArray(value) ? 'an array' : typeof value;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const isIntegerIn = (value: unknown, min: number, max: number): boolean =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

const isNumberIn = (value: unknown, min: number, max: number): boolean =>
  typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;

/** Ready-made rules; each returns a fresh `OptionRule`. */
export const rule = {
  /** Milliseconds a timer can hold: an integer from `min` (default 1) to 2^31-1. */
  timerMs(min = 1): OptionRule {
    return { test: (v) => isIntegerIn(v, min, MAX_TIMER_MS), accepted: `an integer number of milliseconds from ${min} to ${MAX_TIMER_MS}` };
  },
  /** Like `timerMs`, or `Infinity` for "never". */
  timerMsOrInfinity(min = 1): OptionRule {
    return {
      test: (v) => v === Number.POSITIVE_INFINITY || isIntegerIn(v, min, MAX_TIMER_MS),
      accepted: `an integer number of milliseconds from ${min} to ${MAX_TIMER_MS}, or Infinity`,
    };
  },
  integer(min: number, max: number = Number.MAX_SAFE_INTEGER): OptionRule {
    return {
      test: (v) => isIntegerIn(v, min, max),
      accepted: max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`,
    };
  },
  /** An integer from `min`, or `Infinity` for "no limit". */
  integerOrInfinity(min: number): OptionRule {
    return {
      test: (v) => v === Number.POSITIVE_INFINITY || isIntegerIn(v, min, Number.MAX_SAFE_INTEGER),
      accepted: `an integer >= ${min}, or Infinity`,
    };
  },
  number(min: number, max: number = Number.MAX_VALUE): OptionRule {
    return {
      test: (v) => isNumberIn(v, min, max),
      accepted: max === Number.MAX_VALUE ? `a finite number >= ${min}` : `a number from ${min} to ${max}`,
    };
  },
  boolean(): OptionRule {
    return { test: (v) => typeof v === 'boolean', accepted: 'true or false' };
  },
  string(): OptionRule {
    return { test: (v) => typeof v === 'string' && v.length > 0, accepted: 'a non-empty string' };
  },
  /** A function; `shape` documents its signature, e.g. `(fault, context) => boolean`. */
  function(shape = 'a function'): OptionRule {
    return { test: (v) => typeof v === 'function', accepted: shape === 'a function' ? shape : `a function ${shape}` };
  },
  oneOf(values: readonly (string | number | boolean)[]): OptionRule {
    const words = values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v)));
    const accepted = words.length === 1 ? (words[0] as string) : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1] as string}`;
    return { test: (v) => values.includes(v as string), accepted };
  },
  /** A plain object (its own keys are checked by its own rules). */
  object(what = 'an object'): OptionRule {
    return { test: isPlainObject, accepted: what };
  },
  /** `false` (the feature off) or an options object. */
  objectOrFalse(what: string): OptionRule {
    return { test: (v) => v === false || isPlainObject(v), accepted: `${what} or false` };
  },
  instanceOf(type: abstract new (...args: never[]) => unknown, what: string): OptionRule {
    return { test: (v) => v instanceof type, accepted: what };
  },
  signal(): OptionRule {
    return {
      test: (v) =>
        typeof v === 'object' &&
        v !== null &&
        typeof (v as AbortSignal).aborted === 'boolean' &&
        typeof (v as AbortSignal).addEventListener === 'function',
      accepted: 'an AbortSignal',
    };
  },
  /** A backoff `Schedule` from @holdfast/core (an object with `next(context)`). */
  schedule(): OptionRule {
    return {
      test: (v) => typeof v === 'object' && v !== null && typeof (v as { next?: unknown }).next === 'function',
      accepted: 'a Schedule from @holdfast/core (an object with next(context))',
    };
  },
  /** Either of two rules. */
  either(first: OptionRule, second: OptionRule): OptionRule {
    return { test: (v) => first.test(v) || second.test(v), accepted: `${first.accepted}, or ${second.accepted}` };
  },
} as const;

/**
 * The accepted name closest to a misspelt one: same letters in another case,
 * the name without its unit (`ttl` for `ttlMs`), or within a small edit
 * distance (one edit per three letters, at least one).
 */
function closestName(given: string, accepted: readonly string[]): string | undefined {
  const lower = given.toLowerCase();
  const withUnit = accepted.find(
    (name) => lower.length >= 3 && name.toLowerCase().startsWith(lower) && /^(ms|bytes|items)$/i.test(name.slice(given.length)),
  );
  if (withUnit !== undefined) return withUnit;
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(given.length / 3)) + 1;
  for (const name of accepted) {
    if (name.toLowerCase() === lower) return name;
    const distance = editDistance(lower, name.toLowerCase(), bestDistance);
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, giving up (returning `limit`) once it cannot be below `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
      current.push(value);
      if (value < rowMin) rowMin = value;
    }
    if (rowMin >= limit) return limit;
    previous = current;
  }
  return Math.min(previous[b.length] as number, limit);
}
