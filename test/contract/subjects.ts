import { resilientMongoose } from '../../packages/mongoose/test/support/contract-subject.js';
import { reconnectingSocket } from '../../packages/net/test/support/contract-subject.js';
import { resilientOtlpExporter } from '../../packages/otlp/test/support/contract-subject.js';
import { reconnectingWebSocket } from '../../packages/ws/test/support/contract-subject.js';
import type { ContractSubject } from './subject.js';

/**
 * Every long-lived holdfast object the contract suite checks. A new object
 * joins with one entry here (its package's `test/support/contract-subject.ts`).
 * The HTTP client joins once its payloads carry `event` and `name` (the suite
 * tells objects apart by `name`); stream and express next.
 */
export const SUBJECTS: readonly ContractSubject[] = [reconnectingSocket, reconnectingWebSocket, resilientOtlpExporter, resilientMongoose];

/** The reconnecting ones: they must also share the lifecycle's sequence and payloads. */
export const CONNECTIONS: readonly ContractSubject[] = SUBJECTS.filter((subject) => subject.kind === 'connection');
