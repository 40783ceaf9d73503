import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCliArgs, runCli } from '../../../local/azure-sim/cli';
import { createPrincipal, createTestVault, trustCa } from './sim-helpers';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('CLI arguments', () => {
  it.each([
    [['--port', '7000', '--state', '/tmp/x', '--speed', '60'], { port: 7000, stateDir: '/tmp/x', speed: 60 }],
    [['--port=0', '--state=/tmp/y', '--time-scale=30'], { port: 0, stateDir: '/tmp/y', speed: 30 }],
    [['--port=0', '--state=/tmp/y'], { port: 0, stateDir: '/tmp/y', speed: 1 }],
  ])('parses %j', (argv, expected) => {
    expect(parseCliArgs(argv)).toEqual(expected);
  });

  it.each([
    [['--port', 'abc'], /--port must be an integer/],
    [['--port'], /--port needs a value/],
    [['--speed', '0'], /--speed must be a positive number/],
    [['--time-scale', '-1'], /--time-scale must be a positive number/],
    [['--bogus'], /unknown argument '--bogus'/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});

describe('sim.env and persistence under --state', () => {
  it('writes a sourceable sim.env and keeps CA, tenant, principals, vaults and secrets across restarts', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'azure-sim-cli-'));
    dirs.push(stateDir);
    const first = await runCli({ port: 0, stateDir, speed: 1 });
    const caPem = readFileSync(first.sim.caCertPath, 'utf8');
    trustCa(caPem);
    const sourced = execFileSync('bash', [
      '-c',
      `source '${first.envPath}' && printf '%s|%s|%s|%s|%s|%s' "$HTTPS_PROXY" "$NO_PROXY" ` +
        `"$NODE_EXTRA_CA_CERTS" "$AZURE_TENANT_ID" "$AZURE_CLIENT_ID" "$IDENTITY_HEADER"`,
    ])
      .toString()
      .split('|');
    expect(sourced).toEqual([
      first.sim.url,
      'localhost,127.0.0.1,::1',
      first.sim.caCertPath,
      first.sim.seed.tenantId,
      first.sim.seed.clientId,
      first.sim.seed.identityHeader,
    ]);
    expect(statSync(first.envPath).mode & 0o077).toBe(0);
    for (const [k, v] of Object.entries(first.sim.env)) process.env[k] = v;
    await createTestVault(first.sim, 'kvpersist01');
    const sp = await createPrincipal(first.sim, 'persisted-sp');
    await new SecretClient(
      'https://kvpersist01.vault.azure.net',
      new ClientSecretCredential(first.sim.seed.tenantId, first.sim.seed.clientId, first.sim.seed.clientSecret),
    ).setSecret('kept', 'across-restarts');
    await first.sim.stop();

    const second = await runCli({ port: 0, stateDir, speed: 1 });
    try {
      expect(readFileSync(second.sim.caCertPath, 'utf8')).toBe(caPem);
      expect(second.sim.seed.tenantId).toBe(first.sim.seed.tenantId);
      expect(second.sim.seed.clientId).toBe(first.sim.seed.clientId);
      expect(second.sim.seed.subscriptionId).toBe(first.sim.seed.subscriptionId);
      // The seed secret is never persisted: it is rotated and the old one stops working.
      expect(second.sim.seed.clientSecret).not.toBe(first.sim.seed.clientSecret);
      expect(readFileSync(join(stateDir, 'state.json'), 'utf8')).not.toContain(first.sim.seed.clientSecret);
      for (const [k, v] of Object.entries(second.sim.env)) process.env[k] = v;
      await expect(
        new ClientSecretCredential(second.sim.seed.tenantId, second.sim.seed.clientId, first.sim.seed.clientSecret).getToken(
          'https://vault.azure.net/.default',
        ),
      ).rejects.toThrow(/AADSTS7000215/);
      const client = new SecretClient(
        'https://kvpersist01.vault.azure.net',
        new ClientSecretCredential(second.sim.seed.tenantId, second.sim.seed.clientId, second.sim.seed.clientSecret),
      );
      expect((await client.getSecret('kept')).value).toBe('across-restarts');
      const spToken = await new ClientSecretCredential(second.sim.seed.tenantId, sp.appId, sp.clientSecret).getToken(
        'https://vault.azure.net/.default',
      );
      expect(spToken.token).toBeTruthy();
    } finally {
      await second.sim.stop();
    }
  });
});
