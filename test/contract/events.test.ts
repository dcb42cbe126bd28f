import { describe, expect, it } from 'vitest';
import { CONNECTIONS, SUBJECTS } from './subjects.js';
import { record, uniqueName, warningsDuring, watchEscapes } from './support.js';

const { escaped } = watchEscapes();

/** The shared lifecycle events, in the order the same fault produces them. */
const LIFECYCLE = ['state', 'open', 'disconnect', 'reconnecting', 'give-up', 'close'];

describe.each(SUBJECTS)('$title: events', (subject) => {
  const gap = subject.knownGaps?.publishOnce;
  (gap === undefined ? it : it.fails)(
    `each event its listeners get is published exactly once on diagnostics_channel; received data is not published${gap === undefined ? '' : ` (known gap: ${gap})`}`,
    async () => {
      const peer = await subject.start();
      const name = uniqueName('publish');
      const object = subject.create(peer, { name });
      const recording = record(object, name, subject.events, subject.channels);
      try {
        await subject.ready(object, peer);
        subject.use(object);
        await subject.fault(object, peer);
        await object.close();
        // The constructor's first events (before anyone could listen) are left out of both sides.
        expect(recording.received.length).toBeGreaterThan(2);
        expect(recording.published).toEqual(recording.received);
      } finally {
        recording.stop();
        await object.close();
        await peer.stop();
      }
    },
  );

  it('a listener that throws breaks nothing: the next listener runs, the object recovers from the fault, the throw becomes a warning', async () => {
    const peer = await subject.start();
    const object = subject.create(peer, { name: uniqueName('throwing') });
    const seen: string[] = [];
    const names = subject.dataEvent === undefined ? subject.events : [...subject.events, subject.dataEvent];
    for (const event of names) {
      object.on(event, () => {
        throw new Error(`listener bug in '${event}'`);
      });
      object.on(event, () => seen.push(event));
    }
    const warnings = await warningsDuring(async () => {
      await subject.ready(object, peer);
      subject.use(object);
      await subject.fault(object, peer);
      subject.use(object);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await object.close();
    });
    await peer.stop();
    const thrown = warnings.filter((w) => w.name === 'HoldfastListenerWarning').map((w) => w.message);
    // Every event that fired reached the second listener, and each throw of the first became one warning.
    expect(seen.length).toBeGreaterThan(3);
    expect(thrown).toHaveLength(seen.length);
    for (const event of new Set(seen)) expect(thrown.some((message) => message.includes(`listener bug in '${event}'`))).toBe(true);
    if (subject.dataEvent !== undefined) expect(seen).toContain(subject.dataEvent);
    expect(escaped).toEqual([]);
  });
});

describe('the same fault, the same events: every reconnecting object', () => {
  const runs = new Map<string, { sequence: string[]; payloads: Map<string, unknown[]> }>();

  const lifecycleTest = (subject: (typeof CONNECTIONS)[number]) => (subject.knownGaps?.lifecycle === undefined ? it : it.fails);

  describe.each(CONNECTIONS)('$title', (subject) => {
    const gap = subject.knownGaps?.lifecycle === undefined ? '' : ` (known gap: ${subject.knownGaps.lifecycle})`;
    lifecycleTest(subject)(`connect, a real RST from the proxy, reconnect${gap}`, async () => {
      const peer = await subject.start();
      const name = uniqueName('lifecycle');
      const object = subject.create(peer, { name });
      const recording = record(object, name, subject.events);
      try {
        await subject.ready(object, peer);
        await subject.fault(object, peer);
        await object.close();
      } finally {
        recording.stop();
        await peer.stop();
      }
      const sequence = recording.received.filter((event) => LIFECYCLE.includes(event));
      expect(sequence).toEqual(['state', 'open', 'state', 'disconnect', 'state', 'reconnecting', 'state', 'state', 'open', 'state', 'close']);
      const { payloads } = recording;
      const states = (payloads.get('state') ?? []) as { from: string; to: string }[];
      expect(states.map((s) => `${s.from}>${s.to}`)).toEqual([
        'connecting>open',
        'open>lost',
        'lost>waiting',
        'waiting>connecting',
        'connecting>open',
        'open>closed',
      ]);
      const [disconnect] = payloads.get('disconnect') as Record<string, unknown>[];
      expect(disconnect).toMatchObject({
        event: 'disconnect',
        name,
        fault: { kind: 'connection-reset', transient: true },
        unconfirmed: { messages: expect.any(Number), bytes: expect.any(Number) },
        willReconnect: true,
      });
      expect(Number.isInteger(disconnect!.uptimeMs)).toBe(true);
      const [reconnecting] = payloads.get('reconnecting') as Record<string, unknown>[];
      expect(reconnecting).toMatchObject({ event: 'reconnecting', name, attempt: 1, delayMs: 20, fault: disconnect!.fault });
      expect(payloads.get('open')).toMatchObject([
        { event: 'open', name, attempt: 1 },
        { event: 'open', name, attempt: 1 },
      ]);
      expect(payloads.get('close')).toEqual([expect.objectContaining({ event: 'close', name, gaveUp: false })]);
      // Kept for the comparison across objects below, once this one passed.
      runs.set(subject.title, { sequence, payloads: recording.payloads });
    });

    lifecycleTest(subject)(`maxAttempts 1 and a real RST: disconnect without reconnect, give-up, close${gap}`, async () => {
      const peer = await subject.start();
      const name = uniqueName('give-up');
      // An unstable connection (open shorter than minUptimeMs) does not reset the attempt count: its loss is the last attempt.
      const object = subject.create(peer, { name, maxAttempts: 1, minUptimeMs: 60_000 });
      const recording = record(object, name, subject.events);
      try {
        await subject.ready(object, peer);
        const closed = new Promise<void>((resolve) => object.once('close', () => resolve()));
        peer.proxy.resetAll();
        await closed;
        await object.close();
      } finally {
        recording.stop();
        await peer.stop();
      }
      const sequence = recording.received.filter((event) => LIFECYCLE.includes(event));
      expect(sequence).toEqual(['state', 'open', 'state', 'disconnect', 'give-up', 'state', 'close']);
      const { payloads } = recording;
      expect(payloads.get('disconnect')).toMatchObject([{ willReconnect: false, fault: { kind: 'connection-reset' } }]);
      expect(payloads.get('give-up')).toMatchObject([
        { event: 'give-up', name, attempts: 1, reason: 'max-attempts', fault: { kind: 'connection-reset' } },
      ]);
      expect(payloads.get('close')).toMatchObject([{ event: 'close', name, gaveUp: true, fault: { kind: 'connection-reset' } }]);
    });
  });

  it('…and the shared payloads have the same keys everywhere (an object may add its own, never rename)', () => {
    const shared: Record<string, readonly string[]> = {
      state: ['event', 'name', 'from', 'to'],
      open: ['event', 'name', 'attempt'],
      disconnect: ['event', 'name', 'fault', 'unconfirmed', 'uptimeMs', 'willReconnect'],
      reconnecting: ['event', 'name', 'attempt', 'delayMs', 'fault'],
      close: ['event', 'name', 'gaveUp'],
    };
    expect(runs.size).toBe(CONNECTIONS.filter((subject) => subject.knownGaps?.lifecycle === undefined).length);
    for (const [title, run] of runs) {
      for (const [event, keys] of Object.entries(shared)) {
        for (const payload of run.payloads.get(event) ?? []) {
          expect(Object.keys(payload as object), `${title} '${event}'`).toEqual(expect.arrayContaining([...keys]));
        }
      }
      expect(run.sequence, title).toEqual([...runs.values()][0]!.sequence);
    }
  });
});
