export * from './fault.js';
export * from './redact.js';
export * from './events.js';
