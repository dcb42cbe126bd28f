import { subscribe } from 'node:diagnostics_channel';

/** Told, as its request is written, whether the connection chosen for it had carried a request before. */
export interface ConnectionWatcher {
  connectionChosen(reused: boolean): void;
}

// undici's handler never sees its socket; its documented `undici:client:sendHeaders`
// message does, synchronously right after the handler's onConnect for the same request.
const SEND_HEADERS = 'undici:client:sendHeaders';

// Sockets that have carried a request. Weak: a closed socket is forgotten with it.
const carried = new WeakSet<object>();
let expecting: ConnectionWatcher | null = null;
let subscribed = false;

function onSendHeaders(message: unknown): void {
  const socket = (message as { socket?: unknown } | null)?.socket;
  if (typeof socket !== 'object' || socket === null) return;
  const reused = carried.has(socket);
  if (!reused) carried.add(socket);
  const watcher = expecting;
  if (watcher !== null) {
    expecting = null;
    watcher.connectionChosen(reused);
  }
}

/** Starts watching which connection each undici request is written to (once per process). */
export function watchConnectionReuse(): void {
  if (subscribed) return;
  subscribed = true;
  subscribe(SEND_HEADERS, onSendHeaders);
}

/** Called from a handler's onConnect: the next request written is this watcher's. */
export function expectConnection(watcher: ConnectionWatcher): void {
  expecting = watcher;
}
