// Compiled with `tsc --noEmit` (skipLibCheck off) against the packed .d.ts files and the project's own libraries:
// holdfast's types must accept the user's instances (an undici Agent, an axios instance, p-retry's options, the
// OpenTelemetry SDK's processors), not copies of them.
import axios from 'axios';
import express from 'express';
// ioredis is CommonJS: from an ES module its class is the default export's `default`.
import Redis from 'ioredis';
import mongoose from 'mongoose';
import pRetry from 'p-retry';
import { Agent, request, type Dispatcher } from 'undici';
import { NodeSDK, tracing } from '@opentelemetry/sdk-node';
import { createChaosProxy, type ChaosProxy } from '@holdfast/chaos';
import { ResponseStatusError, classify, holdfastRetryOptions, retry, type Fault } from '@holdfast/core';
import { RedisIdempotencyStore, clientAbort, idempotency, safeResponses } from '@holdfast/express';
import { createHttpClient, resilientAxios, resilientFetch, retryInterceptor, type HttpClient } from '@holdfast/http';
import { ResilientMongoose, connectMongoose } from '@holdfast/mongoose';
import { ReconnectingSocket } from '@holdfast/net';
import { createTraceExporter, resilientExporter } from '@holdfast/otlp';
import { resumablePipeline } from '@holdfast/stream';
import { ReconnectingWebSocket } from '@holdfast/ws';

export async function typed(url: string, proxy: ChaosProxy): Promise<void> {
  const dispatcher: Dispatcher = new Agent().compose(retryInterceptor({ attempts: 4 }));
  const res = await request(url, { dispatcher, holdfast: { idempotencyKey: true } } as Parameters<typeof request>[1]);
  const text: string = await res.body.text();
  const client: HttpClient = createHttpClient();
  const viaClient: Dispatcher = client.dispatcher;
  const api = resilientAxios(axios.create({ baseURL: url }));
  const fetch = resilientFetch(globalThis.fetch);
  const body: string = await pRetry(
    async () => {
      const r = await fetch(url);
      if (!r.ok) throw new ResponseStatusError(r);
      return r.text();
    },
    holdfastRetryOptions({ operation: { method: 'GET' } }),
  );
  const fault: Fault = classify(new Error(text + body));
  const viaRetry: number = await retry(() => 1, { attempts: 2 });
  const exporter: tracing.SpanExporter = createTraceExporter({ protocol: 'http/json' });
  const wrapped: tracing.SpanExporter = resilientExporter(new tracing.ConsoleSpanExporter());
  new tracing.BasicTracerProvider({ spanProcessors: [new tracing.BatchSpanProcessor(exporter), new tracing.BatchSpanProcessor(wrapped)] });
  new NodeSDK({ traceExporter: createTraceExporter() });
  const socket = new ReconnectingWebSocket(url.replace('http', 'ws'));
  const tcp = new ReconnectingSocket({ host: '127.0.0.1', port: proxy.port });
  const app = express();
  app.use(
    safeResponses(),
    clientAbort(),
    express.json(),
    idempotency({ store: new RedisIdempotencyStore(new Redis.default({ lazyConnect: true })) }),
  );
  const db = new ResilientMongoose(url, { mongoose });
  const connection: mongoose.Connection = db.connection;
  const ready: ResilientMongoose = await connectMongoose(url, { mongoose });
  void [viaClient, connection, ready, api, fault, viaRetry, socket, tcp, resumablePipeline, createChaosProxy];
}
