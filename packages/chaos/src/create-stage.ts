import type { StageEnvironment, StageOutlet, ToxicStage } from './stage.js';
import type { Toxic } from './toxic.js';
import { createBandwidthStage } from './toxics/bandwidth.js';
import { createLatencyStage } from './toxics/latency.js';
import { createLimitDataStage } from './toxics/limit-data.js';
import { createResetPeerStage } from './toxics/reset-peer.js';
import { createSlicerStage } from './toxics/slicer.js';
import { createSlowCloseStage } from './toxics/slow-close.js';
import { createTimeoutStage } from './toxics/timeout.js';

/** The behaviour of one toxic on one direction of one connection. */
export function createStage(toxic: Toxic, out: StageOutlet, env: StageEnvironment): ToxicStage {
  switch (toxic.type) {
    case 'latency':
      return createLatencyStage(toxic, out, env);
    case 'bandwidth':
      return createBandwidthStage(toxic, out);
    case 'slow_close':
      return createSlowCloseStage(toxic, out);
    case 'timeout':
      return createTimeoutStage(toxic, out);
    case 'reset_peer':
      return createResetPeerStage(toxic, out);
    case 'slicer':
      return createSlicerStage(toxic, out, env);
    case 'limit_data':
      return createLimitDataStage(toxic, out);
  }
}
