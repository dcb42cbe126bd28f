import { PassThrough, pipeline, type Readable } from 'node:stream';
import { HoldfastError, classify, formatValue, redactText } from '@holdfast/core';
import { request, type Dispatcher } from 'undici';

/** What identifies the entity whose bytes were already received. */
export interface RangeValidator {
  /** A strong ETag (`"abc"`); a weak one (`W/"abc"`) cannot guard a byte splice (RFC 9110 §13.1.5). */
  readonly etag?: string;
  /** The `Last-Modified` the first response carried. */
  readonly lastModified?: string;
}

export interface OpenRangeOptions {
  /** undici dispatcher to send through (a holdfast client's `dispatcher`, for retries). Default: the global one. */
  readonly dispatcher?: Dispatcher;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
}

/** Why bytes from `offset` cannot be appended to what was received before. */
export type RangeRefusal = 'range-ignored' | 'entity-changed' | 'not-satisfiable' | 'weak-validator';

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
 * validator) is refused with `RangeNotResumableError`, never spliced.
 */
export function openRange(url: string | URL, offset: number, validator: RangeValidator, options: OpenRangeOptions = {}): Readable {
  const out = new PassThrough();
  if (!(Number.isSafeInteger(offset) && offset >= 0)) {
    throw new RangeError(`openRange: 'offset' must be an integer >= 0, got ${formatValue(offset)}`);
  }
  const ifRange = validator.etag ?? validator.lastModified;
  if (offset > 0 && validator.etag?.startsWith('W/') === true) {
    process.nextTick(() => out.destroy(new RangeNotResumableError('weak-validator', `the ETag ${validator.etag} is weak`)));
    return out;
  }
  const headers: Record<string, string> = { ...options.headers };
  if (offset > 0) {
    headers.range = `bytes=${offset}-`;
    if (ifRange !== undefined) headers['if-range'] = ifRange;
  }
  request(url, {
    headers,
    ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  }).then(
    (response) => {
      const refusal = offset === 0 ? checkWhole(response, validator) : checkPartial(response, offset, validator);
      if (refusal !== undefined) {
        // Destroying undici's body aborts its request, which reports the abort as an 'error' nobody else awaits.
        response.body.on('error', () => undefined);
        response.body.destroy();
        out.destroy(refusal);
        return;
      }
      pipeline(response.body, out, () => undefined);
    },
    (error: unknown) => {
      const fault = classify(error, { method: 'GET' });
      out.destroy(new HoldfastError(`openRange ${redactText(String(url))}: ${fault.message}`, fault, { cause: error }));
    },
  );
  return out;
}

function header(response: Dispatcher.ResponseData, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function checkWhole(response: Dispatcher.ResponseData, validator: RangeValidator): RangeNotResumableError | undefined {
  if (response.statusCode !== 200) return new RangeNotResumableError('not-satisfiable', `the server answered ${response.statusCode}`);
  return changed(response, validator);
}

function checkPartial(response: Dispatcher.ResponseData, offset: number, validator: RangeValidator): RangeNotResumableError | undefined {
  const status = response.statusCode;
  if (status === 200) {
    return (
      changed(response, validator) ??
      new RangeNotResumableError('range-ignored', `the server ignored the range and sent the whole entity (200) for bytes from ${offset}`)
    );
  }
  if (status !== 206) return new RangeNotResumableError('not-satisfiable', `the server answered ${status} to a range from byte ${offset}`);
  const start = /^bytes (\d+)-/.exec(header(response, 'content-range') ?? '')?.[1];
  if (start === undefined || Number(start) !== offset) {
    return new RangeNotResumableError('range-ignored', `the server sent a range starting at ${start ?? 'an unknown byte'}, not ${offset}`);
  }
  return changed(response, validator);
}

function changed(response: Dispatcher.ResponseData, validator: RangeValidator): RangeNotResumableError | undefined {
  const etag = header(response, 'etag');
  if (validator.etag !== undefined && etag !== undefined && etag !== validator.etag) {
    return new RangeNotResumableError('entity-changed', `the entity changed (ETag ${etag}, expected ${validator.etag})`);
  }
  const modified = header(response, 'last-modified');
  if (validator.etag === undefined && validator.lastModified !== undefined && modified !== undefined && modified !== validator.lastModified) {
    return new RangeNotResumableError('entity-changed', `the entity changed (Last-Modified ${modified}, expected ${validator.lastModified})`);
  }
  return undefined;
}
