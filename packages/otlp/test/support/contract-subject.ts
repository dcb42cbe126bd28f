import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createChaosProxy } from '@holdfast/chaos';
import { exponential } from '@holdfast/core';
import { createTraceExporter } from '@holdfast/otlp';
import type { ContractObject, ContractSubject } from '../../../../test/contract/subject.js';
import { startCollector } from './collector.js';

type Exporter = ReturnType<typeof createTraceExporter>;

/**
 * The exporter under the contract's names: its close() is OTel's
 * shutdown(), and using it ends a span through the real SDK (a
 * SimpleSpanProcessor: one export per span, no timer of its own).
 */
function contractFace(exporter: Exporter): ContractObject {
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('holdfast-contract');
  const face = {
    on: (name: string, listener: never) => exporter.on(name as never, listener),
    once: (name: string, listener: never) => exporter.once(name as never, listener),
    off: (name: string, listener: never) => exporter.off(name as never, listener),
    close: () => exporter.shutdown(),
    stats: () => exporter.stats(),
    emit: () => tracer.startSpan('contract').end(),
  };
  return face;
}

const delivered = (object: ContractObject): Promise<void> => new Promise((resolve) => object.once('delivered', () => resolve()));

/** otlp's entry in the contract suite: a real OTLP collector (HTTP) behind the proxy. */
export const resilientOtlpExporter: ContractSubject = {
  title: 'resilient OTLP exporter (@holdfast/otlp)',
  kind: 'client',
  events: ['drop', 'retry', 'delivered', 'misconfigured', 'breaker'],
  misspelt: { key: 'maxBatchAge', suggests: 'maxBatchAgeMs' },
  knownGaps: {},
  async start() {
    const collector = await startCollector();
    const proxy = await createChaosProxy({ upstream: { host: '127.0.0.1', port: collector.httpPort } });
    return {
      proxy,
      async stop() {
        await proxy.close();
        await collector.close();
      },
    };
  },
  create(peer, options) {
    const exporter = createTraceExporter({
      env: {},
      protocol: 'http/protobuf',
      endpoint: peer.proxy.url('http'),
      timeoutMillis: 2_000,
      schedule: exponential({ initialMs: 20, maxMs: 100 }),
      breaker: false,
      ...options,
    });
    return contractFace(exporter);
  },
  ready(object) {
    const done = delivered(object);
    this.use(object);
    return done;
  },
  use(object) {
    (object as ContractObject & { emit(): void }).emit();
  },
  async fault(object, peer) {
    // The first byte of the collector's answer becomes a RST: the batch is retried (a possible duplicate), then delivered.
    const toxic = peer.proxy.addToxic({ type: 'reset_peer', stream: 'downstream' });
    const retried = new Promise<void>((resolve) => object.once('retry', () => resolve()));
    this.use(object);
    await retried;
    peer.proxy.removeToxic(toxic);
    await delivered(object);
  },
};
