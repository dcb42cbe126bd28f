/**
 * Which close codes are worth reconnecting after. What a code *means* is
 * core's `classifyCloseCode()`; whether to come back is this policy: a peer
 * that restarts, fails or is overloaded (1001, 1005, 1006, 1011-1014) will take us
 * back, while a peer that said goodbye (1000), refused our data (1003, 1007,
 * 1008), or closed for an application reason (4000-4999) would only close
 * again, and a reconnect loop against it is a bug. 1009 (message too big)
 * repeats for as long as the same message is sent, so it stops too: the
 * close event carries the fault with the hint about `maxPayload`.
 */
export const RECONNECT_CLOSE_CODES: ReadonlySet<number> = new Set([1001, 1005, 1006, 1011, 1012, 1013, 1014]);

/** The default answer to "reconnect after the peer closed with `code`?". */
export function reconnectsAfterCloseCode(code: number): boolean {
  return RECONNECT_CLOSE_CODES.has(code);
}
