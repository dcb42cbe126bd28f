import WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import type { DiagnoseContext } from '../context.js';
import { describeError, round } from '../step.js';
import { VERSION } from '../../version.js';
import type { Address } from './dns.js';
import { trustedCas } from './tls.js';

const HOLD_AFTER_PONG_MS = 300;

/** The upgrade as a client does it (verified TLS for wss), then a ping and its pong, timed. */
export async function websocketStep(context: DiagnoseContext, url: URL, address: Address): Promise<void> {
  await context.step('websocket', async (record) => {
    const t0 = performance.now();
    const ca = trustedCas(context);
    const socket = new WebSocket(url, {
      headers: { 'User-Agent': `holdfast-diagnose/${VERSION}`, ...context.headers },
      handshakeTimeout: context.timeoutMs,
      // Connect to the address the tcp step reached; the Host header and the certificate check keep the name.
      lookup: (_host: string, _options: unknown, callback: (error: Error | null, address: string, family: number) => void) =>
        callback(null, address.address, address.family),
      ...(ca === undefined ? {} : { ca }),
    });
    const outcome = await new Promise<{ kind: 'open' } | { kind: 'refused'; response: IncomingMessage } | { kind: 'error'; error: Error }>(
      (resolve) => {
        socket.once('open', () => resolve({ kind: 'open' }));
        socket.once('unexpected-response', (_req, response) => resolve({ kind: 'refused', response }));
        socket.once('error', (error) => resolve({ kind: 'error', error }));
      },
    );
    if (outcome.kind === 'refused') {
      const status = outcome.response.statusCode ?? 0;
      outcome.response.resume();
      socket.terminate();
      record.summary = `the upgrade was answered ${status} instead of 101`;
      record.data.status = status;
      record.find('ws-upgrade-refused', 'problem', `${url.host}${url.pathname} answered ${status} ${outcome.response.statusMessage ?? ''}`.trim());
      return;
    }
    if (outcome.kind === 'error') {
      socket.terminate();
      const { fault, text } = describeError(outcome.error);
      record.summary = 'the upgrade failed';
      record.detail(text);
      record.find(
        /Unexpected server response|Invalid Sec-WebSocket-Accept|Invalid HTTP/i.test(outcome.error.message) ? 'ws-upgrade-refused' : 'http-reset',
        'problem',
        `${text} — ${fault.hint}`,
      );
      return;
    }
    const upgradeMs = performance.now() - t0;
    record.detail(
      `upgraded in ${round(upgradeMs)} ms${socket.protocol === '' ? '' : `, subprotocol ${socket.protocol}`}${socket.extensions === '' ? '' : `, extensions ${socket.extensions}`}`,
    );
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    const pingAt = performance.now();
    const waitPong = pause(context.timeoutMs);
    socket.ping('holdfast');
    const pong = await Promise.race([
      new Promise<'pong'>((resolve) => socket.once('pong', () => resolve('pong'))),
      closed.then(() => 'closed' as const),
      waitPong.promise.then(() => 'timeout' as const),
    ]);
    waitPong.cancel();
    const rtt = performance.now() - pingAt;
    if (pong === 'pong') {
      // A server that accepts and then closes at once (authentication after the upgrade) shows here.
      const hold = pause(HOLD_AFTER_PONG_MS);
      await Promise.race([closed, hold.promise]);
      hold.cancel();
    }
    const early = socket.readyState === WebSocket.CLOSED || socket.readyState === WebSocket.CLOSING ? await closed : undefined;
    socket.on('error', () => undefined);
    if (early !== undefined) {
      record.summary = `the server closed the connection right after the upgrade (${early.code})`;
      record.find(
        'ws-closed-early',
        'problem',
        `closed with ${early.code}${early.reason === '' ? '' : ` '${early.reason}'`} ${round(performance.now() - t0)} ms after connecting`,
      );
      return;
    }
    socket.close(1000, 'holdfast diagnose');
    const closing = pause(1000);
    await Promise.race([closed, closing.promise]);
    closing.cancel();
    socket.terminate();
    record.data.upgradeMs = round(upgradeMs);
    if (pong === 'timeout') {
      record.summary = `upgraded in ${round(upgradeMs)} ms, but no pong within ${context.timeoutMs} ms`;
      record.find('ws-no-pong', 'problem', `a ping got no pong within ${context.timeoutMs} ms`);
      return;
    }
    record.data.pingMs = round(rtt);
    record.summary = `upgraded in ${round(upgradeMs)} ms, ping answered in ${round(rtt)} ms`;
  });
}

function pause(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return { promise, cancel: () => clearTimeout(timer) };
}
