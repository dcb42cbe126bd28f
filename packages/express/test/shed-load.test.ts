import { createHook } from 'node:async_hooks';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { shedLoad, type ExpressEventMap } from '../src/index.js';
import { EXPRESSES, failOnEscapedErrors, send, sleep, until } from './support/servers.js';

failOnEscapedErrors();

const burn = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // CPU-bound work: the event loop is blocked meanwhile.
  }
};

for (const [name, express] of EXPRESSES) {
  describe(`${name}: shedLoad()`, () => {
    it('sheds with 503 and Retry-After while the event loop lags, keeps answering the health check, recovers', async () => {
      const shed = shedLoad({ maxEventLoopDelayMs: 40, sampleIntervalMs: 50, retryAfterS: 2 });
      const states: ExpressEventMap['state'][] = [];
      shed.events.on('state', (e) => states.push(e));
      const app = express();
      app.get('/health', (_req, res) => res.send('ok'));
      app.use(shed);
      app.get('/work', (_req, res) => {
        burn(60);
        res.send('done');
      });
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

      const statuses: { status: number; retryAfter: string | undefined }[] = [];
      const health: number[] = [];
      const endAt = performance.now() + 2_000;
      const worker = async (): Promise<void> => {
        while (performance.now() < endAt) {
          const r = await send(`${url}/work`);
          statuses.push({ status: r.status, retryAfter: r.headers['retry-after'] });
        }
      };
      const prober = async (): Promise<void> => {
        while (performance.now() < endAt) {
          health.push((await send(`${url}/health`)).status);
          await sleep(50);
        }
      };
      await Promise.all([...Array.from({ length: 8 }, worker), prober()]);

      const shedResponses = statuses.filter((s) => s.status === 503);
      expect(shedResponses.length).toBeGreaterThan(0);
      expect(shedResponses.every((s) => s.retryAfter === '2')).toBe(true);
      expect(statuses.some((s) => s.status === 200)).toBe(true);
      expect(health.length).toBeGreaterThan(3);
      expect(health.every((s) => s === 200)).toBe(true);
      expect(states[0]).toMatchObject({ event: 'state', from: 'ok', to: 'overloaded' });
      expect(states[0]!.eventLoopDelayMs).toBeGreaterThan(40);

      // Idle again: two calm samples in a row and it recovers (a deadline, not a fixed wait: CI machines are loaded).
      await until(() => !shed.overloaded, 'the recovery', 5_000);
      expect(states.at(-1)).toMatchObject({ from: 'overloaded', to: 'ok' });
      await shed.close();
      await shed.close();
      server.close();
    });
  });
}

describe('shedLoad() options', () => {
  it('sheds on the heap limit too, and skips what skip() exempts', async () => {
    const shed = shedLoad({ maxHeapUsedBytes: 1, sampleIntervalMs: 20, skip: (req) => req.url === '/ready' });
    const reasons: string[] = [];
    shed.events.on('shed', (e) => reasons.push(e.reason));
    const app = EXPRESSES[0][1]();
    app.use(shed);
    app.get('/ready', (_req, res) => res.send('ready'));
    app.get('/x', (_req, res) => res.send('x'));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    await sleep(60);
    expect((await send(`${url}/x`)).status).toBe(503);
    expect((await send(`${url}/ready`)).status).toBe(200);
    expect(reasons).toEqual(['heap']);
    await shed.close();
    expect((await send(`${url}/x`)).status).toBe(200);
    server.close();
  });

  it("close() leaves no timer behind (its sampler is unref'd, so only async_hooks sees it)", async () => {
    const live = new Set<number>();
    const hook = createHook({
      init: (id, type) => {
        if (type === 'Timeout') live.add(id);
      },
      destroy: (id) => {
        live.delete(id);
      },
    }).enable();
    const shed = shedLoad({ sampleIntervalMs: 20 });
    expect(live.size).toBe(1);
    await shed.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(live.size).toBe(0);
    hook.disable();
  });

  it('checks its options', () => {
    expect(() => shedLoad({ maxEventLoopDelay: 10 } as never)).toThrow(/did you mean maxEventLoopDelayMs\?/);
    expect(() => shedLoad({ sampleIntervalMs: 10 })).toThrow(RangeError);
  });
});
