/**
 * The libraries our benchmarks compare against. The repository root does not
 * depend on them; they are devDependencies of @holdfast/core, so they are
 * loaded from its node_modules (the exact versions its tests use).
 */
export { Agent, RetryAgent, request } from '../../../packages/core/node_modules/undici/index.js';
export { default as pRetry } from '../../../packages/core/node_modules/p-retry/index.js';
export { ExponentialBackoff, handleAll, retry as cockatielRetry } from '../../../packages/core/node_modules/cockatiel/dist/index.js';
