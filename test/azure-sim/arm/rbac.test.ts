/**
 * Azure RBAC in the simulator: the matcher (actions vs actions/notActions/wildcards, data actions, scope
 * inheritance) table-driven, then every refusal through the official SDK clients over the proxy — Resource
 * Manager 403 AuthorizationFailed, custom roles, partial list authorization, Key Vault RBAC 403, and Graph
 * application permissions (Application.ReadWrite.OwnedBy sees and changes only what it owns).
 */
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ResourceManagementClient } from '@azure/arm-resources';
import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionMatches, builtInRoleByName, roleGrants, scopeCovers, type RoleDefinition } from '../../../local/azure-sim/arm/roles';
import type { Simulator } from '../../../local/azure-sim/index';
import { control, createPrincipal, proxiedFetch } from '../front/sim-helpers';
import { startArmSim } from './arm-helpers';

const role = (name: string): RoleDefinition => builtInRoleByName(name)!;

describe('action matching (case-insensitive wildcards, notActions, data actions)', () => {
  it.each([
    ['*', 'Microsoft.Compute/virtualMachines/write', true],
    ['*/read', 'Microsoft.KeyVault/vaults/read', true],
    ['*/read', 'Microsoft.KeyVault/vaults/write', false],
    ['Microsoft.Compute/*', 'microsoft.compute/virtualmachines/extensions/write', true],
    ['Microsoft.Compute/*/read', 'Microsoft.Compute/disks/read', true],
    ['Microsoft.Compute/*/read', 'Microsoft.Compute/disks/write', false],
    // A `/*/` segment also matches no segment: Managed Identity Operator (`userAssignedIdentities/*/assign/action`) is
    // documented as granting `userAssignedIdentities/assign/action`.
    ['Microsoft.KeyVault/vaults/*/read', 'Microsoft.KeyVault/vaults/read', true],
    [
      'Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action',
      'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action',
      true,
    ],
    ['Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action', 'Microsoft.ManagedIdentity/userAssignedIdentities/write', false],
    ['Microsoft.KeyVault/vaults/*/read', 'Microsoft.KeyVault/vaultsx/read', false],
    ['Microsoft.Authorization/*/Write', 'Microsoft.Authorization/roleAssignments/write', true],
    ['Microsoft.Compute/virtualMachines/read', 'Microsoft.Compute/virtualMachines/read', true],
    ['Microsoft.Compute/virtualMachines/read', 'Microsoft.Compute/virtualMachines/readx', false],
    ['Microsoft.Compute/virtualMachines/read', 'Microsoft.Compute/virtualMachinesX/read', false],
  ])('%s vs %s → %s', (pattern, action, expected) => {
    expect(actionMatches(pattern, action)).toBe(expected);
  });

  it.each([
    ['Owner', 'Microsoft.Authorization/roleAssignments/write', 'action', true],
    ['Contributor', 'Microsoft.Authorization/roleAssignments/write', 'action', false],
    ['Contributor', 'Microsoft.Compute/virtualMachines/write', 'action', true],
    ['Owner', 'Microsoft.KeyVault/vaults/secrets/getSecret/action', 'dataAction', false],
    ['Reader', 'Microsoft.Resources/subscriptions/resourceGroups/read', 'action', true],
    ['Reader', 'Microsoft.Resources/subscriptions/resourceGroups/write', 'action', false],
    ['Key Vault Contributor', 'Microsoft.KeyVault/vaults/accessPolicies/write', 'action', true],
    ['Key Vault Contributor', 'Microsoft.KeyVault/locations/deletedVaults/purge/action', 'action', false],
    ['Key Vault Contributor', 'Microsoft.KeyVault/vaults/secrets/setSecret/action', 'dataAction', false],
    ['Key Vault Secrets Officer', 'Microsoft.KeyVault/vaults/secrets/setSecret/action', 'dataAction', true],
    ['Key Vault Secrets User', 'Microsoft.KeyVault/vaults/secrets/setSecret/action', 'dataAction', false],
    ['Key Vault Secrets User', 'Microsoft.KeyVault/vaults/secrets/getSecret/action', 'dataAction', true],
    ['Key Vault Administrator', 'Microsoft.KeyVault/vaults/keys/wrap/action', 'dataAction', true],
    ['Virtual Machine Contributor', 'Microsoft.Compute/virtualMachines/extensions/write', 'action', true],
    ['Virtual Machine Contributor', 'Microsoft.KeyVault/vaults/write', 'action', false],
    ['EventGrid Contributor', 'Microsoft.EventGrid/systemTopics/eventSubscriptions/write', 'action', true],
    ['EventGrid EventSubscription Contributor', 'Microsoft.EventGrid/systemTopics/write', 'action', false],
    ['EventGrid Data Sender', 'Microsoft.EventGrid/events/send/action', 'dataAction', true],
    ['User Access Administrator', 'Microsoft.Compute/virtualMachines/write', 'action', false],
    ['Website Contributor', 'Microsoft.Web/sites/functions/read', 'action', true],
  ] as const)('%s grants %s (%s): %s', (name, operation, kind, expected) => {
    expect(roleGrants(role(name), operation, kind)).toBe(expected);
  });

  it('a notAction subtracts only within its own permission block', () => {
    const custom: RoleDefinition = {
      name: 'x',
      roleName: 'two blocks',
      description: '',
      roleType: 'CustomRole',
      assignableScopes: ['/'],
      permissions: [
        { actions: ['Microsoft.Compute/*'], notActions: ['Microsoft.Compute/virtualMachines/delete'], dataActions: [], notDataActions: [] },
        { actions: ['Microsoft.Compute/virtualMachines/delete'], notActions: [], dataActions: [], notDataActions: [] },
      ],
    };
    expect(roleGrants(custom, 'Microsoft.Compute/virtualMachines/delete', 'action')).toBe(true);
    expect(roleGrants({ ...custom, permissions: [custom.permissions[0]!] }, 'Microsoft.Compute/virtualMachines/delete', 'action')).toBe(
      false,
    );
  });

  it.each([
    ['/subscriptions/s', '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm', true],
    ['/subscriptions/s/resourceGroups/RG', '/subscriptions/S/resourcegroups/rg/providers/Microsoft.KeyVault/vaults/v', true],
    ['/subscriptions/s/resourceGroups/rg', '/subscriptions/s/resourceGroups/rg2', false],
    ['/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v', '/subscriptions/s/resourceGroups/rg', false],
    ['/', '/subscriptions/s', true],
  ])('an assignment at %s covers %s: %s', (assignment, scope, expected) => {
    expect(scopeCovers(assignment, scope)).toBe(expected);
  });
});

let sim: Simulator;
let viaProxy: ReturnType<typeof proxiedFetch>;
let admin: ClientSecretCredential;
let sub: string;
const RG = 'rg-rbac';
const OTHER_RG = 'rg-rbac-other';

beforeAll(async () => {
  ({ sim, credential: admin } = await startArmSim());
  sub = sim.seed.subscriptionId;
  viaProxy = proxiedFetch(sim);
  const resources = new ResourceManagementClient(admin, sub);
  for (const rg of [RG, OTHER_RG]) await resources.resourceGroups.createOrUpdate(rg, { location: 'westeurope' });
});
afterAll(async () => {
  await viaProxy?.close();
  await sim?.stop();
});

const roleId = (guid: string) => `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;

async function principalWith(name: string, grants: Array<{ roleName: string; scope: string }>) {
  const p = await createPrincipal(sim, name, { roles: grants, graphPermissions: [] });
  return { ...p, credential: new ClientSecretCredential(p.tenantId, p.appId, p.clientSecret) };
}

describe('Resource Manager authorization', () => {
  it('Reader on a resource group reads it and is refused writes with Azure’s AuthorizationFailed', async () => {
    const reader = await principalWith('rbac-reader', [{ roleName: 'Reader', scope: `/subscriptions/${sub}/resourceGroups/${RG}` }]);
    const resources = new ResourceManagementClient(reader.credential, sub);
    expect((await resources.resourceGroups.get(RG)).name).toBe(RG);
    const refused = await resources.resourceGroups
      .createOrUpdate(RG, { location: 'westeurope', tags: { x: 'y' } })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({
      statusCode: 403,
      code: 'AuthorizationFailed',
      message:
        `The client '${reader.objectId}' with object id '${reader.objectId}' does not have authorization to ` +
        `perform action 'Microsoft.Resources/subscriptions/resourceGroups/write' over scope ` +
        `'/subscriptions/${sub}/resourceGroups/${RG}' or the scope is invalid. If access was recently ` +
        `granted, please refresh your credentials.`,
    });
    // Another group is out of scope even for reads (403 before any 404: ARM authorizes first).
    await expect(resources.resourceGroups.get(OTHER_RG)).rejects.toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
    await expect(resources.resourceGroups.get('rg-does-not-exist')).rejects.toMatchObject({ statusCode: 403 });
    // The subscription-wide group list shows only what it may read (partial authorization).
    const listed: string[] = [];
    for await (const g of resources.resourceGroups.list()) listed.push(g.name!);
    expect(listed).toEqual([RG]);
  });

  it('a principal without any assignment sees no subscription and is refused everything', async () => {
    const nobody = await principalWith('rbac-nobody', []);
    const res = await viaProxy(`https://management.azure.com/subscriptions?api-version=2022-12-01`, {
      headers: { authorization: `Bearer ${(await nobody.credential.getToken('https://management.azure.com/.default'))!.token}` },
    });
    expect(((await res.json()) as { value: unknown[] }).value).toEqual([]);
    await expect(new ResourceManagementClient(nobody.credential, sub).resourceGroups.get(RG)).rejects.toMatchObject({
      statusCode: 403,
      code: 'AuthorizationFailed',
    });
  });

  it('custom roles: created with assignableScopes, assigned, evaluated (POST actions by their /action name)', async () => {
    const authz = new AuthorizationManagementClient(admin, sub);
    const guid = crypto.randomUUID();
    await authz.roleDefinitions.createOrUpdate(`/subscriptions/${sub}`, guid, {
      roleName: 'rbac-test vault reader',
      description: 'reads vaults, checks names',
      roleType: 'CustomRole',
      permissions: [{ actions: ['Microsoft.KeyVault/vaults/read', 'Microsoft.KeyVault/checkNameAvailability/read'], notActions: [] }],
      assignableScopes: [`/subscriptions/${sub}`],
    });
    const listed: string[] = [];
    for await (const d of authz.roleDefinitions.list(`/subscriptions/${sub}`, { filter: "roleName eq 'rbac-test vault reader'" }))
      listed.push(d.name!);
    expect(listed).toEqual([guid]);
    const p = await principalWith('rbac-custom', []);
    await authz.roleAssignments.create(`/subscriptions/${sub}`, crypto.randomUUID(), {
      roleDefinitionId: roleId(guid),
      principalId: p.objectId,
    });
    const kv = new KeyVaultManagementClient(p.credential, sub);
    // checkNameAvailability is a POST whose operation is …/read: the custom role allows it.
    expect((await kv.vaults.checkNameAvailability({ name: 'rbacfree1', type: 'Microsoft.KeyVault/vaults' })).nameAvailable).toBe(true);
    await expect(
      kv.vaults.beginCreateOrUpdateAndWait(RG, 'rbacdenied1', {
        location: 'westeurope',
        properties: { tenantId: sim.seed.tenantId, sku: { family: 'A', name: 'standard' } },
      }),
    ).rejects.toMatchObject({
      statusCode: 403,
      code: 'AuthorizationFailed',
      message: expect.stringContaining("'Microsoft.KeyVault/vaults/write'"),
    });
    // Unknown role ids are refused; a role in use cannot be deleted.
    await expect(
      authz.roleAssignments.create(`/subscriptions/${sub}`, crypto.randomUUID(), {
        roleDefinitionId: roleId(crypto.randomUUID()),
        principalId: p.objectId,
      }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'RoleDefinitionDoesNotExist' });
    await expect(authz.roleDefinitions.delete(`/subscriptions/${sub}`, guid)).rejects.toMatchObject({ statusCode: 409 });
  });

  it('Contributor cannot grant roles; User Access Administrator can', async () => {
    const contributor = await principalWith('rbac-contributor', [{ roleName: 'Contributor', scope: `/subscriptions/${sub}` }]);
    const uaa = await principalWith('rbac-uaa', [
      { roleName: 'User Access Administrator', scope: `/subscriptions/${sub}/resourceGroups/${RG}` },
    ]);
    const target = await principalWith('rbac-target', []);
    const body = { roleDefinitionId: roleId('acdd72a7-3385-48ef-bd42-f606fba81ae7'), principalId: target.objectId };
    const scope = `/subscriptions/${sub}/resourceGroups/${RG}`;
    await expect(
      new AuthorizationManagementClient(contributor.credential, sub).roleAssignments.create(scope, crypto.randomUUID(), body),
    ).rejects.toMatchObject({ statusCode: 403, message: expect.stringContaining("'Microsoft.Authorization/roleAssignments/write'") });
    const made = await new AuthorizationManagementClient(uaa.credential, sub).roleAssignments.create(scope, crypto.randomUUID(), body);
    expect(made.principalId).toBe(target.objectId);
  });
});

describe('Key Vault with the RBAC permission model', () => {
  it('refuses data operations without a data action (403 ForbiddenByRbac) and allows them with Key Vault Secrets Officer', async () => {
    const name = `rbackv${Date.now().toString(36)}`.slice(0, 24);
    const vault = await new KeyVaultManagementClient(admin, sub).vaults.beginCreateOrUpdateAndWait(RG, name, {
      location: 'westeurope',
      properties: {
        tenantId: sim.seed.tenantId,
        sku: { family: 'A', name: 'standard' },
        enableRbacAuthorization: true,
        accessPolicies: [],
      },
    });
    // Owner of the subscription: every management action, no data action.
    const secrets = new SecretClient(`https://${name}.vault.azure.net`, admin);
    const refused = await secrets.setSecret('s1', 'v1').catch((e: unknown) => e);
    expect(refused).toMatchObject({ statusCode: 403, code: 'Forbidden' });
    expect((refused as Error).message).toContain("Action: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'");
    await new AuthorizationManagementClient(admin, sub).roleAssignments.create(vault.id!, crypto.randomUUID(), {
      roleDefinitionId: roleId('b86a8fe4-44ce-4948-aee5-eccb2c155cd7'),
      principalId: sim.seed.clientObjectId,
    });
    await secrets.setSecret('s1', 'v1');
    expect((await secrets.getSecret('s1')).value).toBe('v1');
    // Secrets User reads but cannot write.
    const user = await principalWith('rbac-secrets-user', []);
    await new AuthorizationManagementClient(admin, sub).roleAssignments.create(
      `/subscriptions/${sub}/resourceGroups/${RG}`,
      crypto.randomUUID(),
      {
        roleDefinitionId: roleId('4633458b-17de-408a-b874-0445c86b69e6'),
        principalId: user.objectId,
      },
    );
    const asUser = new SecretClient(`https://${name}.vault.azure.net`, user.credential);
    expect((await asUser.getSecret('s1')).value).toBe('v1');
    await expect(asUser.setSecret('s2', 'x')).rejects.toMatchObject({ statusCode: 403 });
  });
});

describe('Microsoft Graph application permissions', () => {
  async function graphCall(credential: ClientSecretCredential, method: string, path: string, body?: unknown) {
    const token = (await credential.getToken('https://graph.microsoft.com/.default'))!.token;
    const res = await viaProxy(`https://graph.microsoft.com/v1.0${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined };
  }

  it('seeds Microsoft Graph’s service principal with the real app role ids; tokens carry granted roles', async () => {
    const graph = await graphCall(admin, 'GET', "/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')");
    const roles = Object.fromEntries((graph.body.appRoles as { value: string; id: string }[]).map((r) => [r.value, r.id]));
    expect(roles).toMatchObject({
      'Application.ReadWrite.OwnedBy': '18a4783c-866b-4cc7-a460-3d5e5662c884',
      'Application.ReadWrite.All': '1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9',
      'Directory.Read.All': '7ab1d382-f21e-4acd-a863-ba3e13f7da61',
    });
    const token = (await admin.getToken('https://graph.microsoft.com/.default'))!.token;
    expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).roles).toContain('Application.ReadWrite.All');
  });

  it('without a permission: 403 Authorization_RequestDenied', async () => {
    const none = await principalWith('graph-none', []);
    const res = await graphCall(none.credential, 'GET', '/applications');
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({
      code: 'Authorization_RequestDenied',
      message: 'Insufficient privileges to complete the operation.',
    });
  });

  it('Application.ReadWrite.OwnedBy granted as deploy.sh does (POST appRoleAssignments): sees and changes owned apps only', async () => {
    const owned = await principalWith('graph-ownedby', []);
    const graphSp = (await graphCall(admin, 'GET', "/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')")).body;
    const granted = await graphCall(admin, 'POST', `/servicePrincipals/${owned.objectId}/appRoleAssignments`, {
      principalId: owned.objectId,
      resourceId: graphSp.id,
      appRoleId: '18a4783c-866b-4cc7-a460-3d5e5662c884',
    });
    expect(granted.status).toBe(201);
    // Granting needs AppRoleAssignment.ReadWrite.All: the grantee cannot grant itself more.
    const escalate = await graphCall(owned.credential, 'POST', `/servicePrincipals/${owned.objectId}/appRoleAssignments`, {
      principalId: owned.objectId,
      resourceId: graphSp.id,
      appRoleId: '1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9',
    });
    expect(escalate.status).toBe(403);

    const others = await graphCall(admin, 'POST', '/applications', { displayName: 'someone-elses-app' });
    const mine = await graphCall(owned.credential, 'POST', '/applications', { displayName: 'my-app' });
    expect(mine.status).toBe(201);
    const sp = await graphCall(owned.credential, 'POST', '/servicePrincipals', { appId: mine.body.appId });
    expect(sp.status).toBe(201);
    const list = await graphCall(owned.credential, 'GET', '/applications');
    expect(list.body.value.map((a: { displayName: string }) => a.displayName)).toEqual(['my-app']);
    expect((await graphCall(owned.credential, 'POST', `/applications/${mine.body.id}/addPassword`, {})).status).toBe(200);
    for (const [method, path, body] of [
      ['GET', `/applications/${others.body.id}`, undefined],
      ['PATCH', `/applications/${others.body.id}`, { displayName: 'hijacked' }],
      ['POST', `/applications/${others.body.id}/addPassword`, {}],
      ['DELETE', `/applications/${others.body.id}`, undefined],
      ['POST', '/servicePrincipals', { appId: others.body.appId }],
    ] as const) {
      const res = await graphCall(owned.credential, method, path, body);
      expect({ method, path, status: res.status, code: res.body?.error?.code }).toEqual({
        method,
        path,
        status: 403,
        code: 'Authorization_RequestDenied',
      });
    }
    expect((await graphCall(admin, 'GET', `/applications/${others.body.id}`)).body.displayName).toBe('someone-elses-app');
    expect((await graphCall(owned.credential, 'DELETE', `/applications/${mine.body.id}`)).status).toBe(204);
  });
});

describe('control grants (platform set-up, not Azure API)', () => {
  it.each([
    ['an unknown role name', { displayName: 'bad-role', roles: [{ roleName: 'Not A Role', scope: '/subscriptions/SUB' }] }, /Not A Role/],
    ['a scope outside any subscription', { displayName: 'bad-scope', roles: [{ roleName: 'Reader', scope: '/elsewhere' }] }, /scope/],
    [
      'an unknown subscription',
      { displayName: 'bad-sub', roles: [{ roleName: 'Reader', scope: '/subscriptions/00000000-0000-0000-0000-000000000000' }] },
      /could not be found/,
    ],
    ['an unknown Graph permission', { displayName: 'bad-graph', graphPermissions: ['Mail.Send.Everything'] }, /Mail\.Send\.Everything/],
    ['roles that are not a list', { displayName: 'bad-list', roles: 'Owner' }, /roles/],
  ])('POST /_sim/principals with %s → 400 naming it', async (_what, body: { displayName: string }, named) => {
    const res = await control<{ error: { message: string } }>(
      sim,
      'POST',
      '/_sim/principals',
      JSON.parse(JSON.stringify(body).replace('SUB', sub)),
    );
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(named);
    const principals = await control<{ value: { displayName: string }[] }>(sim, 'GET', '/_sim/principals');
    expect(principals.body.value.map((p) => p.displayName)).not.toContain(body.displayName);
  });

  it('PUT graphPermissions sets exactly the given permissions', async () => {
    const p = await principalWith('graph-set', []);
    const res = await control<{ permissions: string[] }>(sim, 'PUT', `/_sim/principals/${p.objectId}/graphPermissions`, {
      permissions: ['Application.Read.All'],
    });
    expect(res.body.permissions).toEqual(['Application.Read.All']);
    const token = (await p.credential.getToken('https://graph.microsoft.com/.default'))!.token;
    expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).roles).toEqual(['Application.Read.All']);
  });
});
