export * from './fault.js';
export * from './errors.js';
export * from './redact.js';
export * from './events.js';
export * from './schedule.js';
export * from './budget.js';
export * from './queue.js';
