/**
 * DiagnosticSettingsPort (ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID) against the simulator's Microsoft.Insights/diagnosticSettings:
 * the vault's audit setting is created, left alone, and repaired when it drifted; the simulator validates the body as
 * Azure Monitor does; and an identity holding exactly the template's vaultDiagnostics grants (read from infra/main.json)
 * may write it, while one missing either grant gets Azure's 403 and no setting.
 */
import { randomUUID } from 'node:crypto';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { MonitorClient } from '@azure/arm-monitor';
import { ClientSecretCredential, DefaultAzureCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzurePorts } from '../../azure/clients';
import { DiagnosticSettingsAdapter } from '../../azure/diagnostic-settings';
import type { AzurePorts } from '../../azure/ports';
import { loadConfig, toEncryptionPolicy } from '../../core/config';
import { VAULT_DIAGNOSTIC_SETTING_NAME } from '../../core/vault-diagnostics';
import { REMEDIATION_ACTIVITY } from '../../orchestrations/contracts';
import { createRemediationActivities } from '../../orchestrations/remediation-activities';
import { templateRoleGrants, type TemplateRoleGrant } from '../../local/start/template-grants';
import { startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;
let ports: AzurePorts;
let sub: string;
let tenantId: string;
let admin: DefaultAzureCredential;
const RG = 'rg-ade-vaults';
const NAME = VAULT_DIAGNOSTIC_SETTING_NAME;
const uniqueName = (prefix: string) => `${prefix}${randomUUID().replace(/-/g, '').slice(0, 10)}`;
const workspace = (name = 'log-ade-autopilot') =>
  `/subscriptions/${sub}/resourceGroups/rg-ade-autopilot/providers/Microsoft.OperationalInsights/workspaces/${name}`;

async function newVault(): Promise<string> {
  const name = uniqueName('kvd');
  const { vault } = await ports.vaults.ensureVault({
    subscriptionId: sub,
    resourceGroup: RG,
    name,
    location: 'westeurope',
    tenantId,
    softDeleteRetentionInDays: 7,
    enablePurgeProtection: true,
  });
  return vault.id;
}

const monitor = () => new MonitorClient(admin);
const uri = (id: string) => id.slice(1);

beforeAll(async () => {
  h = await startSimHarness();
  await h.fastDurations(50);
  sub = h.sim.seed.subscriptionId;
  tenantId = h.sim.seed.tenantId;
  await h.control('POST', '/_sim/arm/resourcegroups', { subscriptionId: sub, name: RG, location: 'westeurope' });
  ports = createAzurePorts({ auth: { mode: 'environment' } }, { pollIntervalMs: 50 });
  admin = new DefaultAzureCredential();
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

describe('DiagnosticSettingsPort.ensureVaultAuditLogs', () => {
  it('creates the audit setting (category group audit, resource-specific table, no metrics), then leaves it alone', async () => {
    const vaultId = await newVault();
    const first = await ports.diagnostics!.ensureVaultAuditLogs(vaultId, NAME, workspace());
    expect(first.action).toBe('created');
    const live = await monitor().diagnosticSettings.get(uri(vaultId), NAME);
    expect(live).toMatchObject({
      workspaceId: workspace(),
      logAnalyticsDestinationType: 'Dedicated',
      logs: [{ categoryGroup: 'audit', enabled: true }],
      metrics: [],
    });
    const since = (await h.requests({ service: 'arm' })).lastSeq;
    expect((await ports.diagnostics!.ensureVaultAuditLogs(vaultId, NAME, workspace())).action).toBe('unchanged');
    const writes = (await h.requests({ service: 'arm', sinceSeq: since })).value.filter((r) => r.method !== 'GET');
    expect(writes).toEqual([]);
  });

  it.each([
    [
      'another workspace',
      { workspaceId: 'OTHER', logs: [{ categoryGroup: 'audit', enabled: true }], logAnalyticsDestinationType: 'Dedicated' },
    ],
    ['the audit group switched off', { logs: [{ categoryGroup: 'audit', enabled: false }], logAnalyticsDestinationType: 'Dedicated' }],
    ['AzureDiagnostics instead of the resource-specific table', { logs: [{ category: 'AuditEvent', enabled: true }] }],
  ])('repairs a setting of its name with %s', async (_what, drifted) => {
    const vaultId = await newVault();
    const body = { workspaceId: workspace(), ...drifted } as Record<string, unknown>;
    if (body.workspaceId === 'OTHER') body.workspaceId = workspace('log-elsewhere');
    await monitor().diagnosticSettings.createOrUpdate(uri(vaultId), NAME, body as never);
    expect((await ports.diagnostics!.ensureVaultAuditLogs(vaultId, NAME, workspace())).action).toBe('updated');
    expect(await monitor().diagnosticSettings.get(uri(vaultId), NAME)).toMatchObject({
      workspaceId: workspace(),
      logAnalyticsDestinationType: 'Dedicated',
      logs: [{ categoryGroup: 'audit', enabled: true }],
    });
  });
});

describe('the simulator validates diagnostic settings as Azure Monitor does', () => {
  it.each([
    ['an unknown category', { logs: [{ category: 'SecretReads', enabled: true }] }, 400, "Category 'SecretReads' is not supported."],
    [
      'an unknown category group',
      { logs: [{ categoryGroup: 'everything', enabled: true }] },
      400,
      "Category group 'everything' is not supported.",
    ],
    [
      'an unknown metric category',
      { metrics: [{ category: 'ServiceApiHit', enabled: true }] },
      400,
      "Metric category 'ServiceApiHit' is not supported, supported categories are: 'AllMetrics'.",
    ],
    [
      'a retention policy',
      { logs: [{ categoryGroup: 'audit', enabled: true, retentionPolicy: { enabled: true, days: 30 } }] },
      400,
      'Diagnostic settings does not support retention for new diagnostic settings.',
    ],
    ['no destination', { workspaceId: undefined, logs: [{ categoryGroup: 'audit', enabled: true }] }, 400, /At least one storage account/],
    [
      'a malformed workspace id',
      { workspaceId: 'log-ade-autopilot', logs: [{ categoryGroup: 'audit', enabled: true }] },
      400,
      /properties\.workspaceId' is invalid/,
    ],
  ])('%s is refused (400) naming it, nothing stored', async (_what, props, status, message) => {
    const vaultId = await newVault();
    const refused = await monitor()
      .diagnosticSettings.createOrUpdate(uri(vaultId), NAME, { workspaceId: workspace(), ...props } as never)
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ statusCode: status, message: typeof message === 'string' ? message : expect.stringMatching(message) });
    const listed: unknown[] = [];
    for await (const s of monitor().diagnosticSettings.list(uri(vaultId))) listed.push(s);
    expect(listed).toEqual([]);
  });

  it('a second setting may not send the same category to the same workspace (409); a missing vault is 404', async () => {
    const vaultId = await newVault();
    await ports.diagnostics!.ensureVaultAuditLogs(vaultId, NAME, workspace());
    await expect(
      monitor().diagnosticSettings.createOrUpdate(uri(vaultId), 'copy', {
        workspaceId: workspace(),
        logs: [{ category: 'AuditEvent', enabled: true }],
      }),
    ).rejects.toMatchObject({ statusCode: 409, message: expect.stringContaining(`is already used in diagnostic setting '${NAME}'`) });
    await expect(
      monitor().diagnosticSettings.get(`subscriptions/${sub}/resourceGroups/${RG}/providers/Microsoft.KeyVault/vaults/kvnothere`, NAME),
    ).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('permissions: exactly the template grants of vaultDiagnostics', () => {
  let grants: TemplateRoleGrant[];
  beforeAll(() => {
    grants = templateRoleGrants({
      subscriptionId: sub,
      parameters: { vaultResourceGroupName: RG, vaultDiagnostics: true },
    }).filter((g) => g.customRole?.permissions.some((p) => p.actions.some((a) => /diagnosticSettings|OperationalInsights/.test(a))));
  });

  async function identityWith(which: Array<'vault group' | 'workspace'>) {
    const p = await h.control<{ appId: string; objectId: string; clientSecret: string; tenantId: string }>('POST', '/_sim/principals', {
      displayName: uniqueName('diag-'),
      roles: [],
      graphPermissions: [],
    });
    const authz = new AuthorizationManagementClient(admin, sub);
    for (const g of grants) {
      const isWorkspace = g.scope.includes('Microsoft.OperationalInsights');
      if (!which.includes(isWorkspace ? 'workspace' : 'vault group')) continue;
      await authz.roleDefinitions.createOrUpdate(`/subscriptions/${sub}`, g.roleDefinitionGuid, {
        roleName: g.customRole!.roleName,
        description: g.customRole!.description,
        roleType: 'CustomRole',
        permissions: g.customRole!.permissions,
        assignableScopes: g.customRole!.assignableScopes,
      });
      await authz.roleAssignments.create(g.scope, randomUUID(), {
        roleDefinitionId: g.roleDefinitionId,
        principalId: p.objectId,
        principalType: 'ServicePrincipal',
      });
    }
    return { objectId: p.objectId, port: new DiagnosticSettingsAdapter(new ClientSecretCredential(p.tenantId, p.appId, p.clientSecret)) };
  }

  it.each([
    [[] as Array<'vault group' | 'workspace'>, 'AuthorizationFailed', 'Microsoft.Insights/diagnosticSettings/read'],
    [['workspace'] as Array<'vault group' | 'workspace'>, 'AuthorizationFailed', 'Microsoft.Insights/diagnosticSettings/read'],
    [
      ['vault group'] as Array<'vault group' | 'workspace'>,
      'LinkedAuthorizationFailed',
      'Microsoft.OperationalInsights/workspaces/sharedKeys/action',
    ],
  ])('holding %j only → 403 %s naming %s, no setting', async (which, code, action) => {
    expect(grants).toHaveLength(2);
    const vaultId = await newVault();
    const { port } = await identityWith(which);
    const refused = await port.ensureVaultAuditLogs(vaultId, NAME, workspace()).catch((e: unknown) => e);
    expect(refused).toMatchObject({ kind: 'permission', code });
    expect(String((refused as Error).message)).toContain(`(HTTP 403 ${code})`);
    expect(String((refused as Error).message)).toContain(`'${action}'`);
    await expect(monitor().diagnosticSettings.get(uri(vaultId), NAME)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('with both grants the setting is written; another workspace than the granted one is still refused', async () => {
    const vaultId = await newVault();
    const { port } = await identityWith(['vault group', 'workspace']);
    expect((await port.ensureVaultAuditLogs(vaultId, NAME, workspace())).action).toBe('created');
    const other = await port.ensureVaultAuditLogs(await newVault(), NAME, workspace('log-not-granted')).catch((e: unknown) => e);
    expect(String((other as Error).message)).toContain("'Microsoft.OperationalInsights/workspaces/sharedKeys/action'");
  });
});

describe('vault drift (checkVault / repairVault) covers the audit setting when ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID is set', () => {
  const activities = (workspaceId?: string) =>
    createRemediationActivities({
      ...ports,
      identity: async () => ({ tenantId, objectId: h.sim.seed.clientObjectId }),
      log: () => undefined,
      policy: toEncryptionPolicy(loadConfig({ ADE_SUBSCRIPTIONS: sub, ADE_DRY_RUN: 'false' })),
      ...(workspaceId ? { vaultDiagnosticsWorkspaceId: workspaceId } : {}),
    });
  const kinds = async (a: ReturnType<typeof activities>, vaultId: string) => {
    const check = await a[REMEDIATION_ACTIVITY.checkVault]({ vaultId });
    if (!check.ok) throw new Error(check.error.message);
    return check.value.issues.map((i) => i.kind);
  };

  it('a deleted or redirected setting is drift and repaired; without the setting configured it is not looked at', async () => {
    const vaultId = await newVault();
    const on = activities(workspace());
    expect(await kinds(on, vaultId)).toContain('diagnostic-setting');
    expect(await kinds(activities(), vaultId)).not.toContain('diagnostic-setting');
    const repaired = await on[REMEDIATION_ACTIVITY.repairVault]({ vaultId });
    expect(repaired).toMatchObject({ ok: true, value: { repaired: expect.arrayContaining(['diagnostic-setting']) } });
    expect(await kinds(on, vaultId)).toEqual([]);
    // Someone points it elsewhere: drift again, repaired again.
    await monitor().diagnosticSettings.createOrUpdate(uri(vaultId), NAME, {
      workspaceId: workspace('log-elsewhere'),
      logAnalyticsDestinationType: 'Dedicated',
      logs: [{ categoryGroup: 'audit', enabled: true }],
    });
    expect(await kinds(on, vaultId)).toEqual(['diagnostic-setting']);
    await on[REMEDIATION_ACTIVITY.repairVault]({ vaultId });
    expect((await monitor().diagnosticSettings.get(uri(vaultId), NAME)).workspaceId).toBe(workspace());
  });
});
