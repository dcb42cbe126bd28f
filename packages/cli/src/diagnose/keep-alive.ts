/**
 * The stale keep-alive race, as numbers. A client reuses an idle connection
 * for up to its idle timeout; a server closes an idle connection after its
 * own. When the server's is shorter, a request can be written into a
 * connection the server is closing: ECONNRESET, or 'socket hang up'. Clients
 * that read the server's `Keep-Alive: timeout=` hint shorten their own.
 */
export interface ClientIdle {
  readonly client: string;
  /** How long it keeps an idle connection when the server says nothing. */
  readonly defaultMs: number;
  /** Its idle time once the server announced `hintMs` (0: it does not reuse the connection). */
  readonly withHint: (hintMs: number) => number;
}

/**
 * Node's own clients, with the figures of their sources: undici (fetch):
 * 4 s, or the hint minus 2 s (`keepAliveTimeoutThreshold`); Node's
 * http.Agent (axios, got, node-fetch): 5 s (`timeout` of the global agent
 * since Node 19), or the hint minus 1 s; @holdfast/http: 4 s, or the hint
 * minus 1 s.
 */
export const NODE_CLIENTS: readonly ClientIdle[] = [
  { client: 'fetch / undici', defaultMs: 4000, withHint: (hint) => Math.max(0, hint - 2000) },
  { client: "Node's http.Agent (axios, got…)", defaultMs: 5000, withHint: (hint) => Math.min(5000, Math.max(0, hint - 1000)) },
  { client: '@holdfast/http', defaultMs: 4000, withHint: (hint) => Math.max(0, hint - 1000) },
];

/** Below this, clients and proxies that ignore the hint (most outside Node: Go 90 s, browsers, load balancers 60 s) race with the server. */
export const SHORT_IDLE_MS = 5000;

export interface KeepAliveVerdict {
  readonly verdict: 'ok' | 'warning' | 'problem';
  /** Node clients that would write into a connection the server has closed. */
  readonly racing: readonly string[];
  readonly lines: readonly string[];
}

/** `hintMs`: the server's `Keep-Alive: timeout=` (ms) if it sent one; `closedMs`: when it closed the idle connection, if it did within the wait. */
export function judgeKeepAlive(hintMs: number | undefined, closedMs: number | undefined): KeepAliveVerdict {
  const serverIdle = closedMs ?? hintMs;
  if (serverIdle === undefined) return { verdict: 'ok', racing: [], lines: [] };
  const lines: string[] = [];
  const racing: string[] = [];
  for (const client of NODE_CLIENTS) {
    const idle = hintMs === undefined ? client.defaultMs : client.withHint(hintMs);
    const races = idle > 0 && idle >= serverIdle;
    if (races) racing.push(client.client);
    lines.push(
      `${client.client}: ${idle === 0 ? 'does not reuse the connection' : `reuses it for ${idle / 1000} s`}${races ? ' (longer: it races)' : ''}`,
    );
  }
  if (racing.length > 0) return { verdict: 'problem', racing, lines };
  return { verdict: serverIdle < SHORT_IDLE_MS ? 'warning' : 'ok', racing, lines };
}

/** The `timeout=` of a Keep-Alive header, in ms. */
export function keepAliveHintMs(header: string | undefined): number | undefined {
  const match = /(?:^|,|\s)timeout\s*=\s*(\d+)/i.exec(header ?? '');
  return match === null ? undefined : Number(match[1]) * 1000;
}
