import { PassThrough, Readable, pipeline } from 'node:stream';
import { HoldfastError, classify, classifyResponse, redactText } from '@holdfast/core';
import { formatValue } from '@holdfast/core/internal';
import { request, type Dispatcher } from 'undici';

/** What identifies the entity whose bytes were already received. */
export interface RangeValidator {
  /**
   * A strong ETag (`"abc"`) guards the splice with `If-Range` and `If-Match`. A weak one (`W/"abc"`)
   * cannot (RFC 9110 §13.1.5): it is only compared, and needs `lastModified` beside it.
   */
  readonly etag?: string;
  /** The `Last-Modified` the first response carried; sent as `If-Unmodified-Since` (and `If-Range` when there is no ETag). */
  readonly lastModified?: string;
  /** The entity's length in bytes, when known: an answer that gives another length is refused (`entity-changed`). */
  readonly length?: number;
}

export interface OpenRangeOptions {
  /** undici dispatcher to send through (a holdfast client's `dispatcher`, for retries). Default: the global one. */
  readonly dispatcher?: Dispatcher;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
}

/**
 * Why bytes from `offset` cannot be appended to what was received before:
 * - `range-ignored`: the server sent the whole entity (200) or a range that starts elsewhere
 * - `wrong-range`: a 206 whose `Content-Range` is missing, malformed or disagrees with its length
 * - `entity-changed`: another ETag, Last-Modified or length, or a 412 to `If-Match`/`If-Unmodified-Since`
 * - `not-satisfiable`: a 416 that does not say the entity ends at the offset, or an answer that is not a range
 * - `weak-validator`: only a weak validator is known, which cannot prove two byte ranges belong together
 * - `no-validator`: nothing identifies the entity (see `httpSource`'s `requireValidator`)
 * - `encoded`: a `Content-Encoding` other than identity, whose ranges count encoded bytes
 */
export type RangeRefusal = 'range-ignored' | 'wrong-range' | 'entity-changed' | 'not-satisfiable' | 'weak-validator' | 'no-validator' | 'encoded';

export class RangeNotResumableError extends HoldfastError {
  readonly refusal: RangeRefusal;

  constructor(refusal: RangeRefusal, detail: string) {
    super(`cannot resume: ${detail}`, {
      kind: 'protocol',
      code: `HOLDFAST_RANGE_${refusal.toUpperCase().replace(/-/g, '_')}`,
      phase: 'response',
      transient: false,
      hint: 'the bytes received so far cannot be completed safely; download the entity again from the start',
      message: detail,
    });
    this.refusal = refusal;
  }
}

/**
 * The rest of an entity from byte `offset`, as a Readable: `Range` asks for
 * it, `If-Range` makes the server send the whole (200) instead if the entity
 * changed. Anything but a 206 that starts exactly at `offset` (for the same
 * validator) is refused with `RangeNotResumableError`, never spliced; a 416
 * saying the entity ends at `offset` is an empty rest.
 */
export function openRange(url: string | URL, offset: number, validator: RangeValidator, options: OpenRangeOptions = {}): Readable {
  if (!(Number.isSafeInteger(offset) && offset >= 0)) {
    throw new RangeError(`openRange: 'offset' must be an integer >= 0, got ${formatValue(offset)}`);
  }
  const out = new PassThrough();
  requestRange(url, offset, validator, options).then(
    (answer) => pipeline(answer.body, out, () => undefined),
    (error: unknown) => out.destroy(error as Error),
  );
  return out;
}

/** A checked answer: the body to append, and what the response said about the entity. */
export interface RangeAnswer {
  /** The bytes from the offset on (empty when a 416 said the entity ends there). */
  readonly body: Readable;
  readonly status: number;
  /** The entity's length: a 200's `Content-Length`, a 206's or 416's `Content-Range` total. */
  readonly length: number | undefined;
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
  readonly date: string | undefined;
  readonly contentEncoding: string | undefined;
}

/**
 * Sends the GET for the bytes from `offset` (with the validator's
 * conditions) and checks the answer against the rules above. Resolves with
 * the body to append; rejects with `RangeNotResumableError`, or with a
 * `HoldfastError` carrying the classified fault (a 503, a reset, a refused
 * connection…), transient or not.
 */
export async function requestRange(url: string | URL, offset: number, validator: RangeValidator, options: OpenRangeOptions): Promise<RangeAnswer> {
  if (offset > 0 && validator.etag !== undefined && isWeak(validator.etag) && validator.lastModified === undefined) {
    throw new RangeNotResumableError('weak-validator', `the ETag ${validator.etag} is weak`);
  }
  const headers = requestHeaders(offset, validator, options.headers);
  let response: Dispatcher.ResponseData;
  try {
    response = await request(url, {
      headers,
      ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (error) {
    const fault = classify(error, { method: 'GET' });
    throw new HoldfastError(`GET ${redactText(String(url))}: ${fault.message}`, fault, { cause: error });
  }
  const verdict = offset === 0 ? checkWhole(response, validator) : checkPartial(response, offset, validator);
  if (verdict !== 'append') {
    // Destroying undici's body aborts its request, which reports the abort as an 'error' nobody else awaits.
    response.body.on('error', () => undefined);
    response.body.destroy();
    if (verdict !== 'complete') throw verdict;
  }
  return {
    body: verdict === 'complete' ? Readable.from([]) : response.body,
    status: response.statusCode,
    length: entityLength(response),
    etag: header(response, 'etag'),
    lastModified: header(response, 'last-modified'),
    date: header(response, 'date'),
    contentEncoding: header(response, 'content-encoding'),
  };
}

function requestHeaders(offset: number, validator: RangeValidator, given: Record<string, string> | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(given ?? {})) headers[name.toLowerCase()] = value;
  // Offsets count the bytes of the representation as sent; an encoding made on the fly need not give the same bytes twice.
  headers['accept-encoding'] = 'identity';
  if (offset === 0) return headers;
  headers.range = `bytes=${offset}-`;
  const { etag, lastModified } = validator;
  if (etag !== undefined && !isWeak(etag)) {
    // If-Match turns a changed entity into a cheap 412; If-Range still guards a server or cache that ignores If-Match.
    headers['if-range'] = etag;
    headers['if-match'] = etag;
  } else if (lastModified !== undefined) {
    headers['if-unmodified-since'] = lastModified;
    // RFC 9110 §13.1.5: an HTTP-date goes in If-Range only when the client has no entity tag at all.
    if (etag === undefined) headers['if-range'] = lastModified;
  }
  return headers;
}

type Verdict = 'append' | 'complete' | HoldfastError;

function checkWhole(response: Dispatcher.ResponseData, validator: RangeValidator): Verdict {
  const status = response.statusCode;
  if (status >= 400) return statusError(response);
  if (status !== 200) return notSatisfiable(status, 0);
  const length = entityLength(response);
  if (validator.length !== undefined && length !== undefined && length !== validator.length) {
    return new RangeNotResumableError('entity-changed', `the entity's length changed (${length} bytes, expected ${validator.length})`);
  }
  return changed(response, validator) ?? 'append';
}

function checkPartial(response: Dispatcher.ResponseData, offset: number, validator: RangeValidator): Verdict {
  const status = response.statusCode;
  if (status === 412) {
    return new RangeNotResumableError('entity-changed', 'the entity changed (412 Precondition Failed to If-Match / If-Unmodified-Since)');
  }
  if (status === 416) return endOfEntity(response, offset, validator);
  if (status >= 400) return statusError(response);
  if (status === 200) {
    return (
      changed(response, validator) ??
      new RangeNotResumableError('range-ignored', `the server ignored the range and sent the whole entity (200) for bytes from ${offset}`)
    );
  }
  if (status !== 206) return notSatisfiable(status, offset);
  const encoding = header(response, 'content-encoding');
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return new RangeNotResumableError('encoded', `the range came with Content-Encoding ${encoding}, whose byte ranges count encoded bytes`);
  }
  const contentRange = header(response, 'content-range') ?? '';
  const range = parseContentRange(contentRange);
  if (range === undefined) return new RangeNotResumableError('wrong-range', `the 206 has no usable Content-Range (${formatValue(contentRange)})`);
  if (range.start !== offset) {
    return new RangeNotResumableError('range-ignored', `the server sent a range starting at ${range.start}, not ${offset}`);
  }
  const declared = header(response, 'content-length');
  if (range.end === undefined || (range.length !== undefined && range.end >= range.length)) {
    return new RangeNotResumableError('wrong-range', `the Content-Range ${formatValue(contentRange)} is not a range of the entity`);
  }
  if (declared !== undefined && Number(declared) !== range.end - range.start + 1) {
    return new RangeNotResumableError('wrong-range', `the Content-Range ${formatValue(contentRange)} disagrees with Content-Length ${declared}`);
  }
  if (validator.length !== undefined && range.length !== undefined && range.length !== validator.length) {
    return new RangeNotResumableError('entity-changed', `the entity's length changed (${range.length} bytes, expected ${validator.length})`);
  }
  return changed(response, validator) ?? 'append';
}

/** A 416 is the end of a complete transfer when its `Content-Range: bytes *\/N` says the entity has exactly `offset` bytes. */
function endOfEntity(response: Dispatcher.ResponseData, offset: number, validator: RangeValidator): Verdict {
  const length = parseContentRange(header(response, 'content-range') ?? '')?.length;
  if (length !== undefined && validator.length !== undefined && length !== validator.length) {
    return new RangeNotResumableError('entity-changed', `the entity's length changed (${length} bytes, expected ${validator.length})`);
  }
  if (length === offset) return changed(response, validator) ?? 'complete';
  return new RangeNotResumableError(
    'not-satisfiable',
    `the server answered 416 to a range from byte ${offset}${length === undefined ? '' : ` (the entity has ${length} bytes)`}`,
  );
}

function notSatisfiable(status: number, offset: number): RangeNotResumableError {
  const redirect = status >= 300 && status < 400 ? ' (a redirect: send through a dispatcher that follows redirects)' : '';
  return new RangeNotResumableError('not-satisfiable', `the server answered ${status}${redirect} to a request for the bytes from ${offset}`);
}

function statusError(response: Dispatcher.ResponseData): HoldfastError {
  const fault = classifyResponse(response.statusCode, response.headers, { method: 'GET' });
  return new HoldfastError(`the server answered ${response.statusCode} to a range request`, fault);
}

function header(response: Dispatcher.ResponseData, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function isWeak(etag: string): boolean {
  return etag.startsWith('W/');
}

/** `bytes a-b/n`, `bytes a-b/*` or `bytes *\/n` (RFC 9110 §14.4). */
function parseContentRange(value: string): { start?: number; end?: number; length?: number } | undefined {
  const match = /^\s*bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)\s*$/i.exec(value);
  if (match === null) return undefined;
  const [, start, end, length] = match;
  return {
    ...(start === undefined ? {} : { start: Number(start), end: Number(end) }),
    ...(length === '*' || length === undefined ? {} : { length: Number(length) }),
  };
}

/** The entity's total length as this response states it. */
function entityLength(response: Dispatcher.ResponseData): number | undefined {
  if (response.statusCode === 200) {
    const declared = header(response, 'content-length');
    return declared === undefined || !/^\d+$/.test(declared) ? undefined : Number(declared);
  }
  return response.statusCode === 206 || response.statusCode === 416 ? parseContentRange(header(response, 'content-range') ?? '')?.length : undefined;
}

function changed(response: Dispatcher.ResponseData, validator: RangeValidator): RangeNotResumableError | undefined {
  const etag = header(response, 'etag');
  if (validator.etag !== undefined && etag !== undefined && etag !== validator.etag) {
    return new RangeNotResumableError('entity-changed', `the entity changed (ETag ${etag}, expected ${validator.etag})`);
  }
  // A strong ETag that matched proves the same bytes, whatever the date says.
  if (validator.etag !== undefined && !isWeak(validator.etag)) return undefined;
  const modified = header(response, 'last-modified');
  if (validator.lastModified !== undefined && modified !== undefined && modified !== validator.lastModified) {
    return new RangeNotResumableError('entity-changed', `the entity changed (Last-Modified ${modified}, expected ${validator.lastModified})`);
  }
  return undefined;
}
