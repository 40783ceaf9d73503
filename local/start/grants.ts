/**
 * Gives the app's identity exactly what the deployment grants it (template-grants.ts reads that from
 * infra/), the way a deployment does it: an administrator (Owner + Graph AppRoleAssignment.ReadWrite.All)
 * creates the custom roles and role assignments through Resource Manager with the official SDK, and grants
 * the Graph application permission with the same POST .../appRoleAssignments call infra/deploy.sh makes.
 * Whatever the identity held before is removed first, so nothing broader survives.
 */
import { createHash } from 'node:crypto';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import type { TokenCredential } from '@azure/core-auth';
import { EnvHttpProxyAgent, fetch as undiciFetch } from 'undici';
import { deployScriptGraphPermission, templateRoleGrants, type TemplateRoleGrant } from './template-grants';

const GRAPH = 'https://graph.microsoft.com/v1.0';
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

export interface ApplyGrantsOptions {
  /** The administrator's credential (Owner on the subscription, Graph AppRoleAssignment.ReadWrite.All). */
  admin: TokenCredential;
  subscriptionId: string;
  /** Object id of the identity the app signs in as. */
  appPrincipalId: string;
  /** ADE_ENCRYPTION_MODE: deploy.sh grants the Graph permission only in one mode. */
  encryptionMode: string;
  /** main.json parameters that differ from main.parameters.json (vaultResourceGroupName, enableSelfHealingRestart, …). */
  parameters?: Record<string, unknown>;
}

export interface AppliedGrants {
  roleAssignments: TemplateRoleGrant[];
  graphPermission: string | undefined;
}

export async function applyTemplateGrants(options: ApplyGrantsOptions): Promise<AppliedGrants> {
  const grants = templateRoleGrants({ subscriptionId: options.subscriptionId, parameters: options.parameters });
  const authz = new AuthorizationManagementClient(options.admin, options.subscriptionId);
  const subscriptionScope = `/subscriptions/${options.subscriptionId}`;

  for await (const existing of authz.roleAssignments.listForSubscription({ filter: `principalId eq '${options.appPrincipalId}'` })) {
    if (existing.principalId === options.appPrincipalId) await authz.roleAssignments.deleteById(existing.id!);
  }
  for (const grant of grants) {
    if (!grant.customRole) continue;
    await authz.roleDefinitions.createOrUpdate(subscriptionScope, grant.roleDefinitionGuid, {
      roleName: grant.customRole.roleName,
      description: grant.customRole.description,
      roleType: 'CustomRole',
      permissions: grant.customRole.permissions,
      assignableScopes: grant.customRole.assignableScopes,
    });
  }
  for (const grant of grants) {
    await authz.roleAssignments.create(grant.scope, deterministicGuid(grant.scope, options.appPrincipalId, grant.roleDefinitionGuid), {
      roleDefinitionId: grant.roleDefinitionId,
      principalId: options.appPrincipalId,
      principalType: 'ServicePrincipal',
    });
  }

  const graphPermission = deployScriptGraphPermission(options.encryptionMode);
  await setGraphPermission(options.admin, options.appPrincipalId, graphPermission);
  return { roleAssignments: grants, graphPermission };
}

/** Replaces the identity's Microsoft Graph application permissions with `permission` (or none). */
async function setGraphPermission(admin: TokenCredential, principalId: string, permission: string | undefined): Promise<void> {
  const token = (await admin.getToken('https://graph.microsoft.com/.default'))?.token;
  if (!token) throw new Error('no Graph token for the administrator');
  const dispatcher = new EnvHttpProxyAgent();
  const call = async (method: string, url: string, body?: unknown): Promise<any> => {
    const res = await undiciFetch(url, {
      method,
      dispatcher,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`Graph ${method} ${url} answered ${res.status}: ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : undefined;
  };
  try {
    const graph = (await call('GET', `${GRAPH}/servicePrincipals(appId='${GRAPH_APP_ID}')`)) as {
      id: string;
      appRoles: { id: string; value: string }[];
    };
    const current = (await call('GET', `${GRAPH}/servicePrincipals/${principalId}/appRoleAssignments`)) as {
      value: { id: string; appRoleId: string; resourceId: string }[];
    };
    const wanted = permission === undefined ? undefined : graph.appRoles.find((r) => r.value === permission);
    if (permission !== undefined && !wanted) throw new Error(`Microsoft Graph has no app role named ${permission}`);
    for (const a of current.value) {
      if (wanted && a.appRoleId === wanted.id && a.resourceId === graph.id) continue;
      await call('DELETE', `${GRAPH}/servicePrincipals/${principalId}/appRoleAssignments/${a.id}`);
    }
    if (wanted && !current.value.some((a) => a.appRoleId === wanted.id && a.resourceId === graph.id)) {
      // The call shape of infra/deploy.sh (az rest --method POST .../appRoleAssignments).
      await call('POST', `${GRAPH}/servicePrincipals/${principalId}/appRoleAssignments`, {
        principalId,
        resourceId: graph.id,
        appRoleId: wanted.id,
      });
    }
  } finally {
    await dispatcher.close();
  }
}

/** Role assignment names are GUIDs; the template derives them from scope, principal and role, so re-runs are idempotent. */
function deterministicGuid(...parts: string[]): string {
  const h = createHash('sha1').update(parts.join('|').toLowerCase()).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
