import type { Scenario } from '../scenario.js';
import { download } from './download.js';
import { expressShutdown } from './express-shutdown.js';
import { httpGet } from './http-get.js';
import { httpOutage } from './http-outage.js';
import { httpPost } from './http-post.js';
import { httpStale } from './http-stale.js';
import { mongodbRestart } from './mongodb-restart.js';
import { otlpRestart } from './otlp-restart.js';
import { tcpReset } from './tcp-reset.js';
import { wsHalfOpen } from './ws-half-open.js';
import { wsRestart } from './ws-restart.js';

/**
 * Every scenario, in the order the demo runs them. A transport joins the demo
 * with one file here.
 */
export const SCENARIOS: readonly Scenario[] = [
  httpGet,
  httpPost,
  httpOutage,
  httpStale,
  wsRestart,
  wsHalfOpen,
  tcpReset,
  download,
  otlpRestart,
  mongodbRestart,
  expressShutdown,
];
