import diagnosticsChannel from 'node:diagnostics_channel';
import { CHANNEL_PREFIX } from './events.js';
import { checkOptions, type OptionRule } from './options.js';

/**
 * Metrics from the one vocabulary: every holdfast object publishes its events
 * on `node:diagnostics_channel` (`holdfast:retry`, `holdfast:reconnect`,
 * `holdfast:drop`, …), so one subscriber turns all of them into
 * OpenTelemetry metrics, whatever package emitted them. The meter is the
 * user's (`metrics.getMeter('holdfast')` from `@opentelemetry/api`): core
 * depends on no OpenTelemetry package, it only calls the meter's methods.
 */

/** Attributes as OpenTelemetry takes them. */
export type MetricAttributes = Record<string, string | number | boolean>;

/** What the bridge uses of an OpenTelemetry `Meter` (from `@opentelemetry/api` 1.x). */
export interface MeterLike {
  createCounter(name: string, options?: { description?: string; unit?: string }): { add(value: number, attributes?: MetricAttributes): void };
  createObservableGauge(
    name: string,
    options?: { description?: string; unit?: string },
  ): {
    addCallback(callback: (result: { observe(value: number, attributes?: MetricAttributes): void }) => void): void;
    removeCallback(callback: (result: { observe(value: number, attributes?: MetricAttributes): void }) => void): void;
  };
}

/** An object whose queue depth is observed: anything with `stats().queued` (a number, or `{ messages | items | batches }`). */
export interface QueueOwner {
  readonly name?: string;
  stats(): { readonly queued?: number | { readonly messages?: number; readonly items?: number; readonly batches?: number } };
}

export interface MetricsBridgeOptions {
  /** The OpenTelemetry meter to record with. */
  readonly meter: MeterLike;
  /** Objects whose queue depth `holdfast.queue.depth` observes at each collection. */
  readonly queues?: readonly QueueOwner[];
}

export interface MetricsBridge {
  /** Stops recording: unsubscribes from every channel and removes the gauges' callbacks. May be called twice. */
  close(): void;
}

const RULES: Record<keyof MetricsBridgeOptions, OptionRule> = {
  meter: {
    test: (v) =>
      typeof v === 'object' &&
      v !== null &&
      typeof (v as MeterLike).createCounter === 'function' &&
      typeof (v as MeterLike).createObservableGauge === 'function',
    accepted: "an OpenTelemetry Meter (metrics.getMeter('holdfast') from @opentelemetry/api)",
  },
  queues: {
    test: (v) => Array.isArray(v) && v.every((q) => typeof (q as QueueOwner | null)?.stats === 'function'),
    accepted: 'an array of objects with stats()',
  },
};

type Payload = Record<string, unknown>;

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const faultKind = (payload: Payload): string | undefined => str((payload.fault as Payload | undefined)?.kind);

/** `holdfast.name` and `error.type` (the fault's kind) when the payload has them. */
function baseAttributes(payload: Payload): MetricAttributes {
  const attributes: MetricAttributes = {};
  const name = str(payload.name) ?? str(payload.origin);
  if (name !== undefined) attributes['holdfast.name'] = name;
  const kind = faultKind(payload);
  if (kind !== undefined) attributes['error.type'] = kind;
  return attributes;
}

/** The states a gauge reports one series for each, as OpenTelemetry's `*.state` metrics do (1 for the current one). */
const BREAKER_STATES = ['closed', 'half-open', 'open'] as const;
const HEALTH_STATES = ['healthy', 'flaky', 'down'] as const;

/**
 * Records holdfast's events as OpenTelemetry metrics:
 *
 * | metric | unit | from |
 * | --- | --- | --- |
 * | `holdfast.retries` | `{retry}` | every retry (`holdfast.retry.immediate`) |
 * | `holdfast.recoveries` | `{operation}` | operations that succeeded after retries |
 * | `holdfast.give_ups` | `{operation}` | operations and connections that gave up (`holdfast.give_up.reason`) |
 * | `holdfast.outcome_unknown` | `{operation}` | operations whose outcome is unknown |
 * | `holdfast.reconnects` | `{attempt}` | reconnects scheduled |
 * | `holdfast.disconnects` | `{connection}` | open connections lost |
 * | `holdfast.unconfirmed` | `{message}` | messages that may not have arrived when a connection was lost |
 * | `holdfast.drops` | `{item}` | what will not be delivered (`holdfast.drop.reason`) |
 * | `holdfast.budget.exhausted` | `{retry}` | retries a budget refused |
 * | `holdfast.breaker.transitions` | `{transition}` | breaker state changes (`holdfast.breaker.state`: the new one) |
 * | `holdfast.breaker.state` | `1` | gauge: 1 for each breaker's current state |
 * | `holdfast.http.stale_connections` | `{connection}` | reused keep-alive connections dead before any answer |
 * | `holdfast.http.health` | `1` | gauge: 1 for each HTTP origin's current health (`healthy`, `flaky`, `down`) |
 * | `holdfast.queue.depth` | `{item}` | gauge: what waits in each of `queues` |
 * | `holdfast.server.client_aborts` | `{request}` | requests whose client left before the response was complete |
 * | `holdfast.server.late_writes` | `{request}` | responses whose late write or second send was skipped |
 * | `holdfast.server.shed` | `{request}` | requests answered 503 while the process was overloaded (`holdfast.shed.reason`) |
 * | `holdfast.server.idempotency` | `{request}` | keyed requests by outcome (`holdfast.idempotency.outcome`: `replayed`, `conflict`, …) |
 *
 * Every metric carries `holdfast.name` (the object's name, or the HTTP origin) and, where there is a
 * fault, `error.type` (its kind: `connection-reset`, `timeout`, …).
 */
export function createMetricsBridge(options: MetricsBridgeOptions): MetricsBridge {
  checkOptions('createMetricsBridge', options, RULES);
  if ((options as Partial<MetricsBridgeOptions> | undefined)?.meter === undefined) {
    throw new TypeError("createMetricsBridge: option 'meter' is required: an OpenTelemetry Meter (metrics.getMeter('holdfast'))");
  }
  const { meter, queues = [] } = options;
  const counter = (name: string, unit: string, description: string) => meter.createCounter(name, { unit, description });
  const retries = counter('holdfast.retries', '{retry}', 'Retries made by holdfast retry policies');
  const recoveries = counter('holdfast.recoveries', '{operation}', 'Operations that succeeded after retries: the peer is flaky but alive');
  const giveUps = counter('holdfast.give_ups', '{operation}', 'Operations and connections that failed for good');
  const outcomeUnknown = counter('holdfast.outcome_unknown', '{operation}', 'Operations that may or may not have been applied by the peer');
  const reconnects = counter('holdfast.reconnects', '{attempt}', 'Reconnects scheduled by long-lived connections');
  const disconnects = counter('holdfast.disconnects', '{connection}', 'Open connections that were lost');
  const unconfirmed = counter('holdfast.unconfirmed', '{message}', 'Messages written to a lost connection without proof they arrived');
  const drops = counter('holdfast.drops', '{item}', 'Messages, batches or items that will not be delivered');
  const budgetExhausted = counter('holdfast.budget.exhausted', '{retry}', 'Retries a retry budget refused');
  const transitions = counter('holdfast.breaker.transitions', '{transition}', 'Circuit breaker state changes');
  const stale = counter('holdfast.http.stale_connections', '{connection}', 'Reused keep-alive connections that died before any answer');
  const clientAborts = counter('holdfast.server.client_aborts', '{request}', 'Requests whose client left before the response was complete');
  const lateWrites = counter('holdfast.server.late_writes', '{request}', 'Responses whose late write or second send was skipped');
  const shed = counter('holdfast.server.shed', '{request}', 'Requests answered 503 while the process was overloaded');
  const keyed = counter('holdfast.server.idempotency', '{request}', 'Idempotency-Key requests, by outcome');

  const breakerStates = new Map<string, string>();
  const originHealth = new Map<string, string>();

  const handlers: Record<string, (payload: Payload) => void> = {
    retry: (p) => retries.add(1, { ...baseAttributes(p), 'holdfast.retry.immediate': p.immediate === true }),
    recovered: (p) => recoveries.add(1, baseAttributes(p)),
    'give-up': (p) => {
      const attributes = { ...baseAttributes(p), 'holdfast.give_up.reason': str(p.reason) ?? 'unknown' };
      giveUps.add(1, attributes);
      if (p.reason === 'outcome-unknown') outcomeUnknown.add(1, baseAttributes(p));
    },
    reconnect: (p) => {
      switch (p.event) {
        case 'reconnecting':
          reconnects.add(1, baseAttributes(p));
          return;
        case 'disconnect': {
          disconnects.add(1, baseAttributes(p));
          const messages = (p.unconfirmed as Payload | undefined)?.messages;
          if (typeof messages === 'number' && messages > 0) unconfirmed.add(messages, baseAttributes(p));
          return;
        }
        case 'give-up':
          giveUps.add(1, { ...baseAttributes(p), 'holdfast.give_up.reason': str(p.reason) ?? 'unknown' });
          return;
        default:
          return;
      }
    },
    drop: (p) => {
      const items = typeof p.items === 'number' ? p.items : 1;
      drops.add(items, { ...baseAttributes(p), 'holdfast.drop.reason': str(p.reason) ?? 'unknown' });
    },
    budget: (p) => budgetExhausted.add(1, baseAttributes(p)),
    breaker: (p) => {
      if (p.event !== 'state-change') return;
      const name = str(p.name) ?? 'breaker';
      const to = str(p.to) ?? 'unknown';
      breakerStates.set(name, to);
      transitions.add(1, { 'holdfast.name': name, 'holdfast.breaker.state': to });
    },
    'stale-connection': (p) => stale.add(1, baseAttributes(p)),
    // The OTLP exporter publishes its batches' retries itself (with their items), not on holdfast:retry.
    otlp: (p) => {
      if (p.event === 'retry') retries.add(1, { ...baseAttributes(p), 'holdfast.retry.immediate': false });
    },
    express: (p) => {
      switch (p.event) {
        case 'client-abort':
          clientAborts.add(1, baseAttributes(p));
          return;
        case 'late-write':
          lateWrites.add(1, { 'holdfast.late_write.reason': str(p.reason) ?? 'unknown' });
          return;
        case 'shed':
          shed.add(1, { 'holdfast.shed.reason': str(p.reason) ?? 'unknown' });
          return;
        case 'idempotency':
          keyed.add(1, { 'holdfast.idempotency.outcome': str(p.outcome) ?? 'unknown' });
          return;
        default:
          return;
      }
    },
    health: (p) => {
      const origin = str(p.origin);
      const to = str(p.to);
      if (origin === undefined || to === undefined) return;
      // A healthy origin is one holdfast keeps nothing for: forgetting it keeps the gauge bounded.
      if (to === 'healthy') originHealth.delete(origin);
      else originHealth.set(origin, to);
    },
  };

  const subscriptions: [string, (message: unknown) => void][] = Object.entries(handlers).map(([channel, handle]) => {
    const listener = (message: unknown): void => {
      if (typeof message !== 'object' || message === null) return;
      try {
        handle(message as Payload);
      } catch {
        // A meter that throws must not break the object that published the event.
      }
    };
    diagnosticsChannel.subscribe(CHANNEL_PREFIX + channel, listener);
    return [CHANNEL_PREFIX + channel, listener];
  });

  const breakerGauge = meter.createObservableGauge('holdfast.breaker.state', {
    unit: '1',
    description: 'Circuit breaker state: 1 for the current one',
  });
  const observeBreakers: Parameters<typeof breakerGauge.addCallback>[0] = (result) => {
    for (const [name, current] of breakerStates) {
      for (const state of BREAKER_STATES) result.observe(state === current ? 1 : 0, { 'holdfast.name': name, 'holdfast.breaker.state': state });
    }
  };
  breakerGauge.addCallback(observeBreakers);

  const healthGauge = meter.createObservableGauge('holdfast.http.health', { unit: '1', description: 'HTTP origin health: 1 for the current one' });
  const observeHealth: Parameters<typeof healthGauge.addCallback>[0] = (result) => {
    for (const [origin, current] of originHealth) {
      for (const state of HEALTH_STATES) result.observe(state === current ? 1 : 0, { 'holdfast.name': origin, 'holdfast.http.health': state });
    }
  };
  healthGauge.addCallback(observeHealth);

  const depthGauge = meter.createObservableGauge('holdfast.queue.depth', { unit: '{item}', description: 'What waits to be sent' });
  const observeDepth: Parameters<typeof depthGauge.addCallback>[0] = (result) => {
    for (const owner of queues) {
      let depth: number | undefined;
      try {
        const queued = owner.stats().queued;
        depth = typeof queued === 'number' ? queued : (queued?.messages ?? queued?.items ?? queued?.batches);
      } catch {
        depth = undefined;
      }
      if (typeof depth === 'number') result.observe(depth, owner.name === undefined ? {} : { 'holdfast.name': owner.name });
    }
  };
  depthGauge.addCallback(observeDepth);

  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      for (const [channel, listener] of subscriptions) diagnosticsChannel.unsubscribe(channel, listener);
      breakerGauge.removeCallback(observeBreakers);
      healthGauge.removeCallback(observeHealth);
      depthGauge.removeCallback(observeDepth);
    },
  };
}
