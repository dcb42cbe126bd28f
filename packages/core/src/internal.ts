/**
 * `@holdfast/core/internal`: the machinery holdfast's own packages share, so
 * that it lives once (docs/architecture.md, "Where code lives"). Not
 * documented for applications; it follows semver because the packages
 * depend on core by caret range.
 */
export {
  MAX_TIMER_MS,
  checkOptions,
  formatValue,
  optionError,
  optionsProblem,
  rule,
  type CheckOptionsSettings,
  type OptionRule,
  type OptionRules,
} from './options.js';
export { checkBreakerOptions } from './breaker.js';
export { checkBudgetOptions } from './budget.js';
export { reconnectOptionRules, type SupervisorEventSink } from './supervisor.js';
export { CONNECTION_CHANNELS } from './lifecycle-events.js';
export { QUEUE_DEFAULTS, queueOptionRules, resolveQueueOptions, type ResolvedQueueOptions } from './queue-options.js';
export { SendBuffer, noDrops, type DropCounts } from './send-buffer.js';
export { HEARTBEAT_DEFAULTS, Heartbeat, heartbeatOptionRules, type HeartbeatHooks } from './heartbeat.js';
export { runConnectHook, untilAborted, type ConnectHookContext } from './connect-hook.js';
export { InboundListeners, type InboundListener } from './inbound-listeners.js';
export { deprecatedSchedule, numberLike, warnDeprecated, withDeprecatedField } from './deprecation.js';
export { publish } from './events.js';
