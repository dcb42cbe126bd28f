/**
 * The HTTP clients the http benchmarks compare against, loaded from
 * @holdfast/http's devDependencies (the exact versions its tests use).
 */
export { Agent, RetryAgent, request, fetch as undiciFetch } from '../../../packages/http/node_modules/undici/index.js';
export { default as got } from '../../../packages/http/node_modules/got/dist/source/index.js';
export { default as axios } from '../../../packages/http/node_modules/axios/index.js';
export { default as axiosRetry } from '../../../packages/http/node_modules/axios-retry/dist/esm/index.js';
export { default as ky } from '../../../packages/http/node_modules/ky/distribution/index.js';
export { default as pRetry } from '../../../packages/http/node_modules/p-retry/index.js';
