import { afterEach, describe, expect, it } from 'vitest';
import { createChaosProxy } from '@holdfast/chaos';
import type { ChaosProxy, ChaosProxyOptions, ToxicOptions } from '@holdfast/chaos';

const proxies: ChaosProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
});

// No upstream has to exist for these: options are checked before anything connects.
const upstream = '127.0.0.1:9';

function create(options: unknown): Promise<ChaosProxy> {
  return createChaosProxy(options as ChaosProxyOptions);
}

describe('createChaosProxy options', () => {
  it.each([
    [undefined, "createChaosProxy: option 'options' must be an object with at least { upstream }, got undefined"],
    [
      {},
      "createChaosProxy: option 'upstream' must be { host, port } or 'host:port' (IPv6 as '[::1]:port') with a port from 1 to 65535, got undefined",
    ],
    [{ upstream: 'localhost' }, `option 'upstream' must be { host, port } or 'host:port'`],
    [{ upstream: '::1:80' }, `got "::1:80"`],
    [{ upstream: '127.0.0.1:0' }, `got "127.0.0.1:0"`],
    [{ upstream: '127.0.0.1:70000' }, `got "127.0.0.1:70000"`],
    [{ upstream: { host: '127.0.0.1', port: '80' } }, `got {"host":"127.0.0.1","port":"80"}`],
    [{ upstream, port: -1 }, "option 'port' must be an integer from 0 to 65535 (0 picks a free port), got -1"],
    [{ upstream, port: 1.5 }, "option 'port' must be an integer from 0 to 65535"],
    [{ upstream, host: '' }, "option 'host' must be a non-empty address such as '127.0.0.1' or '::1', got \"\""],
    [{ upstream, random: 0.5 }, "option 'random' must be a function returning a number in [0, 1), got 0.5"],
    [{ upstream, toxics: {} }, "option 'toxics' must be an array of toxics"],
    [{ upstream, listen: 80 }, "createChaosProxy: unknown option 'listen' (accepted: upstream, host, port, toxics, random)"],
    [{ upstream, toxics: [{ type: 'latency' }, { type: 'latency' }] }, "two toxics are named 'latency_downstream'"],
    [{ upstream, toxics: [{ type: 'nope' }] }, "createChaosProxy: toxics[0]: option 'type' must be one of latency, bandwidth"],
  ])('rejects %j', async (options, message) => {
    const attempt = create(options);
    await expect(attempt).rejects.toThrow(RangeError);
    await expect(attempt).rejects.toThrow(message);
  });

  it('never echoes credentials from an upstream address', async () => {
    const attempt = create({ upstream: 'http://admin:hunter2@127.0.0.1:80' });
    await expect(attempt).rejects.toThrow(/\[redacted\]@127\.0\.0\.1:80/);
    await expect(attempt).rejects.not.toThrow(/hunter2|admin/);
  });

  it("rejects with the address when the port can't be listened on", async () => {
    const first = await createChaosProxy({ upstream });
    proxies.push(first);
    await expect(createChaosProxy({ upstream, port: first.port })).rejects.toThrow(
      `createChaosProxy: could not listen on 127.0.0.1:${first.port}: EADDRINUSE`,
    );
  });
});

describe('addToxic options', () => {
  let proxy: ChaosProxy;
  const add = (options: unknown): string => proxy.addToxic(options as ToxicOptions);

  it.each([
    [null, "addToxic: option 'toxic' must be an object"],
    [{ type: 'jitter' }, 'option \'type\' must be one of latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, got "jitter"'],
    [{ type: 'latency', stream: 'up' }, "option 'stream' must be 'upstream' (client -> server) or 'downstream' (server -> client), got \"up\""],
    [{ type: 'latency', toxicity: 1.5 }, "option 'toxicity' must be a number from 0 to 1, got 1.5"],
    [{ type: 'latency', toxicity: Number.NaN }, "option 'toxicity' must be a number from 0 to 1, got NaN"],
    [{ type: 'latency', name: 'has space' }, "option 'name' must be a string of 1 to 100 letters"],
    [{ type: 'latency', enabled: true }, "unknown toxic option 'enabled'"],
    [{ type: 'latency', attributes: { delay: 5 } }, "unknown attribute 'delay' for a latency toxic (accepted: latency, jitter)"],
    [{ type: 'latency', attributes: { latency: -5 } }, "option 'attributes.latency' must be a number >= 0 (milliseconds), got -5"],
    [{ type: 'latency', attributes: [] }, "option 'attributes' must be an object of latency attributes"],
    [{ type: 'bandwidth', attributes: { rate: Infinity } }, "option 'attributes.rate' must be a number >= 0 (KB/s, 0 = unlimited), got Infinity"],
    [{ type: 'limit_data', attributes: { bytes: 1.5 } }, "option 'attributes.bytes' must be an integer >= 0 (bytes), got 1.5"],
    [{ type: 'reset_peer', attributes: { after_bytes: -1 } }, "option 'attributes.after_bytes' must be an integer >= 0 (bytes)"],
    [{ type: 'slicer' }, "attribute 'average_size' is required for a slicer toxic: an integer >= 1 (bytes)"],
    [
      { type: 'slicer', attributes: { average_size: 10, size_variation: 10 } },
      "'attributes.size_variation' must be smaller than average_size (10), got 10",
    ],
    [{ type: 'slicer', attributes: { average_size: 10, delay: -1 } }, "'attributes.delay' must be a number >= 0 (microseconds), got -1"],
  ])('rejects %j', async (options, message) => {
    proxy = await createChaosProxy({ upstream });
    proxies.push(proxy);
    expect(() => add(options)).toThrow(RangeError);
    expect(() => add(options)).toThrow(message);
    expect(proxy.toxics()).toEqual([]);
  });

  it('fills in Toxiproxy defaults', async () => {
    proxy = await createChaosProxy({ upstream });
    proxies.push(proxy);
    add({ type: 'timeout' });
    add({ type: 'reset_peer', stream: 'upstream' });
    add({ type: 'bandwidth' });
    expect(proxy.toxics()).toEqual([
      { name: 'timeout_downstream', type: 'timeout', stream: 'downstream', toxicity: 1, attributes: { timeout: 0 } },
      { name: 'reset_peer_upstream', type: 'reset_peer', stream: 'upstream', toxicity: 1, attributes: { timeout: 0, after_bytes: 0 } },
      { name: 'bandwidth_downstream', type: 'bandwidth', stream: 'downstream', toxicity: 1, attributes: { rate: 0 } },
    ]);
    expect(Object.isFrozen(proxy.toxics()[0])).toBe(true);
  });
});
