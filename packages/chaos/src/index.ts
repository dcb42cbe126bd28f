export { createChaosProxy } from './proxy.js';
export type { ChaosProxy, DisableOptions } from './proxy.js';
export type { ChaosProxyOptions } from './options.js';
export { TOXIC_STREAMS, TOXIC_TYPES } from './toxic.js';
export type {
  BandwidthAttributes,
  LatencyAttributes,
  LimitDataAttributes,
  ResetPeerAttributes,
  SlicerAttributes,
  SlowCloseAttributes,
  TimeoutAttributes,
  Toxic,
  ToxicAttributesByType,
  ToxicOptions,
  ToxicStream,
  ToxicType,
} from './toxic.js';
export type { ChaosProxyStats } from './stats.js';
export type { ChaosConnectionInfo, ChaosFaultEvent, ChaosProxyEvents, ChaosSocketErrorEvent } from './events.js';
export type { Listener } from './listeners.js';
