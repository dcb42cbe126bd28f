import type { Readable } from 'node:stream';
import { checkOptions, formatValue, rule } from '@holdfast/core/internal';
import type { Dispatcher } from 'undici';
import { RangeNotResumableError, requestRange, type RangeAnswer, type RangeValidator } from './range-opener.js';

export interface HttpSourceOptions {
  /** undici dispatcher to send through (one that follows redirects, or with a proxy). Default: the global one. */
  readonly dispatcher?: Dispatcher;
  /** Sent with every request (`authorization`, …). `range`, `accept-encoding` and the conditions are set by the source. */
  readonly headers?: Record<string, string>;
  /**
   * Refuse to resume an entity that has no strong validator (a strong ETag,
   * or a `Last-Modified` at least a second older than the response's `Date`):
   * without one, nothing proves the bytes after the break belong to the same
   * entity as those before. Default `true`; `false` resumes anyway, checking
   * only the length.
   */
  readonly requireValidator?: boolean;
}

/**
 * What `open` reads from its second argument: the shape `@holdfast/stream`'s
 * `resumablePipeline` passes (this package does not depend on it).
 */
export interface HttpSourceContext {
  /** Aborts the request (the pipe abandons this open). */
  readonly signal?: AbortSignal;
  /** Told the entity's length as soon as a response states it. */
  readonly setTotal?: (bytes: number) => void;
}

/** Opens the entity at a byte offset; resolves with the body from there on. */
export type HttpSource = (offset: number, context?: HttpSourceContext) => Promise<Readable>;

const RULES = {
  // Checked by shape: a dispatcher from the application's own copy of undici is not an instance of ours.
  dispatcher: {
    test: (v: unknown) => typeof v === 'object' && v !== null && typeof (v as { dispatch?: unknown }).dispatch === 'function',
    accepted: 'an undici Dispatcher (Agent, Pool, Client, or one composed with interceptors)',
  },
  headers: rule.object('an object of header names to string values'),
  requireValidator: rule.boolean(),
};

/**
 * A download as a resumable source: `open(0)` sends a plain GET and learns
 * the entity (length, ETag, Last-Modified, encoding); `open(offset)` asks for
 * the rest with `Range` and the conditions that make a changed entity fail
 * instead of splicing, and checks the answer (206 at exactly `offset`,
 * `Content-Range` consistent with the length, identity encoding, same
 * validators). A 416 saying the entity ends at `offset` resolves with an empty
 * body. Every refusal is a `RangeNotResumableError` with its reason.
 *
 * One source is one download: `open(0)` starts over and forgets what the
 * previous one learned.
 */
export function httpSource(url: string | URL, options: HttpSourceOptions = {}): HttpSource {
  const { dispatcher, headers, requireValidator = true } = checkOptions('httpSource', options, RULES);
  if (!(typeof url === 'string' || url instanceof URL)) throw new TypeError(`httpSource: 'url' must be a string or a URL, got ${formatValue(url)}`);
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new TypeError(`httpSource: 'url' must be an http: or https: URL, got ${formatValue(target.protocol)}`);
  }
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value !== 'string') throw new TypeError(`httpSource: header '${name}' must be a string, got ${formatValue(value)}`);
  }
  const requestOptions = { ...(dispatcher === undefined ? {} : { dispatcher }), ...(headers === undefined ? {} : { headers }) };
  let entity: KnownEntity | undefined;

  return async (offset, context = {}) => {
    if (!(Number.isSafeInteger(offset) && offset >= 0))
      throw new RangeError(`httpSource: 'offset' must be an integer >= 0, got ${formatValue(offset)}`);
    const signal = context.signal;
    const send = { ...requestOptions, ...(signal === undefined ? {} : { signal }) };
    let answer: RangeAnswer;
    if (offset === 0) {
      answer = await requestRange(target, 0, {}, send);
      entity = learn(answer);
    } else {
      const known = entity;
      answer = await requestRange(target, offset, resumeValidator(known, requireValidator), send);
      // A length first stated by a Content-Range (the first answer was chunked) binds every later answer.
      if (known !== undefined && known.validator.length === undefined && answer.length !== undefined) {
        entity = { ...known, validator: { ...known.validator, length: answer.length } };
      }
    }
    const length = entity?.validator.length;
    if (length !== undefined) context.setTotal?.(length);
    return answer.body;
  };
}

/** What the first answer said about the entity. */
interface KnownEntity {
  /** What later requests send as conditions and compare answers with: only validators that can guard a splice. */
  readonly validator: RangeValidator;
  /** Why `validator` has no strong validator in it, when it has none. */
  readonly weakness: string | undefined;
  readonly contentEncoding: string | undefined;
}

function learn(answer: RangeAnswer): KnownEntity {
  const { etag, lastModified, date, length, contentEncoding } = answer;
  const strongEtag = etag !== undefined && !etag.startsWith('W/') ? etag : undefined;
  const strongDate = lastModified !== undefined && isStrongDate(lastModified, date) ? lastModified : undefined;
  let weakness: string | undefined;
  if (strongEtag === undefined && strongDate === undefined) {
    if (etag !== undefined) weakness = `its only ETag (${etag}) is weak`;
    else if (lastModified !== undefined)
      weakness = `its Last-Modified (${lastModified}) is less than a second older than its Date (${date ?? 'absent'})`;
  }
  const encoding = contentEncoding === undefined || contentEncoding.trim().toLowerCase() === 'identity' ? undefined : contentEncoding;
  return {
    validator: {
      // A weak ETag is still compared: if it changes, so did the entity.
      ...(etag === undefined ? {} : { etag }),
      ...(strongDate === undefined ? {} : { lastModified: strongDate }),
      ...(length === undefined ? {} : { length }),
    },
    weakness,
    contentEncoding: encoding,
  };
}

/**
 * RFC 9110 §8.8.2.2: a Last-Modified is a strong validator for a client only
 * when the response's Date is at least one second later (the entity cannot
 * have changed twice within the second the date names).
 */
function isStrongDate(lastModified: string, date: string | undefined): boolean {
  const modifiedAt = Date.parse(lastModified);
  const sentAt = date === undefined ? Number.NaN : Date.parse(date);
  return Number.isFinite(modifiedAt) && Number.isFinite(sentAt) && sentAt - modifiedAt >= 1000;
}

/** The conditions for a resume, or the refusal when the first answer cannot support one. */
function resumeValidator(entity: KnownEntity | undefined, requireValidator: boolean): RangeValidator {
  if (entity === undefined) {
    if (!requireValidator) return {};
    throw new RangeNotResumableError('no-validator', 'nothing is known about the entity yet: open it from byte 0 first');
  }
  if (entity.contentEncoding !== undefined) {
    throw new RangeNotResumableError(
      'encoded',
      `the entity came with Content-Encoding ${entity.contentEncoding}: its bytes count the encoding, which need not be the same in another response`,
    );
  }
  const { etag, lastModified, length } = entity.validator;
  const strong = (etag !== undefined && !etag.startsWith('W/')) || lastModified !== undefined;
  if (strong) return entity.validator;
  if (requireValidator) {
    if (entity.weakness !== undefined) throw new RangeNotResumableError('weak-validator', `the entity has no strong validator: ${entity.weakness}`);
    throw new RangeNotResumableError(
      'no-validator',
      'the entity has neither an ETag nor a Last-Modified, so nothing proves a resumed range belongs to it',
    );
  }
  // Only the length is left to check (a weak ETag alone would make the request refuse).
  return length === undefined ? {} : { length };
}
