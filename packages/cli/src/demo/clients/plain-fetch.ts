import { Agent, fetch } from 'undici';

/**
 * The plain client: `fetch` as Node ships it (undici's), with a pool of its
 * own so the demo can close it. No retries: what most code does.
 */
export interface PlainFetch {
  request(url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<string>;
  close(): Promise<void>;
}

export function createPlainFetch(): PlainFetch {
  const dispatcher = new Agent();
  return {
    async request(url, init = {}) {
      const response = await fetch(url, { ...init, dispatcher });
      const text = await response.text();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return text;
    },
    close: () => dispatcher.close(),
  };
}

/**
 * The hand-written fix the field reports suggest: catch the error and try
 * again, up to `attempts` times, whatever the request was.
 */
export function withNaiveRetry(client: PlainFetch, attempts: number, delayMs: number, onRetry: () => void): PlainFetch {
  return {
    async request(url, init) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await client.request(url, init);
        } catch (error) {
          if (attempt >= attempts) throw error;
          onRetry();
          await new Promise((resolve) => setTimeout(resolve, delayMs));
        }
      }
    },
    close: () => client.close(),
  };
}
