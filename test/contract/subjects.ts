import { httpClient } from '../../packages/http/test/support/contract-subject.js';
import { resilientMongoose } from '../../packages/mongoose/test/support/contract-subject.js';
import { reconnectingSocket } from '../../packages/net/test/support/contract-subject.js';
import { resilientOtlpExporter } from '../../packages/otlp/test/support/contract-subject.js';
import { reconnectingWebSocket } from '../../packages/ws/test/support/contract-subject.js';
import type { ContractSubject } from './subject.js';

/**
 * Every long-lived holdfast object the contract suite checks. A new object
 * joins with one entry here (its package's `test/support/contract-subject.ts`).
 * Stream's pipe and express's middleware are calls, not long-lived objects:
 * they share the event and option rules (their own tests check them), not
 * this suite's connect-fault-close cycle.
 */
export const SUBJECTS: readonly ContractSubject[] = [reconnectingSocket, reconnectingWebSocket, resilientOtlpExporter, httpClient, resilientMongoose];

/** The reconnecting ones: they must also share the lifecycle's sequence and payloads. */
export const CONNECTIONS: readonly ContractSubject[] = SUBJECTS.filter((subject) => subject.kind === 'connection');
