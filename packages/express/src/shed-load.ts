import type { IncomingMessage } from 'node:http';
import { checkOptions, rule } from '@holdfast/core/internal';
import { createExpressEvents, debug, eventsRule, type ExpressEvents } from './events.js';
import { pathOf, type Middleware } from './http-types.js';

export interface ShedLoadOptions {
  /** Overloaded while the event loop's delay (the mean lateness of a 10 ms timer over the last sample window) is above this. Default 200 ms. */
  readonly maxEventLoopDelayMs?: number;
  /** Also overloaded while the V8 heap in use is above this many bytes. Default: no heap limit. */
  readonly maxHeapUsedBytes?: number;
  /** The sample window: how often the delay and heap are judged. Default 500 ms. */
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

const TICK_MS = 10;

const RULES = {
  maxEventLoopDelayMs: rule.number(1, 60_000),
  maxHeapUsedBytes: rule.integer(1),
  sampleIntervalMs: rule.timerMs(20),
  retryAfterS: rule.integer(0, 86_400),
  skip: rule.function('(req) => boolean'),
  events: eventsRule,
};

/**
 * Middleware: while the process is overloaded (its event loop late by more
 * than `maxEventLoopDelayMs`, or its heap above `maxHeapUsedBytes`), answers
 * 503 with `Retry-After` at once instead of queueing work it cannot finish
 * in time (clients then time out and reset). It recovers after two calm
 * sample windows in a row. The sampling timer is unref'd;
 * `close()` stops it. Health checks go before it, or in `skip`.
 */
export function shedLoad(options: ShedLoadOptions = {}): ShedLoadMiddleware {
  checkOptions('shedLoad', options, RULES);
  const maxDelayMs = options.maxEventLoopDelayMs ?? 200;
  const maxHeap = options.maxHeapUsedBytes ?? Number.POSITIVE_INFINITY;
  const retryAfter = String(options.retryAfterS ?? 1);
  const skip = options.skip;
  const events = options.events ?? createExpressEvents();

  // A 10 ms timer measures how late the loop runs it; each window's mean lateness is the delay. Not
  // monitorEventLoopDelay(): its histogram stopped recording under some loads here (windows of 0 samples).
  const intervalMs = options.sampleIntervalMs ?? 500;
  let overloaded = false;
  let calmWindows = 0;
  let reason: 'event-loop-delay' | 'heap' = 'event-loop-delay';
  let lastTick = performance.now();
  let windowStart = lastTick;
  let lagSum = 0;
  let ticks = 0;
  const tick = (): void => {
    const now = performance.now();
    lagSum += Math.max(0, now - lastTick - TICK_MS);
    ticks++;
    lastTick = now;
    if (now - windowStart >= intervalMs) {
      evaluate(lagSum / ticks);
      windowStart = now;
      lagSum = 0;
      ticks = 0;
    }
  };
  const evaluate = (delayMs: number): void => {
    const heapUsed = maxHeap === Number.POSITIVE_INFINITY ? 0 : process.memoryUsage().heapUsed;
    const over = delayMs > maxDelayMs || heapUsed > maxHeap;
    if (over) reason = delayMs > maxDelayMs ? 'event-loop-delay' : 'heap';
    // Recovery needs two calm windows in a row: the first calm one is usually calm only because requests were shed.
    calmWindows = over ? 0 : calmWindows + 1;
    if (over === overloaded || (overloaded && calmWindows < 2)) return;
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
  const timer = setInterval(tick, TICK_MS);
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
          overloaded = false;
        }
        return Promise.resolve();
      },
    },
  }) as ShedLoadMiddleware;
}
