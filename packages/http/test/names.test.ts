import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { OutcomeUnknownError, resilientAxios, resilientFetch, withResilience, wrapFetch } from '@holdfast/http';

/**
 * The naming rule (docs/architecture.md): `resilientX(thing)` returns a new
 * thing of the same type and leaves yours as it was; the old names keep
 * working for one release and warn once.
 */

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Resets each connection's first request (a real RST before any answer), answers the rest with the headers it got. */
async function resetFirst(): Promise<string> {
  let arrivals = 0;
  const server = createServer((req, res) => {
    if (++arrivals === 1) {
      req.socket.resetAndDestroy();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ auth: req.headers.authorization ?? null }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The deprecation codes warned while `run` runs (process warnings are emitted on the next tick). */
async function deprecations(run: () => void): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (warning: Error & { code?: string }): void => {
    if (warning.name === 'DeprecationWarning') seen.push(warning.code ?? '');
  };
  process.on('warning', onWarning);
  try {
    run();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

describe('resilientAxios(instance)', () => {
  it('returns a new instance that retries, with the original defaults and interceptors; the original is left as it was', async () => {
    const url = await resetFirst();
    const original = axios.create({ baseURL: url });
    original.interceptors.request.use((config) => {
      config.headers.set('authorization', 'Bearer from-the-interceptor');
      return config;
    });
    const api = resilientAxios(original, { attempts: 2 });
    try {
      const res = await api.get('/items');
      expect(res.data).toEqual({ auth: 'Bearer from-the-interceptor' });
      expect(api.stats()).toMatchObject({ retries: 1, recovered: 1 });
      expect(api).not.toBe(original);
      // The original was not changed: its next request meets no holdfast (the first one of a fresh server is reset).
      const fresh = await resetFirst();
      const failed = await original.get(`${fresh}/items`).catch((e: unknown) => e);
      expect((failed as { code?: string }).code).toBe('ECONNRESET');
    } finally {
      api.close();
    }
  });

  it('a POST reset after it was sent is not repeated: OutcomeUnknownError', async () => {
    const url = await resetFirst();
    const api = resilientAxios(axios.create({ baseURL: url }));
    try {
      const error = await api.post('/orders', { sku: 42 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OutcomeUnknownError);
    } finally {
      api.close();
    }
  });

  it('refuses what is not an axios instance', () => {
    expect(() => resilientAxios({} as never)).toThrow('resilientAxios: the first argument must be an axios instance (axios or axios.create())');
  });
});

describe('the old names', () => {
  it('wrapFetch and withResilience still work and warn once each (HOLDFAST_DEP016, HOLDFAST_DEP015)', async () => {
    const codes = await deprecations(() => {
      /* eslint-disable @typescript-eslint/no-deprecated -- the old names are what this test is about */
      wrapFetch(globalThis.fetch).close();
      wrapFetch(globalThis.fetch).close();
      withResilience(axios.create()).close();
      withResilience(axios.create()).close();
      /* eslint-enable @typescript-eslint/no-deprecated */
    });
    expect(codes.sort()).toEqual(['HOLDFAST_DEP015', 'HOLDFAST_DEP016']);
    expect(await deprecations(() => resilientFetch(globalThis.fetch).close())).toEqual([]);
  });
});
