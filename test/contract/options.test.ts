import { describe, expect, it } from 'vitest';
import { SUBJECTS } from './subjects.js';
import { watchEscapes } from './support.js';

watchEscapes();

describe.each(SUBJECTS)('$title: options', (subject) => {
  it('an unknown option is refused at construction, as a TypeError with a did-you-mean hint, before anything connects', async () => {
    const peer = await subject.start();
    try {
      const { key, suggests } = subject.misspelt;
      const make = (): unknown => subject.create(peer, { [key]: 1 });
      expect(make).toThrow(TypeError);
      expect(make).toThrow(`unknown option '${key}' (did you mean ${suggests}?)`);
      // Refused at once: no connection was opened for an object that will never exist.
      expect(peer.proxy.stats().connections.total).toBe(0);
    } finally {
      await peer.stop();
    }
  });
});
