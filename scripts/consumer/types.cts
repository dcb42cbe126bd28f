// The CommonJS declarations (.d.cts) with the project's own libraries, as a CommonJS TypeScript project sees them.
import { Agent, type Dispatcher } from 'undici';
import pRetryTypes = require('@holdfast/core');
import http = require('@holdfast/http');
import otlp = require('@holdfast/otlp');
import ws = require('@holdfast/ws');

export const dispatcher: Dispatcher = new Agent().compose(http.retryInterceptor());
export const options = pRetryTypes.holdfastRetryOptions({ attempts: 2 });
export const exporter = otlp.createTraceExporter;
export const Socket = ws.ReconnectingWebSocket;
