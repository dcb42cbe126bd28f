import axios from 'axios';
import { createHttpClient, withResilience, wrapFetch, type HttpRetryOptions } from '@holdfast/http';

/**
 * The same scenarios through every face: the client's request() (the undici
 * interceptor), the client's fetch(), wrapFetch(globalThis.fetch) and an axios
 * instance with withResilience(). Each face answers { status, text } or throws.
 */
export interface Face {
  send(url: string, init: { method?: string; body?: string; id?: string; key?: true; deadlineMs?: number }): Promise<{ status: number; text: string }>;
  close(): Promise<void>;
}

export const faces: Record<string, (options: HttpRetryOptions) => Face> = {
  'client.request': (options) => {
    const client = createHttpClient(options);
    return {
      async send(url, init) {
        const res = await client.request(url, {
          method: (init.method ?? 'GET') as 'GET',
          body: init.body ?? null,
          headers: init.id === undefined ? {} : { 'x-request-id': init.id },
          ...(init.key ? { idempotencyKey: true } : {}),
          ...(init.deadlineMs === undefined ? {} : { deadlineMs: init.deadlineMs }),
        });
        return { status: res.statusCode, text: await res.body.text() };
      },
      close: () => client.close(),
    };
  },
  'client.fetch': (options) => {
    const client = createHttpClient(options);
    return {
      async send(url, init) {
        const res = await client.fetch(url, {
          method: init.method ?? 'GET',
          ...(init.body === undefined ? {} : { body: init.body }),
          headers: init.id === undefined ? {} : { 'x-request-id': init.id },
          ...(init.key ? { idempotencyKey: true } : {}),
          ...(init.deadlineMs === undefined ? {} : { deadlineMs: init.deadlineMs }),
        });
        return { status: res.status, text: await res.text() };
      },
      close: () => client.close(),
    };
  },
  wrapFetch: (options) => {
    const fetch = wrapFetch(globalThis.fetch, options);
    return {
      async send(url, init) {
        const res = await fetch(url, {
          method: init.method ?? 'GET',
          ...(init.body === undefined ? {} : { body: init.body }),
          headers: init.id === undefined ? {} : { 'x-request-id': init.id },
          ...(init.key ? { idempotencyKey: true } : {}),
          ...(init.deadlineMs === undefined ? {} : { deadlineMs: init.deadlineMs }),
        });
        return { status: res.status, text: await res.text() };
      },
      close: () => {
        fetch.close();
        return Promise.resolve();
      },
    };
  },
  axios: (options) => {
    const instance = axios.create({ validateStatus: () => true });
    const resilient = withResilience(instance, options);
    return {
      async send(url, init) {
        const res = await instance.request({
          url,
          method: init.method ?? 'GET',
          data: init.body,
          responseType: 'text',
          headers: init.id === undefined ? {} : { 'x-request-id': init.id },
          holdfast: { ...(init.key ? { idempotencyKey: true } : {}), ...(init.deadlineMs === undefined ? {} : { deadlineMs: init.deadlineMs }) },
        } as never);
        return { status: res.status, text: String(res.data) };
      },
      close: () => {
        resilient.close();
        return Promise.resolve();
      },
    };
  },
};
