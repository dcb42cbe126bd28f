import { createChaosProxy } from '@holdfast/chaos';
import type { ChaosProxy } from '@holdfast/chaos';
import { createTraceExporter } from '@holdfast/otlp';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { formatMs } from '../../display/format.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario.js';
import { atMost, sleep } from '../servers/listen.js';
import { startOtlpReceiver } from '../servers/otlp-receiver.js';
import type { OtlpReceiver } from '../servers/otlp-receiver.js';

const SPANS = 4000;
const EVERY_MS = 25;
const RUN_MS = 3000;
const DOWN_AT_MS = 800;
const DOWN_FOR_MS = 1500;
const FLUSH_LIMIT_MS = 12_000;
/** The SDK's defaults but for the delay, shortened so a 3 s demo exports often. */
const BATCH = { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 200, exportTimeoutMillis: 30_000 };

export const otlpRestart: Scenario = {
  name: 'otlp-restart',
  title: 'OpenTelemetry: the collector restarts while spans are exported',
  fault: `An app ends ${SPANS} spans over ${RUN_MS / 1000} s through the SDK's BatchSpanProcessor (its default 2048-span queue). After ${DOWN_AT_MS} ms the collector behind the proxy stops for ${DOWN_FOR_MS / 1000} s and starts again; its connections are reset meanwhile.`,
  columns: ['requests', 'successes', 'retries', 'duplicates', 'spansLost'],
  labels: { requests: 'spans', successes: 'spans received' },
  async run(context) {
    const receivers = await Promise.all([startOtlpReceiver(), startOtlpReceiver()]);
    const [plainReceiver, holdfastReceiver] = receivers;
    const proxies = await Promise.all(receivers.map((r) => createChaosProxy({ upstream: { host: '127.0.0.1', port: r.port } })));
    const [plainProxy, holdfastProxy] = proxies as [ChaosProxy, ChaosProxy];
    const plainExporter = new OTLPTraceExporter({ url: `${plainProxy.url()}/v1/traces` });
    const holdfastExporter = createTraceExporter({ url: `${holdfastProxy.url()}/v1/traces`, protocol: 'http/protobuf', env: {} });
    const providers = [plainExporter, holdfastExporter].map(
      (exporter: SpanExporter) => new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, BATCH)] }),
    ) as [BasicTracerProvider, BasicTracerProvider];
    const tracers = providers.map((p) => p.getTracer('holdfast-demo'));
    let holdfastRetries = 0;
    holdfastExporter.on('retry', () => holdfastRetries++);
    try {
      const outage = (async () => {
        await sleep(DOWN_AT_MS);
        context.note('the collectors stop');
        await Promise.all(receivers.map((r) => r.stop()));
        await sleep(DOWN_FOR_MS);
        await Promise.all(receivers.map((r) => r.start()));
        context.note('the collectors are back');
      })();
      const perTick = Math.ceil(SPANS / (RUN_MS / EVERY_MS));
      let ended = 0;
      while (ended < SPANS) {
        const n = Math.min(perTick, SPANS - ended);
        for (const tracer of tracers) for (let i = 0; i < n; i++) tracer.startSpan('checkout').end();
        ended += n;
        context.progress(`${ended} of ${SPANS} spans per app`, (0.7 * ended) / SPANS);
        await sleep(EVERY_MS);
      }
      await outage;
      context.progress('flushing', 0.8);
      const flushStarted = performance.now();
      await Promise.all(providers.map((p) => atMost(p.forceFlush(), FLUSH_LIMIT_MS)));
      // The SDK's forceFlush() hands the spans to export() but never calls the exporter's own forceFlush (see @holdfast/otlp's README).
      await atMost(holdfastExporter.forceFlush(), FLUSH_LIMIT_MS);
      const flushMs = performance.now() - flushStarted;
      const stats = holdfastExporter.stats();
      const unique = (r: OtlpReceiver): number => r.spans.size;
      const duplicates = (r: OtlpReceiver): number => [...r.spans.values()].reduce((sum, n) => sum + n - 1, 0);
      return {
        rows: [
          {
            client: 'OTel OTLPTraceExporter',
            holdfast: false,
            metrics: {
              requests: SPANS,
              successes: unique(plainReceiver),
              retries: undefined,
              duplicates: duplicates(plainReceiver),
              spansLost: SPANS - unique(plainReceiver),
            },
          },
          {
            client: 'holdfast createTraceExporter',
            holdfast: true,
            metrics: {
              requests: SPANS,
              successes: unique(holdfastReceiver),
              retries: holdfastRetries,
              duplicates: duplicates(holdfastReceiver),
              spansLost: SPANS - unique(holdfastReceiver),
            },
          },
        ],
        checks: [expectEqual('holdfast: spans lost', SPANS - unique(holdfastReceiver), 0)],
        notes: [
          "The OTel exporter retries inside export(): while it waits, the SDK's 2048-span queue fills and the processor drops the newest spans, without an error the app can see.",
          `holdfast's export() takes each batch into its own bounded queue and returns at once, so the SDK's queue keeps draining. ${stats.possibleDuplicates} spans were in attempts cut short, whose outcome is unknown: sent again and counted as possible duplicates, not hidden. Flushing took ${formatMs(flushMs)}.`,
        ],
      };
    } finally {
      await Promise.all(providers.map((p) => atMost(p.shutdown(), 5000)));
      await Promise.all(proxies.map((p) => p.close()));
      await Promise.all(receivers.map((r) => r.close()));
    }
  },
};
