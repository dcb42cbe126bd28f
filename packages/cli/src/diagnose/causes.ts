/**
 * The causes `holdfast diagnose` can name, each with one stable id. The
 * ECONNRESET field guide (docs/) uses the same ids for its sections, so a
 * finding can point at the page that explains it; the wording starts from
 * core's `classify()` hints and says what to change.
 */
export const CAUSES = {
  'dns-not-found': {
    title: 'The name does not resolve',
    fix: 'check the host name for typos, and that this machine uses the DNS (or /etc/hosts, VPN, search domain) that knows it',
  },
  'dns-unavailable': {
    title: 'DNS is not answering',
    fix: "this machine's resolver failed or timed out (EAI_AGAIN); check /etc/resolv.conf and the network, then retry",
  },
  'dns-slow': {
    title: 'DNS is slow',
    fix: 'a lookup this slow is paid by every new connection: cache lookups (or keep connections alive), or fix the resolver',
  },
  'connection-refused': {
    title: 'Nothing listens there',
    fix: 'the server is down or restarting, or the host or port is wrong; check where it listens (127.0.0.1 vs 0.0.0.0, the container port mapping)',
  },
  'connect-timeout': {
    title: 'Connections are silently dropped',
    fix: 'a firewall or security group drops the connection attempts, or the host is down; open the port for this client or check the address',
  },
  'host-unreachable': {
    title: 'No route to the host',
    fix: 'the network, VPN or routing does not reach that address; check routing, or connect over the other address family',
  },
  'localhost-family': {
    title: 'localhost resolves to an address the server does not listen on',
    fix: "Node 17+ may connect to ::1 first; make the server listen on both (or '::'), or connect to 127.0.0.1 explicitly",
  },
  'some-addresses-fail': {
    title: 'Some of the addresses do not answer',
    fix: 'clients that pick a failing address fail (or wait for the fallback); remove the stale DNS record, or fix the server on that address',
  },
  'reset-on-connect': {
    title: 'The peer resets connections right after accepting them',
    fix: 'an overloaded server (accept queue full), a load balancer with no healthy backend, a firewall, or a port that expects another protocol; check the server and what sits in front of it',
  },
  'closed-on-connect': {
    title: 'The peer closes connections right after accepting them',
    fix: 'the server refuses this client (an allow list, a connection limit) or expects another protocol; check its logs',
  },
  'not-tls': {
    title: 'The port does not speak TLS',
    fix: 'use the plain scheme (http://, ws://) for this port, or the port where the server speaks TLS',
  },
  'tls-required': { title: 'The port expects TLS', fix: 'use the TLS scheme (https://, wss://, tls=true) for this port' },
  'tls-handshake-reset': {
    title: 'The TLS handshake fails or is cut',
    fix: 'a firewall or proxy filtering by server name (SNI), a server that requires a client certificate, or no TLS version/cipher in common; compare with `openssl s_client -connect host:port -servername host`',
  },
  'tls-client-certificate': {
    title: 'The server wants a client certificate',
    fix: 'mutual TLS: give the client a certificate and key signed by a CA the server trusts (`cert` and `key` options; OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE / _CLIENT_KEY for OTLP)',
  },
  'tls-self-signed': {
    title: 'The certificate is self-signed',
    fix: "trust that certificate, never everything: pass it in the client's `ca` option (holdfast diagnose --ca, NODE_EXTRA_CA_CERTS=file for the whole process); never NODE_TLS_REJECT_UNAUTHORIZED=0",
  },
  'tls-untrusted-ca': {
    title: "The certificate's CA is not trusted here",
    fix: 'a private CA or a TLS-inspecting proxy signed it: give that CA in the `ca` option or NODE_EXTRA_CA_CERTS=ca.pem; never NODE_TLS_REJECT_UNAUTHORIZED=0',
  },
  'tls-unknown-issuer': {
    title: "The certificate's issuer is not known here",
    fix: 'either the server omits its intermediate certificates (serve the full chain file, not only its own certificate), or a private CA signed it (pass that CA in the `ca` option or NODE_EXTRA_CA_CERTS); never NODE_TLS_REJECT_UNAUTHORIZED=0',
  },
  'tls-expired': { title: 'The certificate has expired', fix: "renew it on the server (and check this machine's clock)" },
  'tls-not-yet-valid': {
    title: 'The certificate is not valid yet',
    fix: "this machine's clock is behind, or the certificate was issued for a future date: fix the clock (NTP) or the certificate",
  },
  'tls-expiring-soon': { title: 'The certificate expires soon', fix: 'renew it before it expires: every client will fail on that day' },
  'tls-hostname-mismatch': {
    title: 'The certificate does not name this host',
    fix: 'connect by a name the certificate lists (set `servername` when connecting by IP), or reissue it with this name',
  },
  'tls-old-protocol': {
    title: 'An old TLS version',
    fix: 'TLS 1.0 and 1.1 are deprecated and refused by current clients by default; enable TLS 1.2 or 1.3 on the server',
  },
  'tls-verification-disabled': {
    title: 'Certificate verification is turned off in this environment',
    fix: 'NODE_TLS_REJECT_UNAUTHORIZED=0 hands every TLS connection of the process to anyone in the path; remove it and trust the right CA (`ca`, NODE_EXTRA_CA_CERTS)',
  },
  'keep-alive-race': {
    title: 'The server closes idle connections before clients stop reusing them (a stale keep-alive race)',
    fix: "a request written into a connection the server is closing fails with ECONNRESET or 'socket hang up': keep the client's idle timeout below the server's (undici `keepAliveTimeout`, http.Agent `timeout`), or raise the server's (Node: server.keepAliveTimeout) above every client's and load balancer's; @holdfast/http follows the server's Keep-Alive hint and retries what failed on a reused connection when it is safe",
  },
  'http-reset': {
    title: 'The server resets the connection instead of answering',
    fix: "a crash or restart, a proxy timing out, or a request the server rejects; check the server's logs and what sits in front of it",
  },
  'http-timeout': {
    title: 'The server does not answer in time',
    fix: 'the server or a proxy in front of it is overloaded or stalled; check its latency, and give clients a timeout and a retry policy that fit it',
  },
  'http-server-error': {
    title: 'The server answers with an error status',
    fix: 'the server is failing or overloaded (5xx); check its logs; clients should retry 502/503/504 with backoff and honour Retry-After',
  },
  'not-http': {
    title: 'The port does not speak HTTP/1.1',
    fix: 'this port speaks another protocol (HTTP/2 only, gRPC, TLS, a database); check the port and the scheme',
  },
  'proxy-in-the-way': {
    title: 'A proxy sits in the way',
    fix: "a proxy's own timeouts and connection limits reset connections the server never saw; check its idle timeout against the server's and the client's",
  },
  'ws-upgrade-refused': {
    title: 'The WebSocket upgrade is refused',
    fix: 'the path, the authentication, the Origin, or a proxy that does not pass Upgrade headers; check the status and the server logs',
  },
  'ws-no-pong': {
    title: 'The WebSocket server does not answer pings',
    fix: 'clients with a heartbeat (as @holdfast/ws has) will drop the connection as dead; answer pings on the server (ws does by default), or check for a proxy that swallows control frames',
  },
  'ws-closed-early': {
    title: 'The WebSocket server closes the connection right after opening it',
    fix: 'it rejects this client after the upgrade (authentication, subprotocol); check the close code and the server logs',
  },
  'mongodb-not-mongodb': {
    title: 'The port does not answer as MongoDB',
    fix: 'check the port (27017 by default) and whether TLS is needed (tls=true in the URI)',
  },
  'mongodb-unreachable-members': {
    title: 'The replica set advertises members this machine cannot reach',
    fix: "after discovery the driver connects to the members' names from the replica set config (often container or internal names); make those names resolvable and reachable here, or use directConnection=true for one member",
  },
  'otlp-protocol-mismatch': {
    title: 'OTLP protocol mismatch (gRPC vs HTTP)',
    fix: "use OTEL_EXPORTER_OTLP_PROTOCOL=grpc for a gRPC port (4317 by default) and http/protobuf for an OTLP/HTTP port (4318); Aspire's dashboard has one endpoint for each",
  },
  'otlp-path-missing': {
    title: 'No OTLP receiver at that path',
    fix: 'a base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT) gets /v1/traces appended; a per-signal one (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is used as-is and must end in /v1/traces',
  },
  'otlp-path-doubled': {
    title: 'The /v1/traces path is doubled',
    fix: 'OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: drop /v1/traces from it (the exporter appends it), or set it on OTEL_EXPORTER_OTLP_TRACES_ENDPOINT instead',
  },
  'otlp-auth': {
    title: 'The collector refuses the credentials',
    fix: 'check the authorization / API-key header in OTEL_EXPORTER_OTLP_HEADERS (Aspire: x-otlp-api-key); values are percent-encoded',
  },
  'otlp-encoding': { title: 'The collector does not accept this encoding', fix: "use 'http/protobuf' or 'http/json' as the collector supports" },
  'otlp-collector-error': {
    title: 'The collector answers with an error',
    fix: 'it is failing, overloaded or restarting; exporters should retry with backoff (as @holdfast/otlp does)',
  },
  'diagnose-error': {
    title: 'A check could not run',
    fix: 'an unexpected error in holdfast diagnose itself; please report it with the --json output',
  },
} as const satisfies Readonly<Record<string, { readonly title: string; readonly fix: string }>>;

export type CauseId = keyof typeof CAUSES;
