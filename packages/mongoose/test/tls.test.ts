import { describe, expect, it } from 'vitest';
import { DRIVER_LINES } from './support/drivers.js';
import { openHandle, startServer } from './support/harness.js';
import { selfSignedCertificate } from './support/certificate.js';
import { failOnEscapedErrors, rejectionOf } from './support/leaks.js';

failOnEscapedErrors();

const certificate = selfSignedCertificate();

describe.each(DRIVER_LINES)('TLS, $label', ({ mongoose }) => {
  it('a certificate the client does not trust fails the first connection at once with a tls fault and a hint', async () => {
    const server = await startServer({ tls: certificate });
    const handle = openHandle(mongoose, server.uri('app', undefined, { tls: true }));
    const started = Date.now();
    const error = await rejectionOf(handle.ready);
    // One attempt, ended by the first failed check rather than after the driver's whole server selection (5 s).
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(handle.stats().connectAttempts).toBe(1);
    expect(error).toMatchObject({ reason: 'not-transient', fault: { kind: 'tls', transient: false } });
    expect((error as Error).message).toMatch(/certificate/i);
  });

  it('trusting the CA (connectOptions.ca) connects, with verification on', async () => {
    const server = await startServer({ tls: certificate });
    const handle = openHandle(mongoose, server.uri('app', undefined, { tls: true }), { connectOptions: { ca: certificate.cert } });
    await handle.ready;
    const Item = handle.connection.model('Item', new mongoose.Schema({ name: String }));
    await handle.withRetry(() => Item.create({ name: 'over tls' }));
    expect(server.documents('app.items')).toHaveLength(1);
  });
});
