import axios from 'axios';
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { createHttpClient, resilientAxios, resilientFetch, type HttpClient, type HttpRetryOptions, type ResilientRequestInit } from '@holdfast/http';

/** What one call through a face asks for. */
export interface FaceInit {
  method?: string;
  body?: string;
  id?: string;
  key?: true;
  deadlineMs?: number;
  signal?: AbortSignal;
  /** Called when the face hands over a response: before its body is read, except through axios, which reads it first. */
  onResponse?: (status: number) => void;
}

/** Per-attempt time limits, for the faces that have them. */
export interface AttemptTimeouts {
  headersTimeout?: number;
  bodyTimeout?: number;
}

/**
 * The same scenarios through every face: the client's request() (the undici
 * interceptor), the client's fetch(), resilientFetch(globalThis.fetch) and an
 * axios instance made by resilientAxios(). Each face answers { status, text } or throws.
 */
export interface Face {
  send(url: string, init: FaceInit): Promise<{ status: number; text: string }>;
  close(): Promise<void>;
  /** The face's events and counters (the same on every face). */
  readonly on: HttpClient['on'];
  stats: HttpClient['stats'];
  /**
   * Whether the face applied the AttemptTimeouts it was given. resilientFetch over
   * Node's global fetch cannot: its pool is the global dispatcher, whose
   * timeouts (300 s) no fetch call can change without bringing its own
   * dispatcher, which would make it another face.
   */
  readonly boundsAttempts: boolean;
}

/** The fetch init both fetch faces send. */
function fetchInit(init: FaceInit): ResilientRequestInit {
  return {
    method: init.method ?? 'GET',
    ...(init.body === undefined ? {} : { body: init.body }),
    headers: init.id === undefined ? {} : { 'x-request-id': init.id },
    ...(init.key ? { idempotencyKey: true } : {}),
    ...(init.deadlineMs === undefined ? {} : { deadlineMs: init.deadlineMs }),
    ...(init.signal === undefined ? {} : { signal: init.signal }),
  };
}

async function readFetched(res: Response, init: FaceInit): Promise<{ status: number; text: string }> {
  init.onResponse?.(res.status);
  return { status: res.status, text: await res.text() };
}

export const faces: Record<string, (options: HttpRetryOptions, timeouts?: AttemptTimeouts) => Face> = {
  'client.request': (options, timeouts = {}) => {
    const client = createHttpClient({ ...options, ...timeouts });
    return {
      async send(url, init) {
        const res = await client.request(url, {
          method: (init.method ?? 'GET') as 'GET',
          body: init.body ?? null,
          headers: init.id === undefined ? {} : { 'x-request-id': init.id },
          ...(init.key ? { idempotencyKey: true } : {}),
          ...(init.deadlineMs === undefined ? {} : { deadlineMs: init.deadlineMs }),
          ...(init.signal === undefined ? {} : { signal: init.signal }),
        });
        init.onResponse?.(res.statusCode);
        return { status: res.statusCode, text: await res.body.text() };
      },
      close: () => client.close(),
      on: client.on,
      stats: () => client.stats(),
      boundsAttempts: true,
    };
  },
  'client.fetch': (options, timeouts = {}) => {
    const client = createHttpClient({ ...options, ...timeouts });
    return {
      async send(url, init) {
        return readFetched(await client.fetch(url, fetchInit(init)), init);
      },
      close: () => client.close(),
      on: client.on,
      stats: () => client.stats(),
      boundsAttempts: true,
    };
  },
  resilientFetch: (options) => {
    // Node's global fetch over a global dispatcher of this test's own, as after setGlobalDispatcher(): which Agent the
    // global one is otherwise depends on whether Node's bundled undici or the imported one got there first (Node 22's
    // bundled 6.29 keeps an aborted request's socket for ~4 s), and its pooled sockets would outlive the test.
    const previous = getGlobalDispatcher();
    const agent = new Agent();
    setGlobalDispatcher(agent);
    const fetch = resilientFetch(globalThis.fetch, options);
    return {
      async send(url, init) {
        return readFetched(await fetch(url, fetchInit(init)), init);
      },
      close: () => {
        fetch.close();
        setGlobalDispatcher(previous);
        return agent.close();
      },
      on: fetch.on,
      stats: () => fetch.stats(),
      boundsAttempts: false,
    };
  },
  axios: (options, timeouts = {}) => {
    // axios has one per-attempt limit, `timeout`: the socket may stay silent that long, waiting for headers or body alike.
    const limits = [timeouts.headersTimeout, timeouts.bodyTimeout].filter((ms): ms is number => ms !== undefined);
    const instance = resilientAxios(
      axios.create({ validateStatus: () => true, ...(limits.length === 0 ? {} : { timeout: Math.min(...limits) }) }),
      options,
    );
    const resilient = instance;
    return {
      async send(url, init) {
        const res = await instance.request({
          url,
          method: init.method ?? 'GET',
          data: init.body,
          responseType: 'text',
          headers: init.id === undefined ? {} : { 'x-request-id': init.id },
          ...(init.signal === undefined ? {} : { signal: init.signal }),
          holdfast: { ...(init.key ? { idempotencyKey: true } : {}), ...(init.deadlineMs === undefined ? {} : { deadlineMs: init.deadlineMs }) },
        } as never);
        init.onResponse?.(res.status);
        return { status: res.status, text: String(res.data) };
      },
      close: () => {
        resilient.close();
        return Promise.resolve();
      },
      on: resilient.on,
      stats: () => resilient.stats(),
      boundsAttempts: true,
    };
  },
};
