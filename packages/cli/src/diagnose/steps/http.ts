import type { DiagnoseContext } from '../context.js';
import { exchange, ExchangeError, idleClose } from '../http-exchange.js';
import type { RawResponse } from '../http-exchange.js';
import { judgeKeepAlive, keepAliveHintMs, SHORT_IDLE_MS } from '../keep-alive.js';
import type { StepRecord } from '../step.js';
import { describeError, round } from '../step.js';
import { VERSION } from '../../version.js';
import type { Address } from './dns.js';
import { trustedCas } from './tls.js';

const PROXY_SERVERS = /envoy|nginx|haproxy|squid|varnish|cloudflare|awselb|traefik|istio|akamai|apache traffic server/i;

/**
 * One GET as a client sends it (on a verified connection for https), timed;
 * then the connection is left idle to see when the server closes it, which
 * is what decides whether clients race it with stale keep-alive connections.
 */
export async function httpStep(context: DiagnoseContext, url: URL, address: Address, secure: boolean): Promise<void> {
  await context.step('http', async (record) => {
    const port = Number(url.port || (secure ? 443 : 80));
    const hostHeader = url.port === '' ? url.hostname : `${url.hostname}:${url.port}`;
    const servername = /^[\d.]+$|:/.test(url.hostname) ? undefined : url.hostname.replace(/^\[|\]$/g, '');
    let result: { response: RawResponse; socket: import('node:net').Socket };
    try {
      result = await exchange({
        host: hostHeader,
        address: address.address,
        port,
        tls: secure
          ? { ...(servername === undefined ? {} : { servername }), ...(trustedCas(context) === undefined ? {} : { ca: trustedCas(context) }) }
          : false,
        method: 'GET',
        path: `${url.pathname}${url.search}`,
        headers: { 'User-Agent': `holdfast-diagnose/${VERSION}`, Accept: '*/*', Connection: 'keep-alive', ...context.headers },
        timeoutMs: context.timeoutMs,
      });
    } catch (error) {
      requestFailure(record, error, url);
      return;
    }
    const { response, socket } = result;
    record.data.status = response.status;
    record.data.version = `HTTP/${response.version}`;
    record.data.firstByteMs = round(response.firstByteMs);
    record.summary = `HTTP/${response.version} ${response.status}, first byte after ${round(response.firstByteMs)} ms`;
    record.detail(
      `HTTP/${response.version} ${response.status} in ${round(response.firstByteMs)} ms (connected in ${round(response.connectMs)} ms), ${response.bodyBytes} bytes of body`,
    );
    const server = response.headers.server;
    const via = response.headers.via;
    if (server !== undefined) record.detail(`server: ${server}`);
    if (via !== undefined || (server !== undefined && PROXY_SERVERS.test(server))) {
      record.detail(
        `through a proxy or load balancer (${via !== undefined ? `Via: ${via}` : `Server: ${server ?? ''}`}): its idle timeout counts as much as the server's`,
      );
      record.data.proxy = via ?? server;
    }
    if (response.status === 407) record.find('proxy-in-the-way', 'problem', 'a proxy asks for authentication (407 Proxy Authentication Required)');
    if (response.status >= 500)
      record.find('http-server-error', 'warning', `the server answered ${response.status}${via !== undefined ? ` through ${via}` : ''}`);

    const connection = (response.headers.connection ?? '').toLowerCase();
    if (connection.includes('close') || (response.version === '1.0' && !connection.includes('keep-alive'))) {
      socket.destroy();
      record.detail('no keep-alive: the server closes the connection after each response (every request pays a new connection)');
      return;
    }
    const hintMs = keepAliveHintMs(response.headers['keep-alive']);
    record.detail(
      hintMs === undefined
        ? 'Keep-Alive: no timeout announced'
        : `Keep-Alive: timeout=${hintMs / 1000} (the server announces it closes idle connections after ${hintMs / 1000} s)`,
    );
    const idle = await idleClose(socket, context.idleWaitMs);
    record.data.keepAlive = {
      hintMs,
      closedAfterMs: idle.closedAfterMs === undefined ? undefined : round(idle.closedAfterMs),
      waitedMs: context.idleWaitMs,
    };
    if (idle.closedAfterMs === undefined) {
      record.detail(`an idle connection was still open after ${context.idleWaitMs / 1000} s (longer than Node's clients keep one)`);
    } else {
      record.detail(`the server closed the idle connection after ${round(idle.closedAfterMs)} ms (${idle.how === 'reset' ? 'a reset' : 'FIN'})`);
    }
    record.summary +=
      idle.closedAfterMs === undefined
        ? `; idle connections kept over ${context.idleWaitMs / 1000} s`
        : `; idle connections closed after ${round(idle.closedAfterMs)} ms`;
    const judged = judgeKeepAlive(hintMs, idle.closedAfterMs);
    for (const line of judged.lines) record.detail(`  ${line}`);
    const serverIdle = idle.closedAfterMs ?? hintMs;
    if (judged.verdict === 'problem') {
      record.find(
        'keep-alive-race',
        'problem',
        `the server closes idle connections after ${round(serverIdle ?? 0)} ms${hintMs === undefined ? ' without announcing it' : hintMs > (idle.closedAfterMs ?? hintMs) + 500 ? ` but announces ${hintMs / 1000} s` : ''}; ${judged.racing.join(', ')} keep${judged.racing.length === 1 ? 's' : ''} them longer`,
      );
    } else if (judged.verdict === 'warning') {
      record.find(
        'keep-alive-race',
        'warning',
        `the server closes idle connections after ${round(serverIdle ?? 0)} ms (under ${SHORT_IDLE_MS / 1000} s): Node's clients follow its Keep-Alive hint, but clients and proxies that ignore it (a load balancer, Go, Java, Python) reuse connections longer`,
      );
    }
  });
}

function requestFailure(record: StepRecord, error: unknown, url: URL): void {
  record.summary = 'no HTTP answer';
  if (error instanceof ExchangeError) {
    const received = error.received;
    record.detail(`${error.code}: ${error.message}`);
    if (received.length > 0)
      record.detail(
        `it sent: ${JSON.stringify(
          received
            .subarray(0, 48)
            .toString('latin1')
            .replace(/[^\x20-\x7e]/g, '.'),
        )}`,
      );
    if (error.code === 'NOT_HTTP') {
      const looksTls = received[0] === 0x15 || received[0] === 0x16;
      const looksH2 = received.length >= 9 && received[3] === 0x04;
      record.find(
        looksTls ? 'tls-required' : 'not-http',
        'problem',
        looksTls
          ? `${url.host} answered with TLS: it wants https://`
          : looksH2
            ? `${url.host} answered with an HTTP/2 frame: it speaks HTTP/2 only (gRPC?)`
            : `${url.host} answered something that is not HTTP/1.x`,
      );
      return;
    }
    if (error.code === 'ETIMEDOUT') {
      record.find('http-timeout', 'problem', error.message);
      return;
    }
    if (error.code === 'ECONNRESET' || error.code === 'ECONNRESET_CLOSED' || error.code === 'EPIPE') {
      const { fault } = describeError(error.cause ?? Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      record.find('http-reset', 'problem', `${error.message}${error.code === 'ECONNRESET' ? ' (ECONNRESET)' : ''} — ${fault.hint}`);
      return;
    }
  }
  const { fault, text } = describeError(error instanceof ExchangeError && error.cause !== undefined ? error.cause : error);
  record.find(fault.kind === 'tls' ? 'tls-untrusted-ca' : 'http-reset', 'problem', `${text} — ${fault.hint}`);
}
