import { checkOptions, optionError, rule, type OptionRule, type OptionRules } from './options.js';

/**
 * The one shape of a send queue's options, the same in core's
 * `OutboundQueue` and in every object that holds what is sent while it is
 * disconnected (`queue` of net's ReconnectingSocket, ws's
 * ReconnectingWebSocket, otlp's exporters): same names, same defaults, same
 * checks and words in errors.
 */
export type OverflowPolicy = 'reject' | 'drop-oldest' | 'drop-newest';

export interface QueueOptions {
  /** Most items held at once. Default 10 000. */
  readonly maxItems?: number;
  /** Most bytes held at once. Default 8 MiB. */
  readonly maxBytes?: number;
  /**
   * What a full queue does with one more item. Default `'drop-oldest'`: in a
   * long outage the newest data is usually the most useful. `'reject'` throws
   * `QueueFullError` and the caller keeps the item.
   */
  readonly overflow?: OverflowPolicy;
  /** From this many items, a send returns false until `'drain'`. Default min(1024, maxItems). */
  readonly highWaterMarkItems?: number;
  /** From this many bytes, a send returns false until `'drain'`. Default min(16 KiB, maxBytes), Node's stream default. */
  readonly highWaterMarkBytes?: number;
}

export interface ResolvedQueueOptions {
  readonly maxItems: number;
  readonly maxBytes: number;
  readonly overflow: OverflowPolicy;
  readonly highWaterMarkItems: number;
  readonly highWaterMarkBytes: number;
}

export const QUEUE_DEFAULTS: { readonly maxItems: number; readonly maxBytes: number; readonly overflow: OverflowPolicy } = Object.freeze({
  maxItems: 10_000,
  maxBytes: 8 * 1024 * 1024,
  overflow: 'drop-oldest',
});

const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['reject', 'drop-oldest', 'drop-newest'];

const count: OptionRule = {
  test: (v) => typeof v === 'number' && ((Number.isInteger(v) && v >= 1) || v === Number.POSITIVE_INFINITY),
  accepted: 'an integer >= 1 or Infinity',
};
const positive: OptionRule = { test: (v) => typeof v === 'number' && v > 0, accepted: 'a number > 0 or Infinity' };

/** The rules of `QueueOptions`, for `checkOptions` (the cross-checks of the high-water marks are `resolveQueueOptions`'s). */
export const queueOptionRules: OptionRules = {
  maxItems: count,
  maxBytes: positive,
  overflow: rule.oneOf(OVERFLOW_POLICIES),
  highWaterMarkItems: count,
  highWaterMarkBytes: positive,
};

// Shared by every queue that keeps the defaults: resolved options are read, never written.
const DEFAULT_RESOLVED: ResolvedQueueOptions = Object.freeze({
  ...QUEUE_DEFAULTS,
  highWaterMarkItems: 1024,
  highWaterMarkBytes: 16 * 1024,
});

/**
 * Checks queue options and fills in the defaults. `path` names the option in
 * errors (`'queue'` gives `queue.maxBytes`); `where` is the object the user
 * constructs. `rules` replaces `queueOptionRules` when an object accepts more
 * keys (its own, or old names) in the same object.
 */
export function resolveQueueOptions(
  where: string,
  options: QueueOptions | undefined,
  settings: { readonly path?: string; readonly rules?: OptionRules } = {},
): ResolvedQueueOptions {
  const path = settings.path;
  checkOptions(where, options, settings.rules ?? queueOptionRules, path === undefined ? undefined : { path });
  const o = options ?? {};
  if (o.maxItems === undefined && o.maxBytes === undefined && o.overflow === undefined) {
    if (o.highWaterMarkItems === undefined && o.highWaterMarkBytes === undefined) return DEFAULT_RESOLVED;
  }
  const { maxItems = QUEUE_DEFAULTS.maxItems, maxBytes = QUEUE_DEFAULTS.maxBytes, overflow = QUEUE_DEFAULTS.overflow } = o;
  const { highWaterMarkItems = Math.min(1024, maxItems), highWaterMarkBytes = Math.min(16 * 1024, maxBytes) } = o;
  const prefix = path === undefined ? '' : `${path}.`;
  if (highWaterMarkBytes > maxBytes) {
    throw optionError(where, `${prefix}highWaterMarkBytes`, highWaterMarkBytes, `a number > 0 and <= maxBytes (${maxBytes})`);
  }
  if (highWaterMarkItems > maxItems) {
    throw optionError(where, `${prefix}highWaterMarkItems`, highWaterMarkItems, `an integer >= 1 and <= maxItems (${maxItems})`);
  }
  return { maxItems, maxBytes, overflow, highWaterMarkItems, highWaterMarkBytes };
}
