import { ExportResultCode } from '@opentelemetry/core';
import type { BatchExporter } from './exporter-shape.js';

/**
 * One call of the wrapped exporter as a promise. An exporter may throw
 * synchronously, call back twice, or call back with FAILED and no error: all
 * of those become one settled promise with an Error, never an exception.
 */
export function exportOnce<Batch>(exporter: BatchExporter<Batch>, batch: Batch): Promise<void> {
  // A promise settles once, so a second callback or a throw after the callback is ignored by construction.
  return new Promise<void>((resolve, reject) => {
    try {
      exporter.export(batch, (result) => {
        if (result.code === ExportResultCode.SUCCESS) resolve();
        else reject(toError(result.error));
      });
    } catch (error) {
      reject(toError(error));
    }
  });
}

function toError(error: unknown): Error {
  if (error instanceof Error) return error;
  if (error === undefined) return new Error('the exporter reported FAILED without an error');
  return new Error(typeof error === 'string' ? error : JSON.stringify(error));
}
