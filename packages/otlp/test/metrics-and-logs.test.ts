import { describe, expect, it } from 'vitest';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { createChaosProxy } from '@holdfast/chaos';
import { exponential } from '@holdfast/core';
import { createLogExporter, createMetricExporter } from '@holdfast/otlp';
import { settleHandles } from './support/process-faults.js';
import { collectorSuite } from './support/suite.js';

/**
 * Metrics and logs through the factories with the real SDK (a MeterProvider
 * with a PeriodicExportingMetricReader, a LoggerProvider with a
 * BatchLogRecordProcessor), over every protocol, while the collector is
 * unreachable for a while (the chaos proxy refuses connections): every log
 * record arrives (by body), duplicates stay within the counted possible
 * duplicates, every metric export the SDK made is delivered, nothing is
 * dropped and nothing escapes.
 */
describe('metrics and logs through a collector outage', () => {
  const suite = collectorSuite();
  const { faults } = suite;

  for (const protocol of ['http/protobuf', 'http/json', 'grpc'] as const) {
    it(`${protocol}: logs and metrics exported during the outage arrive once it is over`, async () => {
      const proxy = await createChaosProxy({
        upstream: { host: '127.0.0.1', port: protocol === 'grpc' ? suite.collector.grpcPort : suite.collector.httpPort },
      });
      const options = {
        protocol,
        endpoint: proxy.url('http'),
        env: {},
        timeoutMillis: 1_000,
        schedule: exponential({ initialMs: 50, maxMs: 200 }),
        breaker: false as const,
        shutdownTimeoutMs: 10_000,
      };
      const metricExporter = createMetricExporter(options);
      const logExporter = createLogExporter(options);
      const meters = new MeterProvider({
        readers: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 100, exportTimeoutMillis: 100 })],
      });
      const loggers = new LoggerProvider({ processors: [new BatchLogRecordProcessor({ exporter: logExporter, scheduledDelayMillis: 20 })] });
      const metricName = `orders.${protocol.replace('/', '_')}`;
      const counter = meters.getMeter('holdfast-otlp-test').createCounter(metricName);
      const logger = loggers.getLogger('holdfast-otlp-test');
      const bodies: string[] = [];
      const produce = async (count: number): Promise<void> => {
        for (let i = 0; i < count; i++) {
          const body = `${protocol} order ${bodies.length}`;
          bodies.push(body);
          logger.emit({ body });
          counter.add(1, { route: '/orders' });
          if (i % 10 === 9) await new Promise((r) => setTimeout(r, 10));
        }
      };

      await produce(100);
      await proxy.disable();
      await produce(100);
      await new Promise((r) => setTimeout(r, 400));
      await proxy.enable();
      await produce(100);
      await Promise.all([meters.shutdown(), loggers.shutdown()]);
      await proxy.close();

      const logs = logExporter.stats();
      const metrics = metricExporter.stats();
      if (process.env.DEBUG_OTLP_TEST)
        console.log(
          protocol,
          JSON.stringify({ logs, metrics, requests: suite.collector.metricNames.get(metricName), bodies: suite.collector.logBodies.size }),
        );
      expect(bodies.filter((body) => (suite.collector.logBodies.get(body) ?? 0) === 0)).toEqual([]);
      const logDuplicates = bodies.reduce((sum, body) => sum + (suite.collector.logBodies.get(body) ?? 1) - 1, 0);
      expect(logDuplicates).toBeLessThanOrEqual(logs.possibleDuplicates);
      expect(logs.exported).toBe(300);
      expect(logs.dropped.total).toBe(0);
      // The outage cost retries; every periodic export still got through, each as one request at least.
      expect(logs.retried + metrics.retried).toBeGreaterThan(0);
      expect(metrics.dropped.total).toBe(0);
      expect(metrics.exported).toBe(metrics.accepted.items);
      expect(suite.collector.metricNames.get(metricName) ?? 0).toBeGreaterThanOrEqual(metrics.accepted.batches);
      // One data point per export here, so possible duplicates (items) are also batches.
      expect(suite.collector.metricNames.get(metricName) ?? 0).toBeLessThanOrEqual(metrics.accepted.batches + metrics.possibleDuplicates);
      expect(faults.uncaught).toEqual([]);
      expect(faults.unhandled).toEqual([]);
    });
  }

  it('nothing stays open once the providers, proxies and the collector are closed', async () => {
    await suite.collector.close();
    expect(await settleHandles(suite.baseline)).toEqual([]);
  });
});
