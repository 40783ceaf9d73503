import { ClientSecretCredential } from '@azure/identity';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import { control, proxiedFetch, startSimForTest } from './sim-helpers';

let sim: Simulator;
let pfetch: ReturnType<typeof proxiedFetch>;
beforeAll(async () => {
  sim = await startSimForTest();
  pfetch = proxiedFetch(sim);
});
afterAll(async () => {
  await pfetch?.close();
  await sim?.stop();
});

describe('HTTPS proxy', () => {
  it('terminates TLS for Azure hosts and logs the request with service, operation and principal', async () => {
    const before = (await control<{ lastSeq: number }>(sim, 'GET', '/_sim/requests?limit=1')).body.lastSeq;
    const cred = new ClientSecretCredential(sim.seed.tenantId, sim.seed.clientId, sim.seed.clientSecret);
    await cred.getToken('https://management.azure.com/.default');
    const log = await control<{ value: { service: string; operation: string; status: number; method: string }[] }>(
      sim,
      'GET',
      `/_sim/requests?since=${before}`,
    );
    expect(log.body.value).toContainEqual(expect.objectContaining({ service: 'login', operation: 'token', status: 200, method: 'POST' }));
  });

  it.each([
    ['example.com:443', /'example\.com' is not an Azure host this simulator serves/],
    ['nosuchvault.vault.azure.net:443', /'nosuchvault\.vault\.azure\.net' is not an Azure host/],
    ['management.azure.com:80', /only port 443 is simulated/],
  ])('refuses to tunnel to %s with a clear error', async (target, reason) => {
    const raw = await rawExchange(sim.port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 403/);
    expect(raw).toMatch(reason);
  });

  it('undici fetch through the proxy fails for a refused host', async () => {
    await expect(pfetch('https://example.com/')).rejects.toThrow();
  });

  it('refuses plain-HTTP proxying with a clear message', async () => {
    const res = await fetch(`${sim.url}/`, { method: 'GET', headers: {} });
    expect(res.status).toBe(404);
    // An absolute-form request line is what a client sends when it uses us as a plain HTTP proxy.
    const raw = await rawExchange(sim.port, 'GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 403/);
    expect(raw).toMatch(/only HTTPS through CONNECT/);
  });

  it('answers unknown control routes with a JSON 404 that points at /_sim', async () => {
    const res = await control<{ error: { code: string; message: string } }>(sim, 'GET', '/_sim/nope');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NotFound');
  });
});

function rawExchange(port: number, request: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.on('data', (c) => (data += c.toString()));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}
