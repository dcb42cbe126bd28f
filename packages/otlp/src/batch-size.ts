/**
 * How many telemetry items a batch holds (spans, log records, metric data
 * points) and roughly how many bytes it costs in memory, so the queue can be
 * bounded by both without serializing anything on the hot path.
 */
export interface BatchSize {
  readonly items: number;
  readonly bytes: number;
}

// Rough per-item costs, measured against OTLP/protobuf sizes of typical SDK
// output; an estimate only has to keep the byte bound honest within a factor.
const BASE_ITEM_BYTES = 200;
const ATTRIBUTE_BYTES = 48;
const EVENT_BYTES = 96;
const DATA_POINT_BYTES = 80;

export function measureBatch(batch: unknown): BatchSize {
  try {
    if (Array.isArray(batch)) {
      let bytes = 0;
      for (const item of batch as unknown[]) bytes += itemBytes(item);
      return { items: batch.length, bytes };
    }
    if (isObject(batch) && Array.isArray(batch.scopeMetrics)) {
      let points = 0;
      for (const scope of batch.scopeMetrics as unknown[]) {
        if (!isObject(scope) || !Array.isArray(scope.metrics)) continue;
        for (const metric of scope.metrics as unknown[]) {
          if (isObject(metric) && Array.isArray(metric.dataPoints)) points += metric.dataPoints.length;
        }
      }
      return { items: points, bytes: BASE_ITEM_BYTES + points * DATA_POINT_BYTES };
    }
  } catch {
    // A batch with hostile getters still gets queued; it is counted as one item.
  }
  return { items: 1, bytes: BASE_ITEM_BYTES };
}

function itemBytes(item: unknown): number {
  if (!isObject(item)) return BASE_ITEM_BYTES;
  let bytes = BASE_ITEM_BYTES;
  if (isObject(item.attributes)) bytes += Object.keys(item.attributes).length * ATTRIBUTE_BYTES;
  if (Array.isArray(item.events)) bytes += item.events.length * EVENT_BYTES;
  if (typeof item.body === 'string') bytes += item.body.length;
  return bytes;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
