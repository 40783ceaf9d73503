/**
 * A third-party client — the real Azure CLI (Debian bookworm's `azure-cli` 2.45) — works
 * against the simulator with only HTTPS_PROXY and CA trust (REQUESTS_CA_BUNDLE) from `sim.env`:
 * no endpoint overrides, no cloud registration, the CLI talks to login.microsoftonline.com,
 * management.azure.com, graph.microsoft.com and <vault>.vault.azure.net as it would in Azure.
 *
 * Debian's package has two client-side packaging gaps (not simulator behaviour): the bundled
 * azure-mgmt-compute lacks the 2022-11-01 API the default profile picks (`az vm …` raises
 * "API version 2022-11-01 does not have operation group 'virtual_machines'"), and the Key Vault
 * data-plane modules (`azure.keyvault.v7_0`) are missing (`az keyvault secret …`). So VMs are read
 * with the CLI's `2020-09-01-hybrid` profile (a separate config dir) and secrets with `az rest`,
 * which still makes the CLI acquire a Key Vault token and go through the proxy itself.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../../local/azure-sim/index';
import { AZURE_CLI, thirdParty } from '../../third-party';

const COMMAND_TIMEOUT_MS = 45_000;

interface AzResult {
  code: number;
  stdout: string;
  stderr: string;
}

let sim: Simulator;
const configDirs: string[] = [];

function newConfigDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'az-config-'));
  configDirs.push(dir);
  return dir;
}

/** Runs `az` with only the simulator's client environment (plus PATH/HOME) and a private config dir. */
function az(configDir: string, args: string[]): Promise<AzResult> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: configDir,
    ...sim.env,
    AZURE_CONFIG_DIR: configDir,
    AZURE_CORE_COLLECT_TELEMETRY: '0',
    AZURE_CORE_NO_COLOR: '1',
    AZURE_CORE_ONLY_SHOW_ERRORS: '0',
  };
  return new Promise((resolve, reject) => {
    execFile('az', args, { env, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(
          new Error(
            "The Azure CLI ('az') is not installed: install the Debian package with `apt-get install -y azure-cli` (bookworm ships 2.45).",
          ),
        );
        return;
      }
      if (error && error.killed) {
        reject(new Error(`az ${args.slice(0, 3).join(' ')} timed out after ${COMMAND_TIMEOUT_MS} ms; stderr: ${stderr.slice(-2000)}`));
        return;
      }
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Runs `az … -o json`, requires exit 0 and parses the JSON output. */
async function azJson<T = unknown>(configDir: string, args: string[]): Promise<T> {
  const result = await az(configDir, [...args, '-o', 'json']);
  if (result.code !== 0) throw new Error(`az ${args.join(' ')} exited ${result.code}: ${result.stderr.slice(-3000)}`);
  return JSON.parse(result.stdout) as T;
}

function login(configDir: string): Promise<{ id: string; tenantId: string; user: { name: string; type: string } }[]> {
  return azJson(configDir, [
    'login',
    '--service-principal',
    '-u',
    sim.seed.clientId,
    '-p',
    sim.seed.clientSecret,
    '--tenant',
    sim.seed.tenantId,
  ]);
}

interface LoggedRequest {
  service: string;
  operation: string;
  method: string;
  host: string;
  path: string;
  status: number;
  principal?: string;
  principalName?: string;
}

async function requestLog(service: string): Promise<LoggedRequest[]> {
  const res = await fetch(`${sim.url}/_sim/requests?service=${service}&limit=1000`);
  return ((await res.json()) as { value: LoggedRequest[] }).value;
}

describe.runIf(thirdParty(AZURE_CLI, 'the Azure CLI against the simulator'))(
  'the Azure CLI against the simulator (HTTPS_PROXY + REQUESTS_CA_BUNDLE only)',
  () => {
    const vaultName = `kvaz${process.pid}`;
    const resourceGroup = 'rg-azcli';
    let configDir: string;

    beforeAll(async () => {
      sim = await startSimulator({ port: 0, log: () => undefined });
      configDir = newConfigDir();
    });

    afterAll(async () => {
      await sim?.stop();
      for (const dir of configDirs) rmSync(dir, { recursive: true, force: true });
    });

    it('az login --service-principal signs in with the seeded client secret and finds the subscription', async () => {
      const subscriptions = await login(configDir);
      expect(subscriptions).toEqual([
        expect.objectContaining({
          id: sim.seed.subscriptionId,
          tenantId: sim.seed.tenantId,
          user: { name: sim.seed.clientId, type: 'servicePrincipal' },
        }),
      ]);
      const entra = await requestLog('login');
      expect(
        entra.some(
          (r) => r.operation === 'token' && r.method === 'POST' && r.path === `/${sim.seed.tenantId}/oauth2/v2.0/token` && r.status === 200,
        ),
      ).toBe(true);
    }, 60_000);

    it('az login with a wrong secret fails with Entra invalid_client (AADSTS7000215)', async () => {
      const result = await az(newConfigDir(), [
        'login',
        '--service-principal',
        '-u',
        sim.seed.clientId,
        '-p',
        'not-the-secret',
        '--tenant',
        sim.seed.tenantId,
        '-o',
        'json',
      ]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('AADSTS7000215');
      expect(result.stderr).not.toContain(sim.seed.clientSecret);
    }, 60_000);

    it('az group create / az group show go to Resource Manager', async () => {
      const created = await azJson<{ id: string; name: string; location: string; properties: { provisioningState: string } }>(configDir, [
        'group',
        'create',
        '-n',
        resourceGroup,
        '-l',
        'westeurope',
      ]);
      expect(created).toMatchObject({
        id: `/subscriptions/${sim.seed.subscriptionId}/resourceGroups/${resourceGroup}`,
        name: resourceGroup,
        location: 'westeurope',
        properties: { provisioningState: 'Succeeded' },
      });
      const shown = await azJson<{ id: string }>(configDir, ['group', 'show', '-n', resourceGroup]);
      expect(shown.id).toBe(created.id);
    }, 60_000);

    it('az keyvault create looks the caller up in Graph and grants it an access policy; az keyvault list finds it', async () => {
      const vault = await azJson<{
        name: string;
        properties: { vaultUri: string; tenantId: string; accessPolicies: { objectId: string; permissions: { secrets: string[] } }[] };
      }>(configDir, ['keyvault', 'create', '-n', vaultName, '-g', resourceGroup, '-l', 'westeurope']);
      expect(vault.name).toBe(vaultName);
      expect(vault.properties.vaultUri).toBe(`https://${vaultName}.vault.azure.net/`);
      expect(vault.properties.tenantId).toBe(sim.seed.tenantId);
      // The CLI resolves its own object id through Graph (servicePrincipalNames/any(c:c eq '<appId>')).
      expect(vault.properties.accessPolicies.map((p) => p.objectId)).toContain(sim.seed.clientObjectId);
      const graph = await requestLog('graph');
      expect(graph.some((r) => r.operation === 'GET servicePrincipals' && r.status === 200)).toBe(true);

      const names = await azJson<string[]>(configDir, ['keyvault', 'list', '--query', '[].name']);
      expect(names).toContain(vaultName);
    }, 90_000);

    it('the CLI writes and lists a Key Vault secret through the proxy with a vault token (az rest)', async () => {
      const url = `https://${vaultName}.vault.azure.net/secrets`;
      const set = await azJson<{ id: string; value: string; attributes: { enabled: boolean } }>(configDir, [
        'rest',
        '--method',
        'put',
        '--url',
        `${url}/az-cli-secret?api-version=7.4`,
        '--resource',
        'https://vault.azure.net',
        '--body',
        JSON.stringify({ value: 'from-the-cli' }),
      ]);
      expect(set.id).toMatch(new RegExp(`^${url}/az-cli-secret/[0-9a-f]{32}$`));
      expect(set).toMatchObject({ value: 'from-the-cli', attributes: { enabled: true } });
      const listed = await azJson<{ value: { id: string }[] }>(configDir, [
        'rest',
        '--url',
        `${url}?api-version=7.4`,
        '--resource',
        'https://vault.azure.net',
      ]);
      expect(listed.value.map((s) => s.id)).toEqual([`${url}/az-cli-secret`]);
    }, 60_000);

    it('VMs: az resource list finds a seeded VM; with the hybrid profile az vm list / az vm encryption show read it', async () => {
      const seeded = await fetch(`${sim.url}/_sim/arm/vms`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          subscriptionId: sim.seed.subscriptionId,
          resourceGroup,
          count: 1,
          name: 'vm-azcli',
          osType: 'Linux',
          dataDisks: 1,
        }),
      });
      expect(seeded.status).toBe(201);
      const resources = await azJson<{ name: string; type: string }[]>(configDir, [
        'resource',
        'list',
        '--resource-type',
        'Microsoft.Compute/virtualMachines',
      ]);
      expect(resources.map((r) => [r.name, r.type])).toEqual([['vm-azcli', 'Microsoft.Compute/virtualMachines']]);

      const hybrid = newConfigDir();
      const profile = await az(hybrid, ['cloud', 'update', '--profile', '2020-09-01-hybrid']);
      expect(profile.code, profile.stderr).toBe(0);
      await login(hybrid);
      const vms = await azJson<{ name: string; storageProfile: { osDisk: { osType: string } } }[]>(hybrid, ['vm', 'list']);
      expect(vms.map((v) => [v.name, v.storageProfile.osDisk.osType])).toEqual([['vm-azcli', 'Linux']]);
      const encryption = await az(hybrid, ['vm', 'encryption', 'show', '-g', resourceGroup, '-n', 'vm-azcli', '-o', 'json']);
      expect(encryption.code, encryption.stderr).toBe(0);
      expect(encryption.stderr).toContain('Azure Disk Encryption is not enabled');
    }, 120_000);

    it("grants a Graph app permission with infra/deploy.sh's exact commands (az ad sp show, az rest appRoleAssignments)", async () => {
      const dir = newConfigDir();
      await login(dir);
      const created = await fetch(`${sim.url}/_sim/principals`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ displayName: 'azcli-grantee', roles: [], graphPermissions: [] }),
      });
      const principalId = ((await created.json()) as { objectId: string }).objectId;
      const tsv = async (args: string[]) => {
        const r = await az(dir, [...args, '--output', 'tsv']);
        expect(r.code, r.stderr).toBe(0);
        return r.stdout.trim();
      };
      const graph = '00000003-0000-0000-c000-000000000000';
      const graphSpId = await tsv(['ad', 'sp', 'show', '--id', graph, '--query', 'id']);
      const roleId = await tsv([
        'ad',
        'sp',
        'show',
        '--id',
        graph,
        '--query',
        "appRoles[?value=='Application.ReadWrite.OwnedBy'].id | [0]",
      ]);
      expect(roleId).toBe('18a4783c-866b-4cc7-a460-3d5e5662c884');
      const uri = `https://graph.microsoft.com/v1.0/servicePrincipals/${principalId}/appRoleAssignments`;
      const query = `value[?appRoleId=='${roleId}' && resourceId=='${graphSpId}'].id | [0]`;
      expect(await tsv(['rest', '--method', 'GET', '--uri', uri, '--query', query])).toBe('');
      const post = await az(dir, [
        'rest',
        '--method',
        'POST',
        '--uri',
        uri,
        '--headers',
        'Content-Type=application/json',
        '--body',
        JSON.stringify({ principalId, resourceId: graphSpId, appRoleId: roleId }),
        '--output',
        'none',
      ]);
      expect(post.code, post.stderr).toBe(0);
      expect(await tsv(['rest', '--method', 'GET', '--uri', uri, '--query', query])).not.toBe('');
    }, 120_000);

    it("the simulator's request log saw every service called with the service principal", async () => {
      for (const service of ['arm', 'graph', 'keyvault']) {
        const log = await requestLog(service);
        const authenticated = log.filter((r) => r.status < 400);
        expect(authenticated.length, `${service} requests`).toBeGreaterThan(0);
        expect(new Set(authenticated.map((r) => r.principal)), `${service} principals`).toEqual(new Set([sim.seed.clientObjectId]));
        expect(new Set(authenticated.map((r) => r.principalName))).toEqual(new Set(['ade-autopilot-automation']));
      }
      const arm = await requestLog('arm');
      const operations = new Set(arm.map((r) => r.operation));
      for (const op of [
        'Microsoft.Resources/subscriptions/resourceGroups/write',
        'Microsoft.KeyVault/vaults/write',
        'Microsoft.Resources/resources/read',
      ])
        expect(operations).toContain(op);
      const keyvault = await requestLog('keyvault');
      expect(keyvault.map((r) => `${r.method} ${r.host}`)).toContain(`PUT ${vaultName}.vault.azure.net`);
    }, 30_000);
  },
);
