export * from './reconnecting-socket.js';
export * from './options.js';
export * from './events.js';
export { FRAMINGS, LENGTH_PREFIX_BYTES, FrameTooLargeError, type Framing, type Payload } from './framing.js';
