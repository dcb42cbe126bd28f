import { createChaosProxy } from '@holdfast/chaos';
import type { ChaosProxy, Toxic, ToxicOptions } from '@holdfast/chaos';
import { formatHostPort, parseHostPort } from './toxic-spec.js';

/** A proxy as Toxiproxy's API shows it. */
export interface ProxyJson {
  readonly name: string;
  readonly listen: string;
  readonly upstream: string;
  readonly enabled: boolean;
  readonly toxics: readonly Toxic[];
}

/** What went wrong, with the HTTP status Toxiproxy's API answers it with. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 | 500,
  ) {
    super(message);
  }
}

const NAME = /^[\w.:-]{1,100}$/;

/**
 * The named proxies of one `holdfast chaos` process: the one from the command
 * line and those made through the control API. Every change goes through here,
 * so the stdin commands and the HTTP API behave alike.
 */
export class ProxyRegistry {
  readonly #proxies = new Map<string, ChaosProxy>();
  readonly #listeners = new Set<(name: string, proxy: ChaosProxy) => void>();

  /** Called with every proxy created, so the display can follow its events. */
  onCreate(listener: (name: string, proxy: ChaosProxy) => void): void {
    this.#listeners.add(listener);
  }

  names(): string[] {
    return [...this.#proxies.keys()];
  }

  get(name: string): ChaosProxy {
    const proxy = this.#proxies.get(name);
    if (proxy === undefined) throw new RegistryError(`proxy not found: ${name}`, 404);
    return proxy;
  }

  async create(
    name: string,
    listen: string,
    upstream: string,
    options: { enabled?: boolean; toxics?: readonly ToxicOptions[] } = {},
  ): Promise<ChaosProxy> {
    if (!NAME.test(name)) throw new RegistryError(`proxy name must be 1 to 100 letters, digits, _ . : -, got '${name}'`, 400);
    if (this.#proxies.has(name)) throw new RegistryError(`proxy already exists: ${name}`, 409);
    let where: { host: string; port: number };
    try {
      where = parseHostPort(listen, 'listen');
    } catch (error) {
      throw new RegistryError((error as Error).message, 400);
    }
    let proxy: ChaosProxy;
    try {
      proxy = await createChaosProxy({ upstream, host: where.host, port: where.port, toxics: options.toxics ?? [] });
    } catch (error) {
      throw new RegistryError((error as Error).message, error instanceof RangeError ? 400 : 500);
    }
    if (this.#proxies.has(name)) {
      // Two creations of one name raced; the first one won.
      await proxy.close();
      throw new RegistryError(`proxy already exists: ${name}`, 409);
    }
    this.#proxies.set(name, proxy);
    if (options.enabled === false) await proxy.disable();
    for (const listener of this.#listeners) listener(name, proxy);
    return proxy;
  }

  /** Toxiproxy's update: `enabled` toggles; a new `listen` or `upstream` replaces the proxy, toxics kept. */
  async update(name: string, change: { enabled?: boolean; listen?: string; upstream?: string }): Promise<ChaosProxy> {
    let proxy = this.get(name);
    const current = toJson(name, proxy);
    if (
      (change.listen !== undefined && change.listen !== current.listen) ||
      (change.upstream !== undefined && change.upstream !== current.upstream)
    ) {
      const toxics = proxy.toxics();
      await this.delete(name);
      proxy = await this.create(name, change.listen ?? current.listen, change.upstream ?? current.upstream, { toxics, enabled: current.enabled });
    }
    if (change.enabled === true && !proxy.enabled) await proxy.enable();
    if (change.enabled === false && proxy.enabled) await proxy.disable();
    return proxy;
  }

  async delete(name: string): Promise<void> {
    const proxy = this.get(name);
    this.#proxies.delete(name);
    await proxy.close();
  }

  /** Toxiproxy's `POST /reset`: every proxy enabled, every toxic removed. */
  async reset(): Promise<void> {
    for (const proxy of this.#proxies.values()) {
      proxy.clearToxics();
      if (!proxy.enabled) await proxy.enable();
    }
  }

  addToxic(name: string, toxic: ToxicOptions): Toxic {
    const proxy = this.get(name);
    const wanted = toxic.name ?? `${toxic.type}_${toxic.stream ?? 'downstream'}`;
    if (proxy.toxics().some((t) => t.name === wanted)) throw new RegistryError(`toxic already exists: ${wanted}`, 409);
    try {
      const added = proxy.addToxic(toxic);
      return this.toxic(name, added);
    } catch (error) {
      throw new RegistryError((error as Error).message, 400);
    }
  }

  /** Toxiproxy's toxic update: the given fields (attributes merged) replace the toxic's, under the same name. */
  updateToxic(name: string, toxicName: string, change: { toxicity?: number; stream?: string; attributes?: Record<string, number> }): Toxic {
    const proxy = this.get(name);
    const current = this.toxic(name, toxicName);
    const next = {
      name: current.name,
      type: current.type,
      stream: change.stream ?? current.stream,
      toxicity: change.toxicity ?? current.toxicity,
      attributes: { ...current.attributes, ...change.attributes },
    } as ToxicOptions;
    proxy.removeToxic(toxicName);
    try {
      proxy.addToxic(next);
    } catch (error) {
      proxy.addToxic(current);
      throw new RegistryError((error as Error).message, 400);
    }
    return this.toxic(name, toxicName);
  }

  removeToxic(name: string, toxicName: string): void {
    const proxy = this.get(name);
    this.toxic(name, toxicName);
    proxy.removeToxic(toxicName);
  }

  toxic(name: string, toxicName: string): Toxic {
    const found = this.get(name)
      .toxics()
      .find((t) => t.name === toxicName);
    if (found === undefined) throw new RegistryError(`toxic not found: ${toxicName}`, 404);
    return found;
  }

  json(name: string): ProxyJson {
    return toJson(name, this.get(name));
  }

  async closeAll(): Promise<void> {
    const proxies = [...this.#proxies.values()];
    this.#proxies.clear();
    await Promise.all(proxies.map((p) => p.close()));
  }
}

function toJson(name: string, proxy: ChaosProxy): ProxyJson {
  const { host, port } = proxy.upstream;
  return { name, listen: proxy.address, upstream: formatHostPort(host, port), enabled: proxy.enabled, toxics: proxy.toxics() };
}
