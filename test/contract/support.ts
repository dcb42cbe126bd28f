import { createHook } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterAll, beforeAll, expect } from 'vitest';
import type { ContractObject } from './subject.js';

/**
 * Every 'uncaughtException' and 'unhandledRejection' while the file runs:
 * none may escape a holdfast object, whatever its listeners do.
 */
export function watchEscapes(): { readonly escaped: unknown[] } {
  const escaped: unknown[] = [];
  const record = (error: unknown): void => void escaped.push(error);
  beforeAll(() => {
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
  });
  afterAll(() => {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
    expect(escaped).toEqual([]);
  });
  return { escaped };
}

/** The holdfast channels an object may publish on. */
export const HOLDFAST_CHANNELS = [
  'holdfast:reconnect',
  'holdfast:drop',
  'holdfast:queue',
  'holdfast:otlp',
  'holdfast:mongoose',
  'holdfast:express',
  'holdfast:stream',
  'holdfast:recovered',
  'holdfast:health',
  'holdfast:stale-connection',
  'holdfast:breaker',
  'holdfast:retry',
  'holdfast:give-up',
  'holdfast:budget',
  'holdfast:budget-exhausted',
  'holdfast:error',
  'holdfast:message',
  'holdfast:data',
] as const;

export interface Recording {
  /** `event` of every message published about the object, in order. */
  readonly published: string[];
  /** Every event its listeners got, in order. */
  readonly received: string[];
  /** The payloads its listeners got, by event. */
  readonly payloads: Map<string, unknown[]>;
  stop(): void;
}

/**
 * Listens to `events` on `object` and to every holdfast channel for messages
 * about it (by `name`), from now on.
 */
export function record(object: ContractObject, name: string, events: readonly string[], channels: readonly string[] = HOLDFAST_CHANNELS): Recording {
  const published: string[] = [];
  const received: string[] = [];
  const payloads = new Map<string, unknown[]>();
  // The object's own events only: an object may also drive core's retry loop, whose events it does not re-emit.
  const watched = new Set(events);
  const onMessage = (message: unknown): void => {
    const { name: from, event } = message as { name?: unknown; event?: unknown };
    if (from === name && typeof event === 'string' && watched.has(event)) published.push(event);
  };
  for (const channel of channels) diagnosticsChannel.subscribe(channel, onMessage);
  const offs = events.map((event) =>
    object.on(event, (payload: unknown) => {
      received.push(event);
      const list = payloads.get(event) ?? [];
      list.push(payload);
      payloads.set(event, list);
    }),
  );
  return {
    published,
    received,
    payloads,
    stop() {
      for (const channel of channels) diagnosticsChannel.unsubscribe(channel, onMessage);
      for (const off of offs) off();
    },
  };
}

/** Warnings emitted while `run` runs (and the tick after). */
export async function warningsDuring(run: () => Promise<void>): Promise<Error[]> {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning);
  process.on('warning', onWarning);
  try {
    await run();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}

/**
 * Timers created from now on, unref'd ones included (which
 * `process.getActiveResourcesInfo()` does not list), still pending.
 */
export interface TimerWatch {
  pending(): number;
  /** Leaves a timer of the test's own (a poll's sleep) out of the count. */
  ignore(timer: NodeJS.Timeout): void;
  stop(): void;
}

export function watchTimers(): TimerWatch {
  const live = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout') live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  // A Timeout converts to its async id.
  return { pending: () => live.size, ignore: (timer) => void live.delete(Number(timer)), stop: () => void hook.disable() };
}

/** Sockets and servers of this process. */
export function socketHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP') || r.startsWith('TLS') || r === 'PipeWrap').length;
}

export const sleep = (ms: number, timers?: TimerWatch): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timers?.ignore(timer);
  });

/** Polls until `predicate` holds or `ms` passed; returns whether it held. Its own sleeps are not counted by `timers`. */
export async function eventually(predicate: () => boolean, ms = 3_000, timers?: TimerWatch): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await sleep(10, timers);
  }
  return true;
}

let counter = 0;
/** A name no other object in the process has, to pick its messages out of the channels. */
export const uniqueName = (prefix: string): string => `contract-${prefix}-${++counter}`;
