import type { IncomingHttpHeaders } from 'node:http';

/**
 * A response whose status asks for a retry (429, 503…), as the error of the
 * attempt that got it: core classifies it (an `http-status` fault with the
 * `Retry-After` pushback) like any other failure. It never reaches the caller:
 * if no retry follows, the caller gets the response itself.
 */
export class HttpStatusError extends Error {
  readonly statusCode: number;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly statusMessage: string | undefined;
  readonly body: Buffer;
  /** undici's code for "a response with an error status", which core classifies with its Retry-After. */
  readonly code = 'UND_ERR_RESPONSE';

  constructor(statusCode: number, headers: IncomingHttpHeaders, statusMessage: string | undefined, body: Buffer) {
    super(`the server answered ${statusCode}${statusMessage ? ` ${statusMessage}` : ''}`);
    this.name = 'HttpStatusError';
    this.statusCode = statusCode;
    this.status = statusCode;
    this.headers = headers;
    this.statusMessage = statusMessage;
    this.body = body;
  }
}
