import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createChaosProxy, type ChaosProxy } from '@holdfast/chaos';
import { constant } from '@holdfast/core';
import { ReconnectingWebSocket } from '@holdfast/ws';
import { startServer, waitFor, type TestServer } from './support/ws-server.js';
import { failOnEscapes } from './support/escapes.js';

failOnEscapes();

let server: TestServer;
let proxy: ChaosProxy;

beforeEach(async () => {
  server = await startServer();
  proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: server.port } });
});

afterEach(async () => {
  await proxy.close();
  await server.stop();
});

const CHANNELS = ['holdfast:reconnect', 'holdfast:drop', 'holdfast:queue'];
const LIFECYCLE = ['state', 'open', 'disconnect', 'reconnecting', 'give-up', 'drop', 'drain', 'close'];

interface Published {
  readonly event: string;
  readonly name: string;
  readonly delayMs?: number;
}

describe('events: one diagnostics-channel message per event', () => {
  it('connect, lose the connection once (a real RST), reconnect: each event its listeners get is published exactly once, delayMs in whole ms', async () => {
    const name = 'ws-one-publish';
    const published: Published[] = [];
    let listening = false;
    const onMessage = (message: unknown): void => {
      // From the moment the listeners are on: the constructor's first 'state' is published before anyone can listen.
      if (listening && (message as Published).name === name) published.push(message as Published);
    };
    for (const channel of CHANNELS) diagnosticsChannel.subscribe(channel, onMessage);
    const received: string[] = [];
    const socket = new ReconnectingWebSocket(`ws://127.0.0.1:${proxy.port}`, { name, schedule: constant(30.4), minUptimeMs: 0 });
    try {
      for (const event of LIFECYCLE) socket.on(event as never, () => received.push(event));
      listening = true;
      await waitFor(() => received.filter((event) => event === 'open').length === 1, 'the first open');
      proxy.resetAll();
      await waitFor(() => received.filter((event) => event === 'open').length === 2, 'the reopen');
      expect(published.map((message) => message.event)).toEqual(received);
      expect(received.filter((event) => event === 'disconnect')).toHaveLength(1);
      const reconnects = published.filter((message) => message.event === 'reconnecting');
      expect(reconnects).toHaveLength(1);
      expect(Number.isInteger(reconnects[0]!.delayMs)).toBe(true);
    } finally {
      await socket.close();
      for (const channel of CHANNELS) diagnosticsChannel.unsubscribe(channel, onMessage);
    }
  });
});

function closesWithin(socket: ReconnectingWebSocket, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise((resolve) => (timer = setTimeout(resolve, ms, 'hung')));
  return Promise.race([socket.close().then(() => 'closed'), hung]).finally(() => clearTimeout(timer));
}

describe('a listener that throws', () => {
  it("a throwing 'message' listener becomes a warning: the next listener still runs, nothing reaches uncaughtException, close() resolves at once", async () => {
    // Replaces every 'uncaughtException' listener (vitest's too) for the duration, to see what would crash a process.
    const saved = process.rawListeners('uncaughtException') as ((error: Error) => void)[];
    const escaped: unknown[] = [];
    const onEscape = (error: unknown): void => void escaped.push(error);
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onEscape);
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.message);
    process.on('warning', onWarning);
    const socket = new ReconnectingWebSocket(server.url);
    try {
      const seen: string[] = [];
      socket.on('message', () => {
        throw new Error('listener bug');
      });
      socket.on('message', (data) => seen.push((data as Buffer).toString()));
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send('one');
      socket.send('two');
      await waitFor(() => seen.length === 2 || escaped.length > 0, 'the echoes', 2000).catch(() => undefined);
      expect(escaped).toEqual([]);
      expect(seen).toEqual(['one', 'two']);
      await waitFor(() => warnings.filter((w) => w.includes('listener bug')).length === 2, 'a warning per throw', 2000);
      expect(await closesWithin(socket, 1000)).toBe('closed');
    } finally {
      process.off('warning', onWarning);
      process.removeAllListeners('uncaughtException');
      for (const listener of saved) process.on('uncaughtException', listener);
      await closesWithin(socket, 3000);
    }
  });
});
