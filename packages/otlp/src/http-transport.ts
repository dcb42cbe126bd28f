import http from 'node:http';
import https from 'node:https';
import { gzip } from 'node:zlib';
import { OTLPExporterError, type ExportResponse, type IExporterTransport } from '@opentelemetry/otlp-exporter-base';
import type { OtlpConnection } from './otlp-config.js';

/**
 * One OTLP/HTTP POST per `send()`, and nothing more. The OTel HTTP exporters
 * (0.223) wrap their transport in a retrying one (up to 5 attempts within
 * `timeoutMillis`) that no option turns off: those hidden attempts add to
 * ours and hide possible duplicates from the counters. This transport reports
 * every failure (network error, timeout, non-2xx status) as a failure, so the
 * wrapper's retry policy, budget and breaker see each attempt.
 */
export class OtlpHttpTransport implements IExporterTransport {
  readonly #url: URL;
  readonly #headers: Record<string, string>;
  readonly #gzip: boolean;
  readonly #agent: http.Agent;
  readonly #request: typeof http.request;

  constructor(connection: OtlpConnection, contentType: string) {
    this.#url = new URL(connection.url);
    this.#gzip = connection.compression === 'gzip';
    this.#headers = {
      ...connection.headers,
      'content-type': contentType,
      ...(this.#gzip ? { 'content-encoding': 'gzip' } : {}),
    };
    const secure = this.#url.protocol === 'https:';
    // Keep-alive saves a TCP (and TLS) handshake per batch; a reused socket the collector closed is one more classified retry.
    const agentOptions = { keepAlive: true, maxSockets: 16 };
    this.#agent = secure
      ? new https.Agent({
          ...agentOptions,
          ...(connection.ca === undefined ? {} : { ca: connection.ca }),
          ...(connection.cert === undefined ? {} : { cert: connection.cert }),
          ...(connection.key === undefined ? {} : { key: connection.key }),
        })
      : new http.Agent(agentOptions);
    this.#request = secure ? https.request : http.request;
  }

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    try {
      const body = this.#gzip ? await gzipped(data) : data;
      return await this.#post(body, timeoutMillis);
    } catch (error) {
      return { status: 'failure', error: error instanceof Error ? error : new Error(String(error)) };
    }
  }

  shutdown(): void {
    this.#agent.destroy();
  }

  #post(body: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    return new Promise<ExportResponse>((resolve) => {
      const request = this.#request(this.#url, {
        method: 'POST',
        agent: this.#agent,
        headers: { ...this.#headers, 'content-length': String(body.byteLength) },
      });
      const timer = setTimeout(() => {
        request.destroy(Object.assign(new Error('Request timed out'), { code: 'ETIMEDOUT' }));
      }, timeoutMillis);
      const done = (response: ExportResponse): void => {
        clearTimeout(timer);
        resolve(response);
      };
      request.on('error', (error) => done({ status: 'failure', error }));
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => done({ status: 'failure', error }));
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          const data = Buffer.concat(chunks);
          if (status >= 200 && status < 300) {
            done({ status: 'success', data });
            return;
          }
          const error = new OTLPExporterError(response.statusMessage ?? `HTTP ${status}`, status, data.toString('utf8').slice(0, 512));
          const retryAfter = response.headers['retry-after'];
          if (typeof retryAfter === 'string') Object.assign(error, { retryAfter });
          done({ status: 'failure', error });
        });
      });
      request.end(body);
    });
  }
}

function gzipped(data: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => gzip(data, (error, out) => (error === null ? resolve(out) : reject(error))));
}
