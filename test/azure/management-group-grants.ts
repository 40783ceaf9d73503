/**
 * Gives a principal the roles infra/management-group-roles.json defines and assigns at a management group, read from
 * the template itself (so the simulator enforces exactly what the template grants): an administrator with Owner on the
 * group creates the custom roles and assignments through Resource Manager with the official SDK, as the deployment would.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import type { TokenCredential } from '@azure/core-auth';

const TEMPLATE = path.resolve(__dirname, '../../infra/management-group-roles.json');

interface RoleResource {
  type: string;
  name: string;
  condition?: string;
  properties: { roleName: string; description: string; permissions: never[] };
}

/** Role definition resources of the template, by their variable name (vmOperatorRoleName, eventWiringRoleName, …). */
export function managementGroupRoles(): Map<string, RoleResource> {
  const template = JSON.parse(readFileSync(TEMPLATE, 'utf8')) as { resources: RoleResource[] };
  const out = new Map<string, RoleResource>();
  for (const r of template.resources.filter((x) => x.type === 'Microsoft.Authorization/roleDefinitions')) {
    const variable = /^\[variables\('(\w+)'\)\]$/.exec(r.name)?.[1];
    if (variable) out.set(variable, r);
  }
  return out;
}

/** Custom roles already defined in this process, by group and variable (a role name can be defined once). */
const definedAt = new Map<string, string>();

export async function grantManagementGroupRoles(options: {
  admin: TokenCredential;
  /** Any subscription the admin can see (the SDK client needs one; the calls are at the group's scope). */
  subscriptionId: string;
  group: string;
  principalId: string;
  /** Variable names of the template's role definitions to grant, e.g. ['vmOperatorRoleName', 'eventWiringRoleName']. */
  roles: string[];
}): Promise<void> {
  const scope = `/providers/Microsoft.Management/managementGroups/${options.group}`;
  const authz = new AuthorizationManagementClient(options.admin, options.subscriptionId);
  const defined = managementGroupRoles();
  for (const variable of options.roles) {
    const role = defined.get(variable);
    if (!role) throw new Error(`management-group-roles.json defines no role ${variable}`);
    const cacheKey = `${options.group}/${variable}`.toLowerCase();
    let guid = definedAt.get(cacheKey);
    if (!guid) {
      guid = randomUUID();
      definedAt.set(cacheKey, guid);
      await authz.roleDefinitions.createOrUpdate(scope, guid, {
        roleName: role.properties.roleName.replace(/^\[format\('(.*?) \(\{0\}\)', managementGroup\(\)\.name\)\]$/, `$1 (${options.group})`),
        description: role.properties.description,
        roleType: 'CustomRole',
        permissions: role.properties.permissions,
        assignableScopes: [scope],
      });
    }
    await authz.roleAssignments.create(scope, randomUUID(), {
      roleDefinitionId: `${scope}/providers/Microsoft.Authorization/roleDefinitions/${guid}`,
      principalId: options.principalId,
      principalType: 'ServicePrincipal',
    });
  }
}
