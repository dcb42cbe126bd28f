import { describe, expect, it } from 'vitest';
import { runConnectHook, untilAborted, type ConnectHookContext } from '@holdfast/core/internal';

describe('the connect hook against the connection closing', () => {
  it('settles with the hook; a throw, a rejection and a non-Error rejection all reject with an Error', async () => {
    const closed = new AbortController();
    const abandoned = new AbortController();
    const context = { attempt: 1, signal: AbortSignal.any([closed.signal, abandoned.signal]) };
    await expect(runConnectHook(() => Promise.resolve(), context, closed.signal, abandoned.signal)).resolves.toBeUndefined();
    const sync = (): void => {
      throw new Error('handshake refused');
    };
    await expect(runConnectHook(sync, context, closed.signal, abandoned.signal)).rejects.toThrow('handshake refused');
    await expect(runConnectHook(() => Promise.reject(new Error('auth')), context, closed.signal, abandoned.signal)).rejects.toThrow('auth');
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a careless hook
    await expect(runConnectHook(() => Promise.reject('no'), context, closed.signal, abandoned.signal)).rejects.toBeInstanceOf(Error);
  });

  it('a hook that hangs and ignores its signal: rejects as soon as the connection closes or the attempt is abandoned', async () => {
    for (const which of ['closed', 'abandoned'] as const) {
      const closed = new AbortController();
      const abandoned = new AbortController();
      const seen: ConnectHookContext[] = [];
      const result = runConnectHook(
        (context: ConnectHookContext) => {
          seen.push(context);
          return new Promise<void>(() => {});
        },
        { attempt: 2, signal: AbortSignal.any([closed.signal, abandoned.signal]) },
        closed.signal,
        abandoned.signal,
      );
      const reason = Object.assign(new Error(`${which}!`), { code: 'ECONNRESET' });
      setTimeout(() => (which === 'closed' ? closed : abandoned).abort(reason), 10);
      await expect(result).rejects.toBe(reason);
      expect(seen[0]!.signal.aborted).toBe(true);
    }
  });

  it('untilAborted rejects at once when a signal has already aborted, without running the work', async () => {
    const done = new AbortController();
    done.abort(new Error('closed before'));
    let ran = false;
    await expect(untilAborted(() => (ran = true), done.signal)).rejects.toThrow('closed before');
    expect(ran).toBe(false);
  });
});
