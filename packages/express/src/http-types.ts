import { ServerResponse, type IncomingMessage } from 'node:http';

/**
 * The shapes holdfast's middleware takes, in node:http's own types: Express's
 * `Request` and `Response` extend them, so the same functions mount on an
 * Express 4 or 5 app, a router, or a plain `node:http` handler chain.
 */
export type NextFunction = (error?: unknown) => void;

export type Middleware = (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void;

export type ErrorMiddleware = (error: unknown, req: IncomingMessage, res: ServerResponse, next: NextFunction) => void;

/** The path of a request without its query string (which may carry tokens), for events and logs. */
export function pathOf(req: IncomingMessage): string {
  const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export type Method = (this: ServerResponse, ...args: unknown[]) => unknown;

/** A response's method as it is now (its own, compression's, Express's prototype's), to call from a wrapper. */
export function methodOf(res: ServerResponse, name: 'write' | 'end' | 'writeHead' | 'setHeader' | 'removeHeader' | 'appendHeader'): Method {
  return (res as unknown as Record<string, Method>)[name] as Method;
}

/**
 * Where holdfast's response wrappers go: the prototype just above node's
 * `ServerResponse.prototype` in this response's chain (Express's own
 * `response` object, which every app and sub-app of that Express copy
 * inherits from: a sub-app switches a response's prototype while it runs),
 * or undefined for a plain node:http response, whose prototype is node's
 * and must not change.
 */
export function sharedResponseProto(res: ServerResponse): object | undefined {
  let proto = Object.getPrototypeOf(res) as object | null;
  if (proto === ServerResponse.prototype) return undefined;
  while (proto !== null) {
    const next = Object.getPrototypeOf(proto) as object | null;
    if (next === ServerResponse.prototype) return proto;
    proto = next;
  }
  return undefined;
}
