import { describeValue, invalidOption, isNonNegativeInteger, isNonNegativeNumber } from './option-error.js';

/**
 * Toxics use Toxiproxy's vocabulary (types, attribute names and units), so a
 * test written against Toxiproxy reads the same here. Attributes marked as
 * holdfast extensions do not exist in Toxiproxy.
 */
export type ToxicType = 'latency' | 'bandwidth' | 'slow_close' | 'timeout' | 'reset_peer' | 'slicer' | 'limit_data';

/** `upstream`: client -> server data; `downstream`: server -> client data. */
export type ToxicStream = 'upstream' | 'downstream';

export const TOXIC_TYPES: readonly ToxicType[] = ['latency', 'bandwidth', 'slow_close', 'timeout', 'reset_peer', 'slicer', 'limit_data'];

export const TOXIC_STREAMS: readonly ToxicStream[] = ['upstream', 'downstream'];

export interface LatencyAttributes {
  /** Milliseconds added to every chunk. Default 0. */
  readonly latency?: number;
  /** Milliseconds of uniform random variation, +/- around `latency`. Default 0. */
  readonly jitter?: number;
}

export interface BandwidthAttributes {
  /** KB/s (1 KB = 1000 bytes); 0 means unlimited. Default 0. */
  readonly rate?: number;
}

export interface SlowCloseAttributes {
  /** Milliseconds between the close arriving and it being forwarded. Default 0. */
  readonly delay?: number;
}

export interface TimeoutAttributes {
  /** Milliseconds until the connection is closed; all data is dropped meanwhile. 0: never close. Default 0. */
  readonly timeout?: number;
}

export interface ResetPeerAttributes {
  /** Milliseconds between the toxic triggering and the RST. Default 0. */
  readonly timeout?: number;
  /** holdfast extension: bytes let through before the toxic triggers. Default 0 (the first byte triggers it). */
  readonly after_bytes?: number;
}

export interface SlicerAttributes {
  /** Average slice size in bytes (required, >= 1). */
  readonly average_size?: number;
  /** Bytes of random variation around `average_size`, smaller than it. Default 0. */
  readonly size_variation?: number;
  /** Microseconds between slices. Default 0. */
  readonly delay?: number;
}

export interface LimitDataAttributes {
  /** Bytes let through in this direction before the connection is closed. Default 0. */
  readonly bytes?: number;
}

export interface ToxicAttributesByType {
  latency: LatencyAttributes;
  bandwidth: BandwidthAttributes;
  slow_close: SlowCloseAttributes;
  timeout: TimeoutAttributes;
  reset_peer: ResetPeerAttributes;
  slicer: SlicerAttributes;
  limit_data: LimitDataAttributes;
}

interface ToxicOptionsOf<T extends ToxicType> {
  /** Unique on the proxy. Default `<type>_<stream>` (as Toxiproxy names them). */
  readonly name?: string;
  readonly type: T;
  /** Default `downstream` (as in Toxiproxy). */
  readonly stream?: ToxicStream;
  /** Probability (0..1) that the toxic applies to a given connection. Default 1. */
  readonly toxicity?: number;
  readonly attributes?: ToxicAttributesByType[T];
}

/** What `addToxic()` accepts. */
export type ToxicOptions = { [T in ToxicType]: ToxicOptionsOf<T> }[ToxicType];

interface ToxicOf<T extends ToxicType> {
  readonly name: string;
  readonly type: T;
  readonly stream: ToxicStream;
  readonly toxicity: number;
  /** Every attribute, defaults filled in. */
  readonly attributes: Readonly<Required<ToxicAttributesByType[T]>>;
}

/** A toxic as the proxy holds it: validated, defaults filled in. */
export type Toxic = { [T in ToxicType]: ToxicOf<T> }[ToxicType];

interface AttributeRule {
  readonly accepted: string;
  readonly valid: (value: unknown) => boolean;
  /** undefined: the attribute is required. */
  readonly default: number | undefined;
}

const MILLISECONDS: AttributeRule = { accepted: 'a number >= 0 (milliseconds)', valid: isNonNegativeNumber, default: 0 };
const BYTES: AttributeRule = { accepted: 'an integer >= 0 (bytes)', valid: isNonNegativeInteger, default: 0 };

const ATTRIBUTE_RULES: { readonly [T in ToxicType]: { readonly [K in keyof Required<ToxicAttributesByType[T]>]: AttributeRule } } = {
  latency: { latency: MILLISECONDS, jitter: MILLISECONDS },
  bandwidth: { rate: { accepted: 'a number >= 0 (KB/s, 0 = unlimited)', valid: isNonNegativeNumber, default: 0 } },
  slow_close: { delay: MILLISECONDS },
  timeout: { timeout: MILLISECONDS },
  reset_peer: { timeout: MILLISECONDS, after_bytes: BYTES },
  slicer: {
    average_size: {
      accepted: 'an integer >= 1 (bytes)',
      valid: (v) => isNonNegativeInteger(v) && v >= 1,
      default: undefined,
    },
    size_variation: BYTES,
    delay: { accepted: 'a number >= 0 (microseconds)', valid: isNonNegativeNumber, default: 0 },
  },
  limit_data: { bytes: BYTES },
};

const NAME_PATTERN = /^[\w.:-]{1,100}$/;

/**
 * Validates what the caller passed to `addToxic()` and fills in the defaults.
 * Unknown attributes are refused: a misspelt attribute silently ignored would
 * make a test pass for the wrong reason.
 */
export function normalizeToxic(options: unknown, where = 'addToxic'): Toxic {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(where, 'toxic', 'an object { type, stream?, name?, toxicity?, attributes? }', options);
  }
  const given = options as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!['name', 'type', 'stream', 'toxicity', 'attributes'].includes(key)) {
      throw new RangeError(`${where}: unknown toxic option '${key}' (accepted: name, type, stream, toxicity, attributes)`);
    }
  }
  const type = given.type;
  if (typeof type !== 'string' || !(TOXIC_TYPES as readonly string[]).includes(type)) {
    throw invalidOption(where, 'type', `one of ${TOXIC_TYPES.join(', ')}`, type);
  }
  const stream = given.stream ?? 'downstream';
  if (typeof stream !== 'string' || !(TOXIC_STREAMS as readonly string[]).includes(stream)) {
    throw invalidOption(where, 'stream', `'upstream' (client -> server) or 'downstream' (server -> client)`, stream);
  }
  const toxicity = given.toxicity ?? 1;
  if (typeof toxicity !== 'number' || !(toxicity >= 0 && toxicity <= 1)) {
    throw invalidOption(where, 'toxicity', 'a number from 0 to 1', toxicity);
  }
  const name = given.name ?? `${type}_${stream}`;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw invalidOption(where, 'name', 'a string of 1 to 100 letters, digits, _ . : -', name);
  }
  const attributes = normalizeAttributes(type as ToxicType, given.attributes ?? {}, where);
  return { name, type, stream, toxicity, attributes } as Toxic;
}

function normalizeAttributes(type: ToxicType, attributes: unknown, where: string): Record<string, number> {
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    throw invalidOption(where, 'attributes', `an object of ${type} attributes`, attributes);
  }
  const rules = ATTRIBUTE_RULES[type] as Record<string, AttributeRule>;
  const given = attributes as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(key in rules)) {
      throw new RangeError(`${where}: unknown attribute '${key}' for a ${type} toxic (accepted: ${Object.keys(rules).join(', ')})`);
    }
  }
  const out: Record<string, number> = {};
  for (const [key, rule] of Object.entries(rules)) {
    const value = given[key] ?? rule.default;
    if (value === undefined) {
      throw new RangeError(`${where}: attribute '${key}' is required for a ${type} toxic: ${rule.accepted}`);
    }
    if (!rule.valid(value)) throw invalidOption(where, `attributes.${key}`, rule.accepted, value);
    out[key] = value as number;
  }
  if (type === 'slicer' && (out.size_variation ?? 0) >= (out.average_size ?? 0)) {
    throw new RangeError(
      `${where}: option 'attributes.size_variation' must be smaller than average_size (${describeValue(out.average_size)}), got ${describeValue(out.size_variation)}`,
    );
  }
  return out;
}
