import { type Rule, RANK_GENERIC, RANK_WRAPPER, rule } from './rule.js';
import { readString } from './safe-read.js';

/**
 * The WHATWG fetch (Node's global fetch is undici) hides every network error
 * behind a `TypeError`: `fetch failed` before a response (the real error is its
 * `cause`), `terminated` while the body was arriving. The wrapper only says
 * which of the two; the cause says what happened.
 */
const FETCH_FAILED = rule('FETCH_FAILED', {
  kind: 'unknown',
  phase: 'unknown',
  transient: false,
  rank: RANK_WRAPPER,
  hint: "fetch failed before a response and gave no cause; look at the error's cause, or retry with a client that reports one",
});

const FETCH_TERMINATED = rule('FETCH_TERMINATED', {
  kind: 'closed',
  phase: 'response',
  transient: true,
  rank: RANK_GENERIC,
  hint: 'the connection broke while the response body was arriving; retry idempotent requests or resume from the bytes already received',
});

export function fetchTypeError(error: object): Rule | undefined {
  const message = readString(error, 'message');
  if (message === 'fetch failed') return FETCH_FAILED;
  if (message === 'terminated') return FETCH_TERMINATED;
  return undefined;
}
