import type { Schedule } from './schedule.js';

/**
 * Where a public name changes, the old one keeps working for one release and
 * says so once: a `DeprecationWarning` with a `HOLDFAST_DEP…` code (so
 * `--no-deprecation`, `--throw-deprecation` and `process.on('warning')`
 * treat it like Node's own), emitted the first time the old name is used,
 * never again in the process.
 */
const warned = new Set<string>();

export function warnDeprecated(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { type: 'DeprecationWarning', code });
}

/** The same schedule under an old name: it warns the first time a delay is asked of it. */
export function deprecatedSchedule(schedule: Schedule, code: string, message: string): Schedule {
  return {
    description: schedule.description,
    next(context) {
      warnDeprecated(code, message);
      return schedule.next(context);
    },
  };
}

/**
 * Adds `oldName` to a payload as a getter for the value under its new name
 * that warns when read. Not enumerable: copies (the diagnostics channel's,
 * `{ ...payload }`, JSON) carry only the new name.
 */
export function withDeprecatedField<T extends object>(payload: T, oldName: string, value: unknown, code: string, message: string): T {
  Object.defineProperty(payload, oldName, {
    get() {
      warnDeprecated(code, message);
      return value;
    },
    enumerable: false,
  });
  return payload;
}

/**
 * A record that used to be a number (`stats().dropped`, `shouldReconnect`'s
 * second argument): arithmetic and comparisons with it still work, through
 * `Symbol.toPrimitive`, and warn. `===` against a number does not.
 */
export function numberLike<T extends object>(record: T, value: number, code: string, message: string): T {
  Object.defineProperty(record, Symbol.toPrimitive, {
    value: () => {
      warnDeprecated(code, message);
      return value;
    },
    enumerable: false,
  });
  return record;
}
