import type { Fault, FaultContext, FaultKind } from '@holdfast/core';

/**
 * What this package knows about MongoDB failures beyond core's classify():
 * where an operation got to (which decides whether repeating it is safe),
 * and which faults mean the server cannot be reached at all.
 */

function read(value: unknown, key: string): unknown {
  if (typeof value !== 'object' || value === null) return undefined;
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

const CONNECT_PHASE: FaultContext = Object.freeze({ phase: 'connect' });

/**
 * The phase of a failed MongoDB operation, when the error proves more than
 * classify() can read from it:
 * - a socket `write` that failed (`write ECONNRESET`, `write EPIPE`: a pooled
 *   connection that died while idle, met by the next operation; the driver
 *   passes it on as a plain Error): the command never left whole, and a
 *   server runs only a whole message, so nothing was applied;
 * - `MongoPoolClearedError`: the connection pool was cleared before this
 *   operation got a connection, so it was never sent;
 * - mongoose's "buffering timed out": mongoose drops a command from its
 *   buffer when it times out, so it was never sent.
 */
export function operationContext(error: unknown): FaultContext | undefined {
  const name = read(error, 'name');
  if (name === 'MongoPoolClearedError') return CONNECT_PHASE;
  if (isBufferingTimeout(error)) return CONNECT_PHASE;
  if (isFailedWrite(error) || (name === 'MongoNetworkError' && isFailedWrite(read(error, 'cause')))) return CONNECT_PHASE;
  return undefined;
}

function isFailedWrite(error: unknown): boolean {
  const code = read(error, 'code');
  return read(error, 'syscall') === 'write' && (code === 'ECONNRESET' || code === 'EPIPE');
}

/** Mongoose's `Operation \`x.find()\` buffering timed out after 10000ms`: the command waited for a connection and was dropped unsent. */
export function isBufferingTimeout(error: unknown): boolean {
  const message = read(error, 'message');
  return read(error, 'name') === 'MongooseError' && typeof message === 'string' && message.includes('buffering timed out after');
}

const UNREACHABLE: ReadonlySet<FaultKind> = new Set<FaultKind>(['connection-refused', 'dns', 'network-unreachable', 'timeout']);

/**
 * The server (or, in a replica set, a writable primary) cannot be reached
 * now: nothing got through (connect phase) because the connection was
 * refused, the name did not resolve, selection timed out, an election is
 * under way, or a new connection failed before its handshake completed.
 * Unlike a reset of one pooled connection, trying again at once would meet
 * the same fault, so operations wait for the server instead.
 */
export function meansUnreachable(fault: Fault, error: unknown): boolean {
  if (!fault.transient || fault.phase !== 'connect') return false;
  return UNREACHABLE.has(fault.kind) || failedToConnect(error);
}

/** A MongoNetworkError from making a new connection: `beforeHandshake`, or driver 7's SystemOverloadedError label on a failed connection. */
function failedToConnect(error: unknown): boolean {
  let node = error;
  for (let depth = 0; depth < 3 && typeof node === 'object' && node !== null; depth++) {
    if (read(node, 'beforeHandshake') === true) return true;
    const labels = read(node, 'errorLabels');
    if (Array.isArray(labels) && labels.includes('SystemOverloadedError')) return true;
    node = read(node, 'cause');
  }
  return false;
}

const CLOSED_CLIENT_NAMES: ReadonlySet<unknown> = new Set(['MongoNotConnectedError', 'MongoTopologyClosedError', 'MongoClientClosedError']);

/** The MongoClient itself was closed (by the application, outside this handle): no probe can succeed. */
export function isClosedClient(error: unknown): boolean {
  if (CLOSED_CLIENT_NAMES.has(read(error, 'name'))) return true;
  const message = read(error, 'message');
  // mongoose: "Connection was force closed", "Client must be connected before running operations" (MongoNotConnectedError's message).
  return typeof message === 'string' && (message.includes('must be connected') || message.includes('force closed'));
}
