/**
 * The production path: a separate Node process configured only by sim.env (NODE_EXTRA_CA_CERTS,
 * HTTPS_PROXY, NO_PROXY, AZURE_*) uses the SDKs with no overrides and no test patches.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../local/azure-sim/cli';
import type { Simulator } from '../../../local/azure-sim/index';
import { createTestVault, trustCa } from './sim-helpers';

const run = promisify(execFile);
let sim: Simulator;
let envPath: string;
let dir: string;

const CHILD = `
const { DefaultAzureCredential, ManagedIdentityCredential } = require('@azure/identity');
const { SecretClient } = require('@azure/keyvault-secrets');
(async () => {
  const client = new SecretClient('https://kvrealproc01.vault.azure.net', new DefaultAzureCredential());
  await client.setSecret('from-child', 'hello');
  const got = await client.getSecret('from-child');
  const mi = await new ManagedIdentityCredential().getToken('https://management.azure.com/.default');
  const loopback = await fetch(process.env.AZURE_SIM_URL + '/_sim/health').then((r) => r.status);
  const contentType = got.properties.contentType ?? null;
  console.log(JSON.stringify({ value: got.value, contentType, mi: mi.token.split('.').length, loopback }));
})().catch((e) => { console.error(e && e.message); process.exit(1); });
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'azure-sim-real-'));
  ({ sim, envPath } = await runCli({ port: 0, stateDir: dir, speed: 1 }));
  trustCa(readFileSync(sim.caCertPath, 'utf8'));
  for (const [k, v] of Object.entries(sim.env)) process.env[k] = v;
  await createTestVault(sim, 'kvrealproc01');
});
afterAll(async () => {
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a real process configured by sim.env', () => {
  it('uses DefaultAzureCredential, Key Vault and managed identity with no endpoint overrides', async () => {
    const script = join(dir, 'child.cjs');
    writeFileSync(script, CHILD);
    const { stdout } = await run(
      'bash',
      [
        '-c',
        `set -a && source '${envPath}' && cd '${process.cwd()}' && NODE_PATH='${join(process.cwd(), 'node_modules')}' node '${script}'`,
      ],
      { timeout: 60_000 },
    );
    expect(JSON.parse(stdout.trim())).toEqual({ value: 'hello', contentType: null, mi: 3, loopback: 200 });
    const log = await fetch(`${sim.url}/_sim/requests?service=keyvault&operation=SecretSet`).then(
      (r) => r.json() as Promise<{ value: { principal: string; status: number }[] }>,
    );
    expect(log.value).toContainEqual(expect.objectContaining({ principal: sim.seed.clientObjectId, status: 200 }));
  });
});
