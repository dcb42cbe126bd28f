import type { IncomingMessage } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { checkOptions, rule } from '@holdfast/core';
import { createExpressEvents, debug, eventsRule, type ExpressEvents } from './events.js';
import { pathOf, type Middleware } from './http-types.js';

export interface ShedLoadOptions {
  /** Overloaded while the event loop's delay (99th percentile over the last sample window, or the sampler's own lateness) is above this. Default 200 ms. */
  readonly maxEventLoopDelayMs?: number;
  /** Also overloaded while the V8 heap in use is above this many bytes. Default: no heap limit. */
  readonly maxHeapUsedBytes?: number;
  /** How often the delay and heap are read. Default 500 ms. */
  readonly sampleIntervalMs?: number;
  /** `Retry-After` of shed responses, in seconds. Default 1. */
  readonly retryAfterS?: number;
  /** Requests for which this returns true are never shed (health checks, the shutdown's readiness probe). */
  readonly skip?: (req: IncomingMessage) => boolean;
  /** Where `'shed'` and `'state'` events go. Default: a new `createExpressEvents()`, exposed as `middleware.events`. */
  readonly events?: ExpressEvents;
}

export type ShedLoadMiddleware = Middleware & {
  readonly events: ExpressEvents;
  /** Whether requests are being shed now. */
  readonly overloaded: boolean;
  /** Stops sampling (the timer and the event-loop monitor). May be called twice. */
  close(): Promise<void>;
};

const RULES = {
  maxEventLoopDelayMs: rule.number(1, 60_000),
  maxHeapUsedBytes: rule.integer(1),
  sampleIntervalMs: rule.timerMs(10),
  retryAfterS: rule.integer(0, 86_400),
  skip: rule.function('(req) => boolean'),
  events: eventsRule,
};

/**
 * Middleware: while the process is overloaded (its event loop late by more
 * than `maxEventLoopDelayMs`, or its heap above `maxHeapUsedBytes`), answers
 * 503 with `Retry-After` at once instead of queueing work it cannot finish
 * in time (clients then time out and reset). The sampling timer is unref'd;
 * `close()` stops it. Health checks go before it, or in `skip`.
 */
export function shedLoad(options: ShedLoadOptions = {}): ShedLoadMiddleware {
  checkOptions('shedLoad', options, RULES);
  const maxDelayMs = options.maxEventLoopDelayMs ?? 200;
  const maxHeap = options.maxHeapUsedBytes ?? Number.POSITIVE_INFINITY;
  const retryAfter = String(options.retryAfterS ?? 1);
  const skip = options.skip;
  const events = options.events ?? createExpressEvents();

  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let overloaded = false;
  let reason: 'event-loop-delay' | 'heap' = 'event-loop-delay';
  const intervalMs = options.sampleIntervalMs ?? 500;
  let lastSample = performance.now();
  const sample = (): void => {
    // The sampler's own lateness too: a loop busy with one long batch of I/O callbacks records few histogram samples.
    const now = performance.now();
    const lateMs = now - lastSample - intervalMs;
    lastSample = now;
    const delayMs = Math.max(lateMs, histogram.count === 0 ? 0 : histogram.percentile(99) / 1e6);
    histogram.reset();
    const heapUsed = maxHeap === Number.POSITIVE_INFINITY ? 0 : process.memoryUsage().heapUsed;
    const over = delayMs > maxDelayMs || heapUsed > maxHeap;
    if (over) reason = delayMs > maxDelayMs ? 'event-loop-delay' : 'heap';
    if (over === overloaded) return;
    overloaded = over;
    debug('shedLoad: %s (event loop delay %d ms)', over ? 'overloaded' : 'recovered', Math.round(delayMs));
    events.emit('state', {
      event: 'state',
      from: over ? 'ok' : 'overloaded',
      to: over ? 'overloaded' : 'ok',
      eventLoopDelayMs: Math.round(delayMs),
      heapUsedBytes: heapUsed,
    });
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();

  const middleware: Middleware = (req, res, next) => {
    if (!overloaded || skip?.(req) === true) return next();
    events.emit('shed', { event: 'shed', method: req.method ?? 'GET', path: pathOf(req), reason, retryAfterS: Number(retryAfter) });
    res.statusCode = 503;
    res.setHeader('retry-after', retryAfter);
    res.setHeader('content-type', 'text/plain');
    res.end('overloaded, retry later');
  };
  let closed = false;
  return Object.defineProperties(middleware, {
    events: { value: events, enumerable: true },
    overloaded: { get: () => overloaded, enumerable: true },
    close: {
      value: (): Promise<void> => {
        if (!closed) {
          closed = true;
          clearInterval(timer);
          histogram.disable();
          overloaded = false;
        }
        return Promise.resolve();
      },
    },
  }) as ShedLoadMiddleware;
}
