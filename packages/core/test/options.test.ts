import { describe, expect, it } from 'vitest';
import { MAX_TIMER_MS, checkOptions, optionsProblem, rule, type OptionRules } from '../src/internal.js';

const rules: OptionRules = {
  attempts: rule.integerOrInfinity(1),
  delayMs: rule.timerMs(0),
  mode: rule.oneOf(['fast', 'safe']),
  name: rule.string(),
  onEvent: rule.function('(event) => void'),
  queue: rule.objectOrFalse('queue options ({ maxItems?, maxBytes? })'),
};

describe('checkOptions', () => {
  it('returns the options when every key is known and every value fits', () => {
    const options = { attempts: Infinity, delayMs: 0, mode: 'safe', name: 'x', onEvent: () => {}, queue: false };
    expect(checkOptions('Thing', options, rules)).toBe(options);
    expect(checkOptions('Thing', undefined, rules)).toEqual({});
  });

  it('skips undefined values: the default applies', () => {
    expect(() => checkOptions('Thing', { attempts: undefined }, rules)).not.toThrow();
  });

  it('rejects a value with the option, the value and what is accepted', () => {
    expect(() => checkOptions('Thing', { delayMs: -1 }, rules)).toThrow(
      new RangeError(`Thing: option 'delayMs' must be an integer number of milliseconds from 0 to ${MAX_TIMER_MS}, got -1`),
    );
    expect(() => checkOptions('Thing', { delayMs: MAX_TIMER_MS + 1 }, rules)).toThrow(/delayMs/);
    expect(() => checkOptions('Thing', { mode: 'quick' }, rules)).toThrow("option 'mode' must be 'fast' or 'safe', got \"quick\"");
    expect(() => checkOptions('Thing', { onEvent: 1 }, rules)).toThrow('must be a function (event) => void, got 1');
    expect(() => checkOptions('Thing', { queue: true }, rules)).toThrow('must be queue options ({ maxItems?, maxBytes? }) or false, got true');
  });

  it('rejects an unknown key and points at the closest accepted name', () => {
    expect(() => checkOptions('Thing', { atempts: 3 }, rules)).toThrow(
      new TypeError("Thing: unknown option 'atempts' (did you mean attempts?); accepted: attempts, delayMs, mode, name, onEvent, queue"),
    );
    expect(() => checkOptions('Thing', { DelayMS: 3 }, rules)).toThrow('(did you mean delayMs?)');
    // Nothing close: no guess.
    expect(() => checkOptions('Thing', { colour: 'red' }, rules)).toThrow(/unknown option 'colour'; accepted:/);
  });

  it('points a familiar name from another library at the accepted one', () => {
    expect(() => checkOptions('Thing', { retries: 3 }, rules, { familiar: { retries: 'attempts (which counts the first attempt too)' } })).toThrow(
      "unknown option 'retries' (did you mean attempts (which counts the first attempt too)?)",
    );
  });

  it('names nested options with their path', () => {
    expect(() => checkOptions('Thing', { maxItem: 3 }, { maxItems: rule.integer(1) }, { path: 'queue' })).toThrow(
      "Thing: unknown option 'queue.maxItem' (did you mean maxItems?)",
    );
    expect(() => checkOptions('Thing', 5 as unknown as object, {}, { path: 'queue' })).toThrow(
      new TypeError("Thing: option 'queue' must be an object, got 5"),
    );
  });

  it('rejects options that are not an object', () => {
    expect(optionsProblem('Thing', 'fast', rules)).toEqual(new TypeError('Thing: options must be an object, got "fast"'));
    expect(optionsProblem('Thing', [1], rules)?.message).toBe('Thing: options must be an object, got an array');
    expect(optionsProblem('Thing', null, rules)?.message).toBe('Thing: options must be an object, got null');
  });

  it('words the ready-made rules', () => {
    expect(rule.integer(1).accepted).toBe('an integer >= 1');
    expect(rule.integer(1, 10).accepted).toBe('an integer from 1 to 10');
    expect(rule.number(0, 1).accepted).toBe('a number from 0 to 1');
    expect(rule.number(0).test(Number.NaN)).toBe(false);
    expect(rule.timerMsOrInfinity().test(Infinity)).toBe(true);
    expect(rule.signal().test(new AbortController().signal)).toBe(true);
    expect(rule.signal().test({})).toBe(false);
    expect(rule.either(rule.boolean(), rule.integer(0)).accepted).toBe('true or false, or an integer >= 0');
    expect(rule.oneOf(['a']).accepted).toBe("'a'");
  });
});
