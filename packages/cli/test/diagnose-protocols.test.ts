import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { WebSocketServer } from 'ws';
import { describe, expect, it } from 'vitest';
import { diagnose, main } from '../src/index.js';
import type { DiagnoseReport } from '../src/index.js';
import { startOtlpReceiver } from '../src/demo/servers/otlp-receiver.js';
import { MongoWireServer } from '../../mongoose/test/fixture/mongo-wire-server.js';
import { startEchoServer } from './support/echo-server.js';
import { captureIo } from './support/io.js';
import { startGrpcCollector, startHttp, startMongoResponder } from './support/servers.js';

const causes = (report: DiagnoseReport): string[] => report.findings.map((f) => `${f.verdict} ${f.cause}`);
const step = (report: DiagnoseReport, name: string) => report.steps.find((s) => s.step === name);
const QUICK = { timeoutMs: 1500, idleWaitMs: 1000, env: {} };

async function wsServer(
  options: ConstructorParameters<typeof WebSocketServer>[0] = {},
): Promise<{ wss: WebSocketServer; port: number; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  await new Promise((resolve) => wss.once('listening', resolve));
  return {
    wss,
    port: (wss.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

describe('WebSocket', () => {
  it('upgrades and times a ping', async () => {
    const server = await wsServer();
    try {
      const report = await diagnose(`ws://127.0.0.1:${server.port}/feed`, QUICK);
      expect(causes(report)).toEqual([]);
      expect(step(report, 'websocket')?.summary).toMatch(/^upgraded in .* ms, ping answered in .* ms$/);
    } finally {
      await server.close();
    }
  });

  it('a server that does not answer pings: ws-no-pong', async () => {
    const server = await wsServer({ autoPong: false });
    try {
      expect(causes(await diagnose(`ws://127.0.0.1:${server.port}/`, QUICK))).toEqual(['problem ws-no-pong']);
    } finally {
      await server.close();
    }
  });

  it('an upgrade refused with 401: ws-upgrade-refused', async () => {
    const server = await wsServer({ verifyClient: (_info, done) => done(false, 401, 'Unauthorized') });
    try {
      const report = await diagnose(`ws://127.0.0.1:${server.port}/private`, QUICK);
      expect(causes(report)).toEqual(['problem ws-upgrade-refused']);
      expect(report.findings[0]?.seen).toMatch(/\/private answered 401/);
    } finally {
      await server.close();
    }
  });

  it('a server that closes right after the upgrade: ws-closed-early, with the code', async () => {
    const server = await wsServer();
    server.wss.on('connection', (peer) => peer.close(4401, 'token expired'));
    try {
      const report = await diagnose(`ws://127.0.0.1:${server.port}/`, QUICK);
      expect(causes(report)).toEqual(['problem ws-closed-early']);
      expect(report.findings[0]?.seen).toMatch(/4401 'token expired'/);
    } finally {
      await server.close();
    }
  });
});

describe('tcp://', () => {
  it('connects and holds: a quiet server is fine', async () => {
    const echo = await startEchoServer();
    try {
      const report = await diagnose(`tcp://127.0.0.1:${echo.port}`, QUICK);
      expect(report.verdict).toBe('ok');
      expect(report.steps.map((s) => `${s.step} ${s.verdict}`)).toEqual(['dns skipped', 'tcp ok']);
    } finally {
      await echo.close();
    }
  });
});

describe('mongodb://', () => {
  it('says hello; a replica set naming members this machine cannot resolve is a problem', async () => {
    const mongo = await startMongoResponder({
      isWritablePrimary: true,
      maxWireVersion: 21,
      setName: 'rs0',
      hosts: ['127.0.0.1:27017', 'mongo-1.holdfast-test.invalid:27017'],
      ok: 1,
    });
    try {
      const report = await diagnose(`mongodb://app:pa55word@127.0.0.1:${mongo.port}/shop?replicaSet=rs0`, QUICK);
      expect(step(report, 'hello')?.summary).toMatch(/^primary of replica set 'rs0', MongoDB 7\.0\+/);
      expect(mongo.commands[0]).toMatchObject({ hello: 1, $db: 'admin' });
      expect(causes(report)).toEqual(['problem mongodb-unreachable-members']);
      expect(report.findings[0]?.seen).toMatch(/mongo-1\.holdfast-test\.invalid:27017 \(does not resolve/);
      expect(JSON.stringify(report)).not.toContain('pa55word');
    } finally {
      await mongo.close();
    }
  });

  it("against @holdfast/mongoose's wire-protocol server: a replica set that advertises its container name", async () => {
    const server = await new MongoWireServer({ mode: 'replica-set' }).start();
    try {
      expect(causes(await diagnose(server.uri('shop'), QUICK))).toEqual([]);
      server.advertise('mongo-0.holdfast-test.invalid:27017');
      const report = await diagnose(`mongodb://127.0.0.1:${server.port}/shop?replicaSet=rs0`, QUICK);
      expect(step(report, 'hello')?.summary).toMatch(/^primary of replica set 'rs0'/);
      expect(causes(report)).toEqual(['problem mongodb-unreachable-members']);
      // With directConnection the driver stays on the given host: the members are not checked.
      expect(causes(await diagnose(`mongodb://127.0.0.1:${server.port}/shop?directConnection=true`, QUICK))).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('an HTTP server on the MongoDB port: mongodb-not-mongodb', async () => {
    const http = await startHttp();
    try {
      expect(causes(await diagnose(`mongodb://127.0.0.1:${http.port}/`, QUICK))).toEqual(['problem mongodb-not-mongodb']);
    } finally {
      await http.close();
    }
  });
});

describe('otlp', () => {
  it('an OTLP/HTTP collector accepts the empty export', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const report = await diagnose('otlp', {
        ...QUICK,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' },
      });
      expect(causes(report)).toEqual([]);
      expect(step(report, 'config')?.details).toContain(
        `traces go to: http://127.0.0.1:${receiver.port}/v1/traces (from OTEL_EXPORTER_OTLP_ENDPOINT)`,
      );
      expect(step(report, 'export')?.summary).toMatch(/accepted an empty http\/protobuf export \(HTTP 200/);
    } finally {
      await receiver.close();
    }
  });

  it('http/protobuf sent to a gRPC server (the HTTP port set to the gRPC one): otlp-protocol-mismatch', async () => {
    const collector = await startGrpcCollector();
    try {
      const report = await diagnose('otlp', { ...QUICK, endpoint: `http://127.0.0.1:${collector.port}`, protocol: 'http/protobuf' });
      expect(causes(report)).toEqual(['problem otlp-protocol-mismatch']);
      expect(report.findings[0]?.seen).toMatch(/speaks HTTP\/2 and answers gRPC \(an empty export was accepted\)/);
      expect(report.findings[0]?.fix).toMatch(/OTEL_EXPORTER_OTLP_PROTOCOL=grpc/);
    } finally {
      await collector.close();
    }
  });

  it('grpc sent to an OTLP/HTTP collector: otlp-protocol-mismatch', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const report = await diagnose('otlp', { ...QUICK, endpoint: `http://127.0.0.1:${receiver.port}`, protocol: 'grpc' });
      expect(causes(report)).toEqual(['problem otlp-protocol-mismatch']);
      expect(report.findings[0]?.seen).toMatch(/answers OTLP\/HTTP \(POST \/v1\/traces: HTTP 200\)/);
    } finally {
      await receiver.close();
    }
  });

  it('a gRPC collector over grpc is fine, and gets the headers', async () => {
    const collector = await startGrpcCollector();
    try {
      const report = await diagnose('otlp', {
        ...QUICK,
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}`,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
          OTEL_EXPORTER_OTLP_HEADERS: 'x-otlp-api-key=k3y',
        },
      });
      expect(causes(report)).toEqual([]);
      expect(collector.calls[0]?.get('x-otlp-api-key')).toEqual(['k3y']);
      expect(JSON.stringify(report)).not.toContain('k3y');
    } finally {
      await collector.close();
    }
  });

  it('a per-signal endpoint without /v1/traces: otlp-path-missing (a warning from the URL, a problem from the 404)', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const report = await diagnose('otlp', { ...QUICK, env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${receiver.port}` } });
      expect(causes(report)).toEqual(['warning otlp-path-missing', 'problem otlp-path-missing']);
    } finally {
      await receiver.close();
    }
  });

  it('a base endpoint that already ends in /v1/traces: otlp-path-doubled', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const report = await diagnose('otlp', { ...QUICK, env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}/v1/traces` } });
      expect(causes(report)).toEqual(['problem otlp-path-doubled', 'problem otlp-path-missing']);
    } finally {
      await receiver.close();
    }
  });

  it('credentials refused: otlp-auth names the headers sent, never their values', async () => {
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(req.headers.authorization === 'Bearer right' ? 200 : 401).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const c = captureIo({
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20wrong' },
      });
      expect(await main(['diagnose', 'otlp', '--timeout', '1500'], c.io)).toBe(1);
      expect(c.stdout()).toMatch(/\[otlp-auth\]\n {4}seen: HTTP 401; the headers sent: Authorization \(values not shown\)/);
      expect(c.stdout()).not.toMatch(/wrong/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a proxy in the way that cannot reach the collector (502 with Via): proxy-in-the-way', async () => {
    const proxy = createServer((req, res) => {
      req.resume();
      res.writeHead(502, { via: '1.1 envoy', server: 'envoy' }).end('upstream connect error');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const report = await diagnose('otlp', { ...QUICK, endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
      expect(causes(report)).toEqual(['problem proxy-in-the-way']);
      expect(report.findings[0]?.seen).toMatch(/the proxy \(1\.1 envoy\) answered 502: it cannot reach the collector behind it/);
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('a gRPC collector refusing the credentials: otlp-auth', async () => {
    const collector = await startGrpcCollector(grpc.status.UNAUTHENTICATED);
    try {
      expect(causes(await diagnose('otlp', { ...QUICK, endpoint: `http://127.0.0.1:${collector.port}`, protocol: 'grpc' }))).toEqual([
        'problem otlp-auth',
      ]);
    } finally {
      await collector.close();
    }
  });
});
