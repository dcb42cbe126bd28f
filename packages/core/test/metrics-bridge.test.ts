import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { CircuitBreaker, OutboundQueue, RetryBudget, RetryPolicy, createMetricsBridge, retry, type MetricsBridge } from '@holdfast/core';

/** The SDK's own pull reader: collect() returns what the meter recorded. */
class PullReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Point {
  readonly value: number;
  readonly attributes: Record<string, unknown>;
}

function points(resource: ResourceMetrics, name: string): Point[] {
  const out: Point[] = [];
  for (const scope of resource.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      for (const point of metric.dataPoints) out.push({ value: point.value as number, attributes: point.attributes });
    }
  }
  return out;
}

const total = (list: Point[]): number => list.reduce((sum, p) => sum + p.value, 0);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setup(options: { queues?: Parameters<typeof createMetricsBridge>[0]['queues'] } = {}) {
  const reader = new PullReader();
  const provider = new MeterProvider({ readers: [reader] });
  const bridge = createMetricsBridge({ meter: provider.getMeter('holdfast'), ...options });
  cleanups.push(
    () => provider.shutdown(),
    () => bridge.close(),
  );
  const collect = async (): Promise<ResourceMetrics> => (await reader.collect()).resourceMetrics;
  return { bridge, collect };
}

/** Resets every request whose arrival number `reset(n)` picks (a real RST), answers the others. */
async function server(reset: (arrival: number) => boolean): Promise<string> {
  let arrivals = 0;
  const s = createServer((req, res) => (reset(++arrivals) ? req.socket.resetAndDestroy() : res.end('ok')));
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  cleanups.push(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/`;
}

function agent(): Agent {
  const a = new Agent();
  cleanups.push(() => a.destroy());
  return a;
}

describe('createMetricsBridge', () => {
  it('records retries, recoveries, give-ups and outcome-unknown from real resets', async () => {
    const { collect } = setup();
    const url = await server((n) => n % 2 === 0);
    const dispatcher = agent();
    const breaker = new CircuitBreaker({ name: 'inventory' });
    cleanups.push(() => breaker.close());
    const policy = new RetryPolicy({ name: 'inventory', breaker, budget: new RetryBudget(), operation: { method: 'GET' } });
    for (let i = 0; i < 10; i++) await policy.execute(async () => (await request(url, { dispatcher })).body.text());
    // A POST reset after it was sent: its outcome is unknown.
    const dead = await server(() => true);
    await retry(async () => (await request(dead, { dispatcher, method: 'POST', body: 'x' })).body.text(), {
      name: 'orders',
      operation: { method: 'POST' },
    }).catch(() => undefined);

    const data = await collect();
    const stats = policy.stats();
    expect(total(points(data, 'holdfast.retries').filter((p) => p.attributes['holdfast.name'] === 'inventory'))).toBe(stats.retries);
    expect(points(data, 'holdfast.retries')[0]?.attributes).toMatchObject({ 'error.type': 'connection-reset', 'holdfast.retry.immediate': true });
    expect(total(points(data, 'holdfast.recoveries'))).toBe(stats.recovered);
    expect(points(data, 'holdfast.outcome_unknown')).toEqual([
      { value: 1, attributes: { 'holdfast.name': 'orders', 'error.type': 'connection-reset' } },
    ]);
    expect(points(data, 'holdfast.give_ups')).toEqual([
      { value: 1, attributes: { 'holdfast.name': 'orders', 'error.type': 'connection-reset', 'holdfast.give_up.reason': 'outcome-unknown' } },
    ]);
  });

  it('records breaker transitions and its current state, and budget refusals', async () => {
    const { collect } = setup();
    const url = await server(() => true);
    const dispatcher = agent();
    const breaker = new CircuitBreaker({ name: 'payments', resetTimeoutMs: 60_000 });
    cleanups.push(() => breaker.close());
    const budget = new RetryBudget({ name: 'payments', minRetriesPerSecond: 0.1, ratio: 0 });
    const policy = new RetryPolicy({ name: 'payments', breaker, budget, immediateRetries: 0, operation: { method: 'GET' } });
    for (let i = 0; i < 30; i++) await policy.execute(async () => (await request(url, { dispatcher })).body.text()).catch(() => undefined);
    expect(breaker.state).toBe('open');

    const data = await collect();
    expect(points(data, 'holdfast.breaker.transitions')).toEqual([
      { value: 1, attributes: { 'holdfast.name': 'payments', 'holdfast.breaker.state': 'open' } },
    ]);
    expect(points(data, 'holdfast.breaker.state')).toEqual([
      { value: 0, attributes: { 'holdfast.name': 'payments', 'holdfast.breaker.state': 'closed' } },
      { value: 0, attributes: { 'holdfast.name': 'payments', 'holdfast.breaker.state': 'half-open' } },
      { value: 1, attributes: { 'holdfast.name': 'payments', 'holdfast.breaker.state': 'open' } },
    ]);
    expect(total(points(data, 'holdfast.budget.exhausted'))).toBe(budget.stats().refused);
    expect(budget.stats().refused).toBeGreaterThan(0);
  });

  it('observes queue depth and counts drops by reason', async () => {
    const queue = new OutboundQueue<string>({ name: 'outbox', maxItems: 2, overflow: 'drop-oldest' });
    const { collect } = setup({ queues: [{ name: 'outbox', stats: () => ({ queued: queue.length }) }] });
    for (const item of ['a', 'b', 'c', 'd']) queue.push(item);
    const data = await collect();
    expect(points(data, 'holdfast.queue.depth')).toEqual([{ value: 2, attributes: { 'holdfast.name': 'outbox' } }]);
    expect(points(data, 'holdfast.drops')).toEqual([{ value: 2, attributes: { 'holdfast.name': 'outbox', 'holdfast.drop.reason': 'overflow' } }]);
  });

  it("maps @holdfast/express's events (published on holdfast:express) to the server metrics", async () => {
    const { collect } = setup();
    const channel = diagnosticsChannel.channel('holdfast:express');
    channel.publish({ event: 'client-abort', method: 'GET', path: '/report', source: 'close', fault: { kind: 'connection-reset' } });
    channel.publish({ event: 'late-write', method: 'GET', path: '/twice', call: 'setHeader', reason: 'headers-sent' });
    channel.publish({ event: 'shed', method: 'GET', path: '/', reason: 'event-loop-delay', retryAfterS: 1 });
    channel.publish({ event: 'idempotency', method: 'POST', path: '/orders', key: 'k', outcome: 'replayed' });
    const data = await collect();
    expect(points(data, 'holdfast.server.client_aborts')).toEqual([{ value: 1, attributes: { 'error.type': 'connection-reset' } }]);
    expect(points(data, 'holdfast.server.late_writes')).toEqual([{ value: 1, attributes: { 'holdfast.late_write.reason': 'headers-sent' } }]);
    expect(points(data, 'holdfast.server.shed')).toEqual([{ value: 1, attributes: { 'holdfast.shed.reason': 'event-loop-delay' } }]);
    expect(points(data, 'holdfast.server.idempotency')).toEqual([{ value: 1, attributes: { 'holdfast.idempotency.outcome': 'replayed' } }]);
  });

  it('stops recording after close(), which may be called twice; rejects a meter that is not one', async () => {
    const { bridge, collect } = setup();
    bridge.close();
    bridge.close();
    const dead = await server(() => true);
    await retry(async () => (await request(dead, { dispatcher: agent() })).body.text(), { operation: { method: 'GET' }, attempts: 2 }).catch(
      () => undefined,
    );
    expect(points(await collect(), 'holdfast.retries')).toEqual([]);
    expect(() => createMetricsBridge({ meter: {} as never })).toThrow("createMetricsBridge: option 'meter' must be an OpenTelemetry Meter");
    expect(() => createMetricsBridge({ meter: metrics.getMeter('x'), queue: [] } as never)).toThrow("unknown option 'queue' (did you mean queues?)");
  });
});

export type { MetricsBridge };
