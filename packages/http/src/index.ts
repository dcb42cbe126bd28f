export { retryInterceptor, type RetryInterceptor, type ResilientDispatchOptions } from './retry-interceptor.js';
export { DEFAULT_RETRY_STATUSES, type HttpRetryOptions } from './retry-interceptor-options.js';
export type { ResilientRequestOptions } from './request-options.js';
export type { OriginGuard } from './origin-guard.js';
export { createHttpClient, type HttpClient, type HttpClientOptions, type HttpRequestInit } from './http-client.js';
export { wrapFetch, type FetchFunction, type ResilientFetch, type ResilientRequestInit } from './wrap-fetch.js';
export { withResilience, type AxiosInstanceLike, type ResilientAxios } from './axios-adapter.js';
export { openRange, RangeNotResumableError, type OpenRangeOptions, type RangeRefusal, type RangeValidator } from './range-opener.js';
export { OutcomeUnknownError, RetryError, BreakerOpenError } from '@holdfast/core';
