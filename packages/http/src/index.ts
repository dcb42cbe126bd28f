export { retryInterceptor, type RetryInterceptor, type ResilientDispatchOptions } from './retry-interceptor.js';
export { BREAKER_DEFAULTS, DEFAULT_RETRY_STATUSES, type HttpRetryOptions } from './retry-interceptor-options.js';
export type { HttpClientEvents, OriginHealth, OriginHealthEvent, StaleConnectionEvent } from './http-events.js';
export type { HttpRetryStats } from './origin-guards.js';
export type { OriginStats } from './origin-guard.js';
export type { ResilientRequestOptions } from './request-options.js';
export type { OriginGuard } from './origin-guard.js';
export { createHttpClient, type HttpClient, type HttpClientOptions, type HttpRequestInit } from './http-client.js';
export { resilientFetch, type FetchFunction, type ResilientFetch, type ResilientRequestInit } from './wrap-fetch.js';
export { resilientAxios, type AxiosInstanceLike, type ResilientAxios } from './axios-adapter.js';
/* eslint-disable @typescript-eslint/no-deprecated -- re-exported so that code written against them still runs (they warn once) */
export { wrapFetch } from './wrap-fetch.js';
export { withResilience } from './axios-adapter.js';
/* eslint-enable @typescript-eslint/no-deprecated */
export { openRange, RangeNotResumableError, type OpenRangeOptions, type RangeRefusal, type RangeValidator } from './range-opener.js';
export { httpSource, type HttpSource, type HttpSourceContext, type HttpSourceOptions } from './http-source.js';
export { OutcomeUnknownError, RetryError, BreakerOpenError } from '@holdfast/core';
