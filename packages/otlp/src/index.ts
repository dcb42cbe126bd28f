export * from './exporter-shape.js';
export * from './delivery-events.js';
export * from './resilient-options.js';
export * from './otlp-fault.js';
export * from './resilient-exporter.js';
export * from './otlp-config.js';
export * from './otlp-factories.js';
