export { ResilientMongoose, connectMongoose, type ResilientMongooseStats } from './resilient-mongoose.js';
export { withRetry } from './with-retry.js';
export { NotConnectedError } from './errors.js';
export {
  DEFAULT_CONNECT_SCHEDULE,
  DEFAULT_PROBE_SCHEDULE,
  type ResilientMongooseOptions,
  type WithRetryOptions,
  type WithTransactionOptions,
} from './options.js';
export type { MongooseConnectionState, ResilientMongooseEvents } from './events.js';
export type { TransactionAttempt } from './transaction.js';
export { OutcomeUnknownError, RetryError, HoldfastError, classify, type Fault } from '@holdfast/core';
