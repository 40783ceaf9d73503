/**
 * Azure RBAC for the Resource Manager part: which action and scope each request needs, evaluation of the
 * caller's role assignments (inherited downward from subscription to resource group to resource) against
 * built-in and custom role definitions, and Azure's 403 AuthorizationFailed. Also answers data-action checks
 * for the Key Vault and Event Grid data planes (`SimContext.authorization`).
 *
 * Follows https://learn.microsoft.com/azure/role-based-access-control/overview#how-azure-rbac-determines-if-a-user-has-access-to-a-resource
 * and https://learn.microsoft.com/azure/role-based-access-control/troubleshooting (the AuthorizationFailed text).
 */
import type { Principal, SimRequest } from '../contract';
import { armError, eq, type ArmPath } from './http';
import { DIAGNOSTIC_SETTINGS_PATH } from './insights';
import { builtInRole, roleGrants, scopeCovers, type RoleDefinition } from './roles';
import type { ArmState } from './state';

export type OperationKind = 'action' | 'dataAction';

/** `/providers/Microsoft.Management/managementGroups/{name}` → name. */
export const MANAGEMENT_GROUP_SCOPE = /^\/providers\/Microsoft\.Management\/managementGroups\/([^/]+)$/i;

/** What a request needs: an action at a scope, or only some role assignment in the subscription (ARM's membership check). */
export type Requirement =
  { kind: 'action'; action: string; scope: string; list?: boolean } | { kind: 'member'; subscriptionId: string } | { kind: 'none' };

export class Authorizer {
  constructor(private readonly state: () => ArmState) {}

  /** The role definition an assignment names: built-in by GUID, else a custom role of the simulator's state. */
  roleDefinition(roleDefinitionId: string): RoleDefinition | undefined {
    const guid = roleDefinitionId.split('/').pop() ?? '';
    return builtInRole(guid) ?? this.state().roleDefinitions?.[guid.toLowerCase()];
  }

  /**
   * Whether an assignment scope covers a scope: the scope itself or below it, and for a management group every
   * subscription under it or under its descendant groups (https://learn.microsoft.com/azure/governance/management-groups/overview).
   */
  covers(assignmentScope: string, scope: string): boolean {
    if (scopeCovers(assignmentScope, scope)) return true;
    const group = MANAGEMENT_GROUP_SCOPE.exec(assignmentScope.replace(/\/+$/, ''))?.[1];
    if (!group) return false;
    const subscriptionId = /^\/subscriptions\/([^/]+)/i.exec(scope)?.[1];
    return subscriptionId !== undefined && (this.subscriptionsUnder(group) ?? []).some((s) => eq(s, subscriptionId));
  }

  /** Subscriptions in the management group and its descendants; undefined for an unknown group. */
  subscriptionsUnder(group: string): string[] | undefined {
    const groups = this.state().managementGroups ?? {};
    if (!groups[group.toLowerCase()]) return undefined;
    const out: string[] = [];
    const visit = (name: string, depth: number) => {
      const g = groups[name.toLowerCase()];
      if (!g || depth > 7) return; // Azure allows six levels below the root group
      out.push(...g.subscriptions);
      for (const child of Object.values(groups)) if (child.parent && eq(child.parent, g.name)) visit(child.name, depth + 1);
    };
    visit(group, 0);
    return out;
  }

  /** Whether the principal's assignments at the scope or above grant the (data) action. */
  allows(principalId: string, operation: string, scope: string, kind: OperationKind = 'action'): boolean {
    for (const a of Object.values(this.state().roleAssignments)) {
      if (!eq(a.principalId, principalId) || !this.covers(a.scope, scope)) continue;
      const role = this.roleDefinition(a.roleDefinitionId);
      if (role && roleGrants(role, operation, kind)) return true;
    }
    return false;
  }

  /** Whether some assignment below (or at/above) the scope grants the action: lists then return what is visible. */
  allowsSomewhereUnder(principalId: string, operation: string, scope: string): boolean {
    return Object.values(this.state().roleAssignments).some((a) => {
      if (!eq(a.principalId, principalId)) return false;
      if (!scopeCovers(scope, a.scope) && !this.covers(a.scope, scope)) return false;
      const role = this.roleDefinition(a.roleDefinitionId);
      return Boolean(role && roleGrants(role, operation, 'action'));
    });
  }

  /** Any role assignment at, above or below the subscription (what ARM requires to see a subscription at all). */
  isMember(principalId: string, subscriptionId: string): boolean {
    const sub = `/subscriptions/${subscriptionId}`;
    return Object.values(this.state().roleAssignments).some(
      (a) => eq(a.principalId, principalId) && (this.covers(a.scope, sub) || scopeCovers(sub, a.scope)),
    );
  }

  /** Throws Azure's 403 unless the principal may perform the action at the scope. */
  demand(principal: Principal, action: string, scope: string): void {
    if (principal.kind === 'platform') return;
    if (!this.allows(principal.objectId, action, scope)) throw authorizationFailed(principal, action, scope);
  }
}

/** Azure's refusal (https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---authorization-failed). */
export function authorizationFailed(principal: Principal, action: string, scope: string) {
  return armError(
    403,
    'AuthorizationFailed',
    `The client '${principal.objectId}' with object id '${principal.objectId}' does not have ` +
      `authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If ` +
      `access was recently granted, please refresh your credentials.`,
  );
}

const OPERATION_STATUS = /^(operations|operationresults|operationsstatus|operationstatuses|asyncoperations)$/i;

/**
 * Maps a Resource Manager request to the action it needs and the scope it is checked at, the way the
 * provider operations are named (https://learn.microsoft.com/azure/role-based-access-control/resource-provider-operations):
 * `{namespace}/{types…}/read|write|delete` on the resource, `{namespace}/{types…}/{verb}/action` for POST actions.
 */
export function requirementOf(req: SimRequest, path: ArmPath): Requirement {
  const verb = req.method === 'GET' || req.method === 'HEAD' ? 'read' : req.method === 'DELETE' ? 'delete' : 'write';
  const segs = path.segments;
  const sub = path.subscriptionId;
  // {scope}/providers/Microsoft.Authorization/roleAssignments|roleDefinitions[/{name}]
  const authz = /^(.*?)\/providers\/Microsoft\.Authorization\/(roleAssignments|roleDefinitions)(?:\/([^/]+))?$/i.exec(req.path);
  if (authz) {
    const scope = authz[1]!.replace(/\/{2,}/g, '/') || '/';
    const type = authz[2]!.toLowerCase() === 'roleassignments' ? 'roleAssignments' : 'roleDefinitions';
    // Built-in definitions at the tenant root are readable by anyone signed in.
    if (scope === '/' && req.method === 'GET') return { kind: 'none' };
    return { kind: 'action', action: `Microsoft.Authorization/${type}/${verb}`, scope, list: authz[3] === undefined };
  }
  // Diagnostic settings: an extension resource, authorized on the resource it watches
  // (Microsoft.Insights/diagnosticSettings/read|write|delete; the destination's linked check is the provider's, see insights.ts).
  const diagnostics = DIAGNOSTIC_SETTINGS_PATH.exec(req.path);
  if (diagnostics) return { kind: 'action', action: `Microsoft.Insights/diagnosticSettings/${verb}`, scope: diagnostics[1]! };
  if (!sub) return { kind: 'none' }; // GET /subscriptions lists only visible ones; unknown paths 404
  const subScope = `/subscriptions/${sub}`;
  if (segs.length === 2) return { kind: 'member', subscriptionId: sub };
  if (!path.namespace) {
    if (eq(segs[2], 'resourcegroups')) {
      const rg = segs[3];
      if (rg === undefined)
        return { kind: 'action', action: 'Microsoft.Resources/subscriptions/resourceGroups/read', scope: subScope, list: true };
      const rgScope = `${subScope}/resourceGroups/${rg}`;
      if (eq(segs[4], 'resources'))
        return { kind: 'action', action: 'Microsoft.Resources/subscriptions/resourceGroups/resources/read', scope: rgScope, list: true };
      return { kind: 'action', action: `Microsoft.Resources/subscriptions/resourceGroups/${verb}`, scope: rgScope };
    }
    if (eq(segs[2], 'resources') && segs.length === 3)
      return { kind: 'action', action: 'Microsoft.Resources/subscriptions/resources/read', scope: subScope, list: true };
    if (eq(segs[2], 'operationresults')) return { kind: 'member', subscriptionId: sub };
    return { kind: 'member', subscriptionId: sub }; // locations and other subscription reads
  }
  const ns = path.namespace;
  if (path.types.length === 0) {
    // Provider registration state is visible to members; registering is an action on the namespace.
    return req.method === 'POST'
      ? { kind: 'action', action: `${ns}/register/action`, scope: subScope }
      : { kind: 'member', subscriptionId: sub };
  }
  const types = path.types;
  // Long-running operation status URLs (…/locations/{l}/operations/{id}) belong to the operation, not the caller's roles.
  if (eq(types[0], 'locations') && types.length === 2 && OPERATION_STATUS.test(types[1]!)) return { kind: 'member', subscriptionId: sub };
  const base = path.resourceGroup ? `${subScope}/resourceGroups/${path.resourceGroup}` : subScope;
  // Key Vault's name check is a POST whose operation is a read.
  if (eq(ns, 'Microsoft.KeyVault') && types.length === 1 && eq(types[0], 'checkNameAvailability'))
    return { kind: 'action', action: 'Microsoft.KeyVault/checkNameAvailability/read', scope: subScope };
  if (req.method === 'POST' && path.collection && types.length >= 2) {
    // …/{type}/{name}/{verb}: the action is on the resource named before the verb.
    const resourceTypes = types.slice(0, -1);
    const scope = resourceScope(base, ns, resourceTypes, path.names);
    return { kind: 'action', action: `${ns}/${resourceTypes.join('/')}/${types[types.length - 1]}/action`, scope };
  }
  if (path.collection) {
    // A list: checked at the parent (the resource the collection hangs off, or the group / subscription).
    const scope = resourceScope(base, ns, types.slice(0, -1), path.names);
    return { kind: 'action', action: `${ns}/${types.join('/')}/read`, scope, list: req.method === 'GET' };
  }
  const scope = resourceScope(base, ns, types, path.names);
  // Key Vault access policy edits (…/vaults/{v}/accessPolicies/{add|replace|remove}) are one write action.
  return { kind: 'action', action: `${ns}/${types.join('/')}/${verb}`, scope };
}

function resourceScope(base: string, ns: string, types: string[], names: string[]): string {
  if (types.length === 0) return base;
  const pairs = types.map((t, i) => `${t}/${names[i] ?? ''}`).join('/');
  return `${base}/providers/${ns}/${pairs}`.replace(/\/$/, '');
}
