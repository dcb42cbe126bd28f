import { afterAll, beforeAll } from 'vitest';
import { startCollector, type Collector } from './collector.js';
import { openHandles, watchProcessFaults, type ProcessFaults } from './process-faults.js';

/** What a test file against one collector shares; `baseline` and `collector` are set before its first test. */
export interface CollectorSuite {
  readonly faults: ProcessFaults;
  /** The handles open before the file started anything, for settleHandles(). */
  baseline: string[];
  /** Replaced when a test restarts the collector. */
  collector: Collector;
}

/** Watches for escaping errors for the whole file, notes the open handles, and starts a collector before the first test. */
export function collectorSuite(): CollectorSuite {
  const suite = { faults: watchProcessFaults(), baseline: [] as string[] } as CollectorSuite;
  beforeAll(async () => {
    suite.baseline = openHandles();
    suite.collector = await startCollector();
  });
  afterAll(() => suite.faults.stop());
  return suite;
}
