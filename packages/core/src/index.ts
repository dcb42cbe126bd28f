/**
 * @holdfast/core: what happened (classify), whether it may be repeated
 * (safety), how long to wait (schedules), the retry loop with its budget and
 * breaker, the reconnect state machine, the outbound queue, events and the
 * metrics bridge. The machinery holdfast's own packages share (option
 * checking, the send buffer, the heartbeat…) is in `@holdfast/core/internal`.
 */
export type { Fault, FaultContext, FaultKind, FaultPhase } from './fault.js';
export { FAULT_KINDS, FAULT_PHASES } from './fault.js';
export { BreakerOpenError, HoldfastError, OutcomeUnknownError, RetryError, type GiveUpReason } from './errors.js';
export { AttemptTimeoutError } from './attempt-timeout-error.js';
export { classify, classifyCloseCode, classifyResponse, parseRetryAfter } from './classify/index.js';
export { isIdempotentMethod, isSafeToRetry, retryVerdict, type RepeatSafety, type RetryVerdict } from './safety.js';
export { REDACTED, isSecretHeader, redact, redactHeaders, redactText } from './redact.js';
export { TypedEvents, type Listener } from './events.js';

export {
  capped,
  constant,
  defaultReconnectSchedule,
  defaultRetrySchedule,
  delays,
  exponential,
  holdFirst,
  honorRetryAfter,
  linear,
  type BackoffContext,
  type ExponentialOptions,
  type Jitter,
  type Schedule,
} from './schedule.js';

export { retry } from './retry.js';
export { RetryPolicy, createRetryPolicy, type RetryPolicyStats } from './retry-policy.js';
export type {
  AttemptInfo,
  FaultContextSource,
  GiveUpEvent,
  OperationDescriptor,
  RecoveredEvent,
  RetryBudgetRefusedEvent,
  RetryCallOptions,
  RetryEvent,
  RetryEvents,
  RetryOptions,
  RetryPolicyOptions,
  RetryableOperation,
} from './retry-options.js';
export { RetryBudget, type RetryBudgetEvents, type RetryBudgetExhaustedEvent, type RetryBudgetOptions, type RetryBudgetStats } from './budget.js';
export {
  CircuitBreaker,
  breakerResetDelay,
  countsAgainstPeer,
  createBreaker,
  type BreakerEvents,
  type BreakerOpenReason,
  type BreakerOptions,
  type BreakerState,
  type BreakerStats,
} from './breaker.js';

export {
  DEFAULT_SCHEDULE,
  Supervisor,
  type ConnectAttempt,
  type ReconnectOptions,
  type SupervisorEventSink,
  type SupervisorEvents,
  type SupervisorOptions,
  type SupervisorState,
} from './supervisor.js';
export type {
  CloseEvent,
  ConnectionEvents,
  DisconnectEvent,
  DrainEvent,
  DropEvent,
  DropReason,
  EventBase,
  OpenEvent,
  ReconnectContext,
  ReconnectGiveUpEvent,
  ReconnectGiveUpReason,
  ReconnectingEvent,
  StateEvent,
  Unconfirmed,
} from './lifecycle-events.js';
export type { HeartbeatOptions } from './heartbeat.js';
export type { OverflowPolicy, QueueOptions } from './queue-options.js';
export {
  OutboundQueue,
  QueueFullError,
  type ClearReason,
  type OutboundQueueEvents,
  type OutboundQueueOptions,
  type OutboundQueueStats,
  type QueueDropEvent,
  type QueueDropReason,
  type QueueLevelEvent,
} from './queue.js';

export {
  createMetricsBridge,
  type MeterLike,
  type MetricAttributes,
  type MetricsBridge,
  type MetricsBridgeOptions,
  type QueueOwner,
} from './metrics-bridge.js';

export { ResponseStatusError, type ResponseLike } from './response-status-error.js';
export { holdfastRetryOptions, type HoldfastPRetryInput, type HoldfastPRetryOptions, type PRetryContext } from './p-retry-options.js';
