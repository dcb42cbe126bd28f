export { ReconnectingSocket, type ReconnectingSocketStats } from './reconnecting-socket.js';
export {
  DEFAULT_NET_SCHEDULE,
  type ReconnectingSocketOptions,
  type ConnectContext,
  type NetHeartbeatOptions,
  type ConfirmOptions,
  type QueueOptions,
} from './options.js';
export type { ReconnectingSocketEvents, InboundEvents, AllReconnectingSocketEvents } from './events.js';
export { FRAMINGS, LENGTH_PREFIX_BYTES, FrameTooLargeError, type Framing, type Payload } from './framing.js';

// Old names, kept for one release (issue 10): core's shared types now.
/* eslint-disable @typescript-eslint/no-deprecated -- re-exported so that code written against them still compiles */
export type { NetDropReason, UnconfirmedReport } from './events.js';
export type { HeartbeatOptions } from './options.js';
/* eslint-enable @typescript-eslint/no-deprecated */
