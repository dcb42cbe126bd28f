import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ToxicOptions } from '@holdfast/chaos';
import { VERSION } from '../version.js';
import { ProxyRegistry, RegistryError } from './proxy-registry.js';

/**
 * A control API in Toxiproxy's shape (its routes, JSON bodies and status
 * codes), so Toxiproxy's clients and scripts drive `holdfast chaos` as they
 * drive Toxiproxy:
 *
 *   GET  /proxies                       POST /proxies            POST /populate
 *   GET  /proxies/{proxy}               POST /proxies/{proxy}    DELETE /proxies/{proxy}
 *   GET  /proxies/{proxy}/toxics        POST /proxies/{proxy}/toxics
 *   GET  /proxies/{proxy}/toxics/{toxic}  POST (update)  DELETE
 *   POST /reset                         GET  /version
 *
 * Like Toxiproxy it refuses requests from web browsers (a page must not be able
 * to drive a proxy on the developer's machine) and listens on loopback unless
 * told otherwise.
 */
export interface ControlApi {
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function startControlApi(registry: ProxyRegistry, host: string, port: number): Promise<ControlApi> {
  const server = createServer((req, res) => {
    handle(registry, req, res).catch((error: unknown) => send(res, 500, { error: (error as Error).message, status: 500 }));
  });
  // Sockets a client left open must not keep close() waiting.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined);
  const bound = server.address() as AddressInfo;
  const url = `http://${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}`;
  return { url, close: () => closeServer(server) };
}

async function handle(registry: ProxyRegistry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if ((req.headers['user-agent'] ?? '').startsWith('Mozilla/') || req.headers.origin !== undefined) {
    send(res, 403, { error: 'requests from a browser are refused', status: 403 });
    return;
  }
  const path = new URL(req.url ?? '/', 'http://control').pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const method = req.method ?? 'GET';
  try {
    const answer = await route(registry, method, path, req);
    if (answer === undefined) {
      res.writeHead(204).end();
      return;
    }
    send(res, answer.status, answer.body);
  } catch (error) {
    if (error instanceof RegistryError) {
      send(res, error.status, { error: error.message, status: error.status });
      return;
    }
    throw error;
  }
}

async function route(
  registry: ProxyRegistry,
  method: string,
  path: string[],
  req: IncomingMessage,
): Promise<{ status: number; body: unknown } | undefined> {
  const [first, proxyName, third, toxicName, ...rest] = path;
  if (rest.length > 0) throw new RegistryError('not found', 404);
  if (first === 'version' && proxyName === undefined && method === 'GET') return { status: 200, body: { version: `holdfast ${VERSION}` } };
  if (first === 'reset' && proxyName === undefined && method === 'POST') {
    await registry.reset();
    return undefined;
  }
  if (first === 'populate' && proxyName === undefined && method === 'POST')
    return { status: 201, body: { proxies: await populate(registry, await readJson(req)) } };
  if (first !== 'proxies') throw new RegistryError('not found', 404);

  if (proxyName === undefined) {
    if (method === 'GET') return { status: 200, body: Object.fromEntries(registry.names().map((n) => [n, registry.json(n)])) };
    if (method === 'POST') {
      const body = proxyFields(await readJson(req));
      if (body.name === undefined || body.upstream === undefined) throw new RegistryError('a proxy needs a name and an upstream', 400);
      await registry.create(body.name, body.listen ?? '127.0.0.1:0', body.upstream, { enabled: body.enabled ?? true });
      return { status: 201, body: registry.json(body.name) };
    }
    throw new RegistryError('method not allowed', 404);
  }

  if (third === undefined) {
    if (method === 'GET') return { status: 200, body: registry.json(proxyName) };
    if (method === 'POST') {
      await registry.update(proxyName, proxyFields(await readJson(req)));
      return { status: 200, body: registry.json(proxyName) };
    }
    if (method === 'DELETE') {
      await registry.delete(proxyName);
      return undefined;
    }
    throw new RegistryError('method not allowed', 404);
  }
  if (third !== 'toxics') throw new RegistryError('not found', 404);

  if (toxicName === undefined) {
    if (method === 'GET') return { status: 200, body: registry.json(proxyName).toxics };
    if (method === 'POST') return { status: 200, body: registry.addToxic(proxyName, toxicFields(await readJson(req))) };
    throw new RegistryError('method not allowed', 404);
  }
  if (method === 'GET') return { status: 200, body: registry.toxic(proxyName, toxicName) };
  if (method === 'POST') {
    const change = toxicFields(await readJson(req), false);
    return { status: 200, body: registry.updateToxic(proxyName, toxicName, change) };
  }
  if (method === 'DELETE') {
    registry.removeToxic(proxyName, toxicName);
    return undefined;
  }
  throw new RegistryError('method not allowed', 404);
}

/** Toxiproxy's populate: creates or replaces each proxy of the list. */
async function populate(registry: ProxyRegistry, body: unknown): Promise<unknown[]> {
  if (!Array.isArray(body)) throw new RegistryError('populate takes a JSON array of proxies', 400);
  const out: unknown[] = [];
  for (const item of body) {
    const fields = proxyFields(item);
    if (fields.name === undefined || fields.upstream === undefined) throw new RegistryError('a proxy needs a name and an upstream', 400);
    if (registry.names().includes(fields.name)) await registry.delete(fields.name);
    await registry.create(fields.name, fields.listen ?? '127.0.0.1:0', fields.upstream, { enabled: fields.enabled ?? true });
    out.push(registry.json(fields.name));
  }
  return out;
}

function proxyFields(body: unknown): { name?: string; listen?: string; upstream?: string; enabled?: boolean } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RegistryError('expected a JSON object', 400);
  const b = body as Record<string, unknown>;
  const text = (key: string): string | undefined => {
    const v = b[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') throw new RegistryError(`'${key}' must be a non-empty string`, 400);
    return v;
  };
  if (b.enabled !== undefined && typeof b.enabled !== 'boolean') throw new RegistryError("'enabled' must be true or false", 400);
  const name = text('name');
  const listen = text('listen');
  const upstream = text('upstream');
  return {
    ...(name === undefined ? {} : { name }),
    ...(listen === undefined ? {} : { listen }),
    ...(upstream === undefined ? {} : { upstream }),
    ...(b.enabled === undefined ? {} : { enabled: b.enabled }),
  };
}

function toxicFields(body: unknown, requireType = true): ToxicOptions & { attributes?: Record<string, number> } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RegistryError('expected a JSON object', 400);
  const b = body as Record<string, unknown>;
  if (requireType && typeof b.type !== 'string') throw new RegistryError("a toxic needs a 'type'", 400);
  // Toxiproxy clients send every field; an empty name means "the default one".
  const { name, ...fields } = b;
  return (typeof name === 'string' && name !== '' ? { name, ...fields } : fields) as unknown as ToxicOptions & {
    attributes?: Record<string, number>;
  };
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new RegistryError('request body too large', 400));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new RegistryError('the body is not valid JSON', 400));
      }
    });
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
