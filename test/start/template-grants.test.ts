/**
 * The grants the local stack and the test harness give the app are read from infra/ itself: every role
 * assignment of the identity (nested deployments, custom role bodies, conditions) and deploy.sh's Graph
 * permission. Checked against the real templates and against small broken copies, so the reader can fail.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deployScriptGraphPermission, INFRA_DIR, templateRoleGrants } from '../../local/start/template-grants';

const SUB = '11111111-2222-3333-4444-555555555555';
const copies: string[] = [];
afterAll(() => copies.forEach((d) => rmSync(d, { recursive: true, force: true })));

function infraCopy(edit: (main: any) => void): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'infra-'));
  copies.push(dir);
  cpSync(INFRA_DIR, dir, { recursive: true });
  const main = JSON.parse(readFileSync(path.join(dir, 'main.json'), 'utf8'));
  edit(main);
  writeFileSync(path.join(dir, 'main.json'), JSON.stringify(main));
  return dir;
}

describe('role assignments of the app identity, read from infra/main.json', () => {
  const grants = templateRoleGrants({ subscriptionId: SUB, parameters: { vaultResourceGroupName: 'rg-v' } });
  const byRole = (guid: string) => grants.filter((g) => g.roleDefinitionGuid === guid).map((g) => g.scope);

  it.each([
    [
      'Storage Blob Data Owner',
      'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
      /\/resourceGroups\/rg-ade-autopilot\/providers\/Microsoft\.Storage\/storageAccounts\/st\w+$/,
    ],
    ['Storage Queue Data Contributor', '974c5e8b-45b9-4653-ba55-5f855dd0fb88', /\/providers\/Microsoft\.Storage\/storageAccounts\/st\w+$/],
    ['Storage Table Data Contributor', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3', /\/providers\/Microsoft\.Storage\/storageAccounts\/st\w+$/],
    [
      'Monitoring Metrics Publisher',
      '3913510d-42f4-4e42-8a64-420c390055eb',
      /\/providers\/Microsoft\.Insights\/components\/appi-ade-autopilot$/,
    ],
    ['Website Contributor', 'de139f84-1756-47ae-9be6-808fbbe84772', /\/providers\/Microsoft\.Web\/sites\/func-ade-autopilot-\w+$/],
    ['Key Vault Contributor', 'f25e0fa2-a7c8-4377-a976-54943a77a395', new RegExp(`^/subscriptions/${SUB}/resourceGroups/rg-v$`)],
    ['EventGrid Contributor', '1e241071-0855-49ea-94dc-649edcd759de', new RegExp(`^/subscriptions/${SUB}/resourceGroups/rg-v$`)],
  ])('%s at its narrow scope', (_name, guid, scope) => {
    expect(byRole(guid)).toEqual([expect.stringMatching(scope)]);
  });

  it('the custom roles with their bodies, assignable and assigned at the subscription', () => {
    const custom = grants.filter((g) => g.customRole);
    expect(custom.map((g) => [g.customRole!.roleName, g.scope, g.customRole!.assignableScopes])).toEqual([
      [`ADE Autopilot VM encryption operator (${SUB})`, `/subscriptions/${SUB}`, [`/subscriptions/${SUB}`]],
      [`ADE Autopilot VM restart (${SUB})`, `/subscriptions/${SUB}`, [`/subscriptions/${SUB}`]],
    ]);
    expect(custom[0]!.customRole!.permissions[0]!.actions).toContain('Microsoft.Compute/virtualMachines/extensions/write');
    expect(custom[1]!.customRole!.permissions[0]!.actions).toEqual([
      'Microsoft.Compute/virtualMachines/deallocate/action',
      'Microsoft.Compute/virtualMachines/start/action',
    ]);
    expect(grants).toHaveLength(9);
  });

  it('conditions are evaluated: without self-healing restart there is no restart role', () => {
    const without = templateRoleGrants({ subscriptionId: SUB, parameters: { enableSelfHealingRestart: false } });
    expect(without.map((g) => g.customRole?.roleName).filter(Boolean)).toEqual([`ADE Autopilot VM encryption operator (${SUB})`]);
  });

  it('Durable Task Data Contributor on the task hub only with durableBackend DurableTaskScheduler', () => {
    const guid = '0ad04412-c4d5-4796-b79c-f76d14c8d402';
    expect(byRole(guid)).toEqual([]);
    const scheduler = templateRoleGrants({ subscriptionId: SUB, parameters: { durableBackend: 'DurableTaskScheduler' } });
    expect(scheduler.filter((g) => g.roleDefinitionGuid === guid).map((g) => g.scope)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^/subscriptions/${SUB}/resourceGroups/rg-ade-autopilot/providers/` +
            'Microsoft\\.DurableTask/schedulers/dts-ade-autopilot-\\w+/taskHubs/AdeAutopilot$',
        ),
      ),
    ]);
    expect(scheduler).toHaveLength(grants.length + 1);
  });

  it('vaultDiagnostics (off by default): diagnostic settings read/write on the vault group, shared keys on the workspace only', () => {
    const diagnosticRoles = (g: ReturnType<typeof templateRoleGrants>) =>
      g.filter((x) => x.customRole?.permissions.some((p) => p.actions.some((a) => /diagnosticSettings|OperationalInsights/.test(a))));
    expect(diagnosticRoles(grants)).toEqual([]);
    const workspaces = '/providers/Microsoft.OperationalInsights/workspaces';
    const workspace = `/subscriptions/${SUB}/resourceGroups/rg-ade-autopilot${workspaces}/log-ade-autopilot`;
    const other = `/subscriptions/99999999-2222-3333-4444-555555555555/resourceGroups/rg-logs${workspaces}/law-central`;
    for (const [given, scope, groupId] of [
      ['', workspace, `/subscriptions/${SUB}/resourceGroups/rg-ade-autopilot`],
      [other, other, '/subscriptions/99999999-2222-3333-4444-555555555555/resourceGroups/rg-logs'],
    ] as const) {
      const on = diagnosticRoles(
        templateRoleGrants({
          subscriptionId: SUB,
          parameters: { vaultResourceGroupName: 'rg-v', vaultDiagnostics: true, vaultDiagnosticsWorkspaceId: given },
        }),
      );
      expect(on.map((g) => [g.customRole!.permissions[0]!.actions, g.scope, g.customRole!.assignableScopes])).toEqual([
        [
          ['Microsoft.Insights/diagnosticSettings/read', 'Microsoft.Insights/diagnosticSettings/write'],
          `/subscriptions/${SUB}/resourceGroups/rg-v`,
          [`/subscriptions/${SUB}/resourceGroups/rg-v`],
        ],
        [['Microsoft.OperationalInsights/workspaces/sharedKeys/action'], scope, [groupId]],
      ]);
    }
  });

  it('a new role assignment in the template is picked up; an expression it cannot evaluate fails loudly', () => {
    const extra = infraCopy((main) => {
      const inner = main.resources[2].properties.template.resources[5].properties.template;
      inner.resources.push({
        ...inner.resources[0],
        name: "[guid(resourceGroup().id, parameters('principalId'), 'reader')]",
        properties: {
          ...inner.resources[0].properties,
          roleDefinitionId: "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')]",
        },
      });
    });
    expect(templateRoleGrants({ subscriptionId: SUB, infraDir: extra }).map((g) => g.roleDefinitionGuid)).toContain(
      'acdd72a7-3385-48ef-bd42-f606fba81ae7',
    );
    const odd = infraCopy((main) => {
      const app = main.resources[1].properties.template;
      app.resources.find((r: { type: string }) => r.type === 'Microsoft.Authorization/roleAssignments').scope = "[someNewFunction('x')]";
    });
    expect(() => templateRoleGrants({ subscriptionId: SUB, infraDir: odd })).toThrow(/someNewFunction\(\) is not supported/);
  });
});

describe('Graph permission, read from infra/deploy.sh', () => {
  it.each([
    ['aad', 'Application.ReadWrite.OwnedBy'],
    ['single-pass', undefined],
  ])('%s mode → %s', (mode, permission) => {
    expect(deployScriptGraphPermission(mode)).toBe(permission);
  });
});
