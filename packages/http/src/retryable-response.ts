/**
 * A response whose status asks for a retry, thrown by an attempt so that core
 * classifies it like any failure (`http-status`, with the `Retry-After`
 * pushback). If no retry follows, the caller gets `response` itself, unread.
 */
export class RetryableResponse<R> extends Error {
  readonly response: R;
  readonly statusCode: number;
  readonly headers: unknown;
  /** undici's code for "a response with an error status", which core classifies with its Retry-After. */
  readonly code = 'UND_ERR_RESPONSE';

  constructor(response: R, statusCode: number, headers: unknown) {
    super(`the server answered ${statusCode}`);
    this.name = 'RetryableResponse';
    this.response = response;
    this.statusCode = statusCode;
    this.headers = headers;
  }
}
