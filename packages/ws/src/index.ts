export * from './reconnecting-websocket.js';
export * from './options.js';
export * from './heartbeat.js';
export * from './close-code-policy.js';
export type { WebEventType, WebListener, WebEvent } from './web-listeners.js';
