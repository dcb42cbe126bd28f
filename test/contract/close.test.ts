import { describe, expect, it } from 'vitest';
import { SUBJECTS } from './subjects.js';
import { eventually, sleep, socketHandles, uniqueName, watchEscapes, watchTimers } from './support.js';

watchEscapes();

describe.each(SUBJECTS)('$title: close()', (subject) => {
  it('returns a promise, may be called twice, and leaves no socket, timer or listener behind', async () => {
    const peer = await subject.start();
    try {
      const sockets = socketHandles();
      const timers = watchTimers();
      try {
        const object = subject.create(peer, { name: uniqueName('close') });
        // What the object does after close() (but report a drop of what it is given then) reaches nobody.
        let calls = 0;
        for (const event of subject.events) if (event !== 'drop') object.on(event, () => calls++);
        await subject.ready(object, peer);
        await subject.fault(object, peer);
        const first = object.close();
        const second = object.close();
        expect(first).toBeInstanceOf(Promise);
        await Promise.all([first, second]);
        await object.close();
        // Closed for good: the object's own sockets and timers are gone (libuv releases them a tick or two later).
        expect(await eventually(() => socketHandles() <= sockets, 3_000, timers)).toBe(true);
        expect(await eventually(() => timers.pending() === 0, 3_000, timers)).toBe(true);
        // And it does nothing more: no event but a drop of what it is given now.
        const before = calls;
        subject.use(object);
        await sleep(50, timers);
        expect(calls).toBe(before);
      } finally {
        timers.stop();
      }
    } finally {
      await peer.stop();
    }
  });
});
