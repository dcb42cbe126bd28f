export { main, USAGE } from './main.js';
export { EXIT, UsageError } from './io.js';
export type { CommandIo, OutputStream } from './io.js';
export { VERSION } from './version.js';
export { runDemo } from './demo/run-demo.js';
export type { DemoReport, ScenarioReport } from './demo/run-demo.js';
export { SCENARIOS } from './demo/scenarios/index.js';
export { METRICS } from './demo/scenario.js';
export type { Check, ClientRow, MetricKey, Metrics, Scenario, ScenarioContext, ScenarioOutcome } from './demo/scenario.js';
