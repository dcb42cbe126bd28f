import { reconnectingSocket } from '../../packages/net/test/support/contract-subject.js';
import { resilientOtlpExporter } from '../../packages/otlp/test/support/contract-subject.js';
import { reconnectingWebSocket } from '../../packages/ws/test/support/contract-subject.js';
import type { ContractSubject } from './subject.js';

/**
 * Every long-lived holdfast object the contract suite checks. A new object
 * joins with one entry here (its package's `test/support/contract-subject.ts`).
 * The HTTP client joins when its events land; mongoose, stream and express
 * when they exist.
 */
export const SUBJECTS: readonly ContractSubject[] = [reconnectingSocket, reconnectingWebSocket, resilientOtlpExporter];

/** The reconnecting ones: they must also share the lifecycle's sequence and payloads. */
export const CONNECTIONS: readonly ContractSubject[] = SUBJECTS.filter((subject) => subject.kind === 'connection');
