// @elastic/mockotlpserver ships JavaScript only; this is the part the tests use.
declare module '@elastic/mockotlpserver' {
  export interface MockOtlpServerOptions {
    logLevel?: string;
    services?: ('http' | 'grpc' | 'ui')[];
    httpHostname?: string;
    httpPort?: number;
    grpcHostname?: string;
    grpcPort?: number;
    onTrace?: (request: unknown) => void;
    onMetrics?: (request: unknown) => void;
    onLogs?: (request: unknown) => void;
  }
  export class MockOtlpServer {
    constructor(options: MockOtlpServerOptions);
    start(): Promise<void>;
    close(): Promise<void>;
    httpUrl: URL | null;
    grpcUrl: URL | null;
  }
}
