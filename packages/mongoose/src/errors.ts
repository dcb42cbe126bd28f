import { HoldfastError, type Fault } from '@holdfast/core';

/**
 * The operation never reached the database: it waited for a usable server
 * (in mongoose's command buffer, or in holdfast's wait for the server to be
 * reachable again) and its time ran out, or the handle closed. Nothing was
 * sent, so it is always safe to try again later. `fault` is the last fault
 * the connection met (a refused connection, a failed election…), in the
 * connect phase; `cause` is mongoose's own error when there is one.
 */
export class NotConnectedError extends HoldfastError {}

/** What a wait for the server reports when the connection has seen no fault yet (it is still making its first connection). */
export const NOT_CONNECTED_FAULT: Fault = Object.freeze({
  kind: 'closed',
  code: 'HOLDFAST_NOT_CONNECTED',
  phase: 'connect',
  transient: true,
  hint: 'the MongoDB connection is not established yet (the first connection is still being made, or the server is unreachable); the operation was not sent',
  message: 'not connected',
});

/** What an operation meets once the handle is closed. */
export const CLOSED_FAULT: Fault = Object.freeze({
  kind: 'closed',
  code: 'HOLDFAST_CLOSED',
  phase: 'connect',
  transient: false,
  hint: 'the ResilientMongoose handle was closed (close(), or it gave up on its first connection); the operation was not sent',
  message: 'closed',
});

/** A fault seen earlier, restated for an operation that never left the process because of it. */
export function notSentFault(fault: Fault | undefined, message: string): Fault {
  const base = fault ?? NOT_CONNECTED_FAULT;
  return { ...base, phase: 'connect', message };
}
