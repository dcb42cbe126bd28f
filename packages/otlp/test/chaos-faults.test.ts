import { describe, expect, it } from 'vitest';
import { createChaosProxy, type ChaosProxy } from '@holdfast/chaos';
import { exponential } from '@holdfast/core';
import { createTraceExporter, type BatchRetryEvent } from '@holdfast/otlp';
import { settleHandles } from './support/process-faults.js';
import { collectorSuite } from './support/suite.js';
import { tracerWith } from './support/spans.js';

/**
 * Real faults between the exporter and a real collector, made by the chaos
 * proxy on real sockets. Each case turns a fault on, produces spans until the
 * exporter has retried once under it, turns it off, and checks by span id
 * that every span arrived, that duplicates never exceed the counted possible
 * duplicates, and that nothing escaped to the process.
 */
type Protocol = 'http/protobuf' | 'grpc';

interface Scenario {
  readonly title: string;
  readonly protocols: readonly Protocol[];
  readonly toxic: Parameters<ChaosProxy['addToxic']>[0];
  readonly kinds: readonly string[];
  /** Whether the collector receives the batch before the fault: then a retry must duplicate it. */
  readonly duplicates: 'none' | 'some';
}

const scenarios: readonly Scenario[] = [
  {
    title: 'reset_peer while the request is being sent (before any response)',
    protocols: ['http/protobuf'],
    toxic: { type: 'reset_peer', stream: 'upstream', attributes: { after_bytes: 300 } },
    kinds: ['connection-reset'],
    duplicates: 'none',
  },
  {
    title: 'reset_peer on the first byte of the response (before the status line)',
    protocols: ['http/protobuf'],
    toxic: { type: 'reset_peer', stream: 'downstream' },
    kinds: ['connection-reset'],
    duplicates: 'some',
  },
  {
    title: 'reset_peer after the response status line',
    protocols: ['http/protobuf'],
    toxic: { type: 'reset_peer', stream: 'downstream', attributes: { after_bytes: 'HTTP/1.1 200 OK\r\n'.length } },
    kinds: ['connection-reset'],
    duplicates: 'some',
  },
  {
    title: 'reset_peer on the connection',
    protocols: ['grpc'],
    toxic: { type: 'reset_peer', stream: 'downstream' },
    kinds: ['connection-reset', 'connection-refused'],
    duplicates: 'none',
  },
  {
    title: 'a stall longer than the export timeout',
    protocols: ['http/protobuf', 'grpc'],
    toxic: { type: 'timeout', stream: 'upstream', attributes: { timeout: 0 } },
    kinds: ['timeout'],
    duplicates: 'none',
  },
];

describe('faults between the exporter and the collector (chaos proxy)', () => {
  const suite = collectorSuite();
  const { faults } = suite;

  for (const scenario of scenarios) {
    for (const protocol of scenario.protocols) {
      it(`${protocol}: ${scenario.title}`, async () => {
        suite.collector.spans.clear();
        const proxy = await createChaosProxy({
          upstream: { host: '127.0.0.1', port: protocol === 'grpc' ? suite.collector.grpcPort : suite.collector.httpPort },
        });
        const exporter = createTraceExporter({
          protocol,
          endpoint: proxy.url('http'),
          timeoutMillis: 500,
          env: {},
          schedule: exponential({ initialMs: 50, maxMs: 300 }),
          breaker: false,
          shutdownTimeoutMs: 10_000,
        });
        const retries: BatchRetryEvent[] = [];
        const retried = new Promise<void>((resolve) =>
          exporter.on('retry', (event) => {
            retries.push(event);
            resolve();
          }),
        );
        const app = tracerWith(exporter, { scheduledDelayMillis: 50 });

        const toxic = proxy.addToxic(scenario.toxic);
        app.emit(200);
        await retried;
        proxy.removeToxic(toxic);
        app.emit(200);
        await app.provider.shutdown();
        await proxy.close();

        const stats = exporter.stats();
        if (process.env.DEBUG_OTLP_TEST) console.log(JSON.stringify({ stats, retries: retries.slice(0, 3) }));
        const missing = app.ids.filter((id) => (suite.collector.spans.get(id) ?? 0) === 0);
        const duplicates = app.ids.reduce((sum, id) => sum + Math.max(0, (suite.collector.spans.get(id) ?? 0) - 1), 0);
        expect(missing).toEqual([]);
        expect(stats.exported).toBe(400);
        expect(stats.dropped.total).toBe(0);
        expect(scenario.kinds).toContain(retries[0]?.fault.kind);
        expect(duplicates).toBeLessThanOrEqual(stats.possibleDuplicates);
        if (scenario.duplicates === 'some') expect(duplicates).toBeGreaterThan(0);
        else expect(duplicates).toBe(0);
        expect(faults.uncaught).toEqual([]);
        expect(faults.unhandled).toEqual([]);
      });
    }
  }

  it('leaves no socket or timer behind once exporters, proxies and the collector are closed', async () => {
    await suite.collector.close();
    expect(await settleHandles(suite.baseline)).toEqual([]);
  });
});
