export * from './exporter-shape.js';
export * from './otlp-fault.js';
export * from './otlp-config.js';
