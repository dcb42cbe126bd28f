import { describe, expect, it } from 'vitest';
import { RetryError, classify } from '../src/index.js';

describe('RetryError reasons', () => {
  it("'response-started' says the response had reached the caller, with the attempts and the fault", () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const fault = classify(reset, { method: 'GET', phase: 'response' });
    const error = new RetryError(fault, 1, 'response-started', reset);
    expect(error.reason).toBe('response-started');
    expect(error.cause).toBe(reset);
    expect(error.code).toBe('ECONNRESET');
    expect(error.message).toMatch(
      /^ECONNRESET \(connection-reset, response phase\) after 1 attempt; stopped: the response had already started reaching the caller/,
    );
  });
});
