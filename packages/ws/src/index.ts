export { ReconnectingWebSocket } from './reconnecting-websocket.js';
export type {
  ReconnectingWebSocketEvents,
  ReconnectingWebSocketStats,
  MessageListener,
  WebOpenEvent,
  WebMessageEvent,
  WebCloseEvent,
  WebErrorEvent,
} from './events.js';
export {
  DEFAULT_WS_SCHEDULE,
  type ReconnectingWebSocketOptions,
  type ConnectContext,
  type ReconnectContext,
  type SendData,
  type SendQueueOptions,
  type UrlProvider,
} from './options.js';
export { RECONNECT_CLOSE_CODES, reconnectsAfterCloseCode } from './close-code-policy.js';
/** Core's heartbeat options, which `heartbeat` takes. */
export type { HeartbeatOptions } from '@holdfast/core';
export type { WebEventType, WebListener, WebEvent } from './web-listeners.js';

// Old names, kept for one release (issue 10): the events are core's shared payloads now, with the WebSocket's fields.
/* eslint-disable @typescript-eslint/no-deprecated -- re-exported so that code written against them still compiles */
export type { WsDropReason, OpenEvent, DisconnectEvent, ReconnectingEvent, GiveUpEvent, DropEvent, CloseEvent } from './events.js';
export type { OpenContext } from './options.js';
/* eslint-enable @typescript-eslint/no-deprecated */
