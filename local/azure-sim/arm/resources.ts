/**
 * Microsoft.Resources: subscriptions and resource groups; Microsoft.Authorization role assignments and role
 * definitions (built-in and custom; evaluated by authz.ts). https://learn.microsoft.com/rest/api/resources/resource-groups,
 * https://learn.microsoft.com/rest/api/authorization/role-assignments, https://learn.microsoft.com/rest/api/authorization/role-definitions.
 */
import type { SimResponse } from '../contract';
import type { ArmCore, RequestScope } from './core';
import {
  armError,
  bodyObject,
  eq,
  isoTime,
  json,
  key,
  normalizeLocation,
  resourceGroupId,
  stringRecord,
  truncate,
  validateName,
} from './http';
import type { CustomRoleRecord, ResourceGroupRecord, RoleAssignmentRecord, SubscriptionRecord } from './state';
import { BUILT_IN_ROLE_DEFINITIONS, scopeCovers, type RoleDefinition } from './roles';
import { methodNotAllowed } from './compute';

const RG_NAME = /^[-\w._()]+$/;
const MAX_ROLE_ASSIGNMENTS = 4000;

export function subscriptionJson(s: SubscriptionRecord): Record<string, unknown> {
  return {
    id: `/subscriptions/${s.subscriptionId}`,
    subscriptionId: s.subscriptionId,
    tenantId: s.tenantId,
    displayName: s.displayName,
    state: s.state,
    subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'PayAsYouGo_2014-09-01', spendingLimit: 'Off' },
    authorizationSource: 'RoleBased',
  };
}

export function resourceGroupJson(rg: ResourceGroupRecord): Record<string, unknown> {
  return {
    id: rg.id,
    name: rg.name,
    type: 'Microsoft.Resources/resourceGroups',
    location: rg.location,
    tags: rg.tags,
    properties: { provisioningState: rg.provisioningState },
  };
}

export class Resources {
  constructor(private readonly core: ArmCore) {}

  private get state() {
    return this.core.state;
  }

  listSubscriptions(scope: RequestScope): SimResponse {
    const visible = Object.values(this.state.subscriptions).filter(
      (s) =>
        scope.principal.kind === 'platform' ||
        // ARM lists the subscriptions the caller holds some role assignment in.
        (eq(s.tenantId, scope.principal.tenantId) && this.core.authz.isMember(scope.principal.objectId, s.subscriptionId)),
    );
    return json(200, { value: visible.map(subscriptionJson), count: { type: 'Total', value: visible.length } });
  }

  getSubscription(scope: RequestScope, subscriptionId: string): SimResponse {
    const sub = this.state.subscriptions[key(subscriptionId)];
    if (!sub) throw armError(404, 'SubscriptionNotFound', `The subscription '${truncate(subscriptionId, 40)}' could not be found.`);
    this.core.subscription(subscriptionId, scope.principal);
    return json(200, subscriptionJson(sub));
  }

  /** Creates (or finds) a resource group; shared with the control API. */
  ensureResourceGroup(subscriptionId: string, name: string, location: string, tags: Record<string, string> = {}): ResourceGroupRecord {
    validateName(name, 'a resource group', RG_NAME, 90);
    if (name.endsWith('.'))
      throw armError(
        400,
        'InvalidResourceGroup',
        `The provided resource group name '${truncate(name, 40)}' has these invalid characters: '.' at the end.`,
      );
    const id = resourceGroupId(subscriptionId, name);
    const existing = this.state.resourceGroups[key(id)];
    if (existing) return existing;
    const rg: ResourceGroupRecord = {
      id,
      name,
      subscriptionId,
      location: normalizeLocation(location),
      tags,
      provisioningState: 'Succeeded',
    };
    this.state.resourceGroups[key(id)] = rg;
    return rg;
  }

  /** `GET /subscriptions/{s}/resources` (Resources - List); the Azure CLI lists vaults this way. */
  listSubscriptionResources(scope: RequestScope, subscriptionId: string): SimResponse {
    if (scope.req.method !== 'GET') throw methodNotAllowed(scope.req.method);
    this.core.subscription(subscriptionId, scope.principal);
    return this.listResources(`/subscriptions/${subscriptionId}/`, scope.req.query.get('$filter'));
  }

  /**
   * Generic resources under an id prefix. `$filter` subset of Resources - List:
   * `resourceType eq '…'` and `name eq '…'` joined by `and` / `or` (case-insensitive values).
   */
  private listResources(idPrefix: string, filterText: string | null): SimResponse {
    const filter = parseResourceFilter(filterText);
    const prefix = idPrefix.toLowerCase();
    const all = [...Object.values(this.state.vms), ...Object.values(this.state.disks), ...Object.values(this.state.vaults)]
      .filter((r) => key(r.id).startsWith(prefix))
      .map((r) => ({ id: r.id, name: r.name, type: resourceTypeOf(r.id), location: r.location, tags: r.tags }))
      .filter(filter);
    return json(200, { value: all });
  }

  async resourceGroups(
    scope: RequestScope,
    subscriptionId: string,
    name: string | undefined,
    tail: string | undefined,
  ): Promise<SimResponse> {
    const { req } = scope;
    this.core.subscription(subscriptionId, scope.principal);
    if (name === undefined) {
      if (req.method !== 'GET') throw methodNotAllowed(req.method);
      const prefix = `/subscriptions/${subscriptionId}/`.toLowerCase();
      return json(200, {
        value: Object.values(this.state.resourceGroups)
          .filter((rg) => key(rg.id).startsWith(prefix))
          .map(resourceGroupJson),
      });
    }
    if (tail !== undefined) {
      if (tail.toLowerCase() === 'resources' && req.method === 'GET')
        return this.listResources(`${resourceGroupId(subscriptionId, name)}/`, req.query.get('$filter'));
      throw armError(
        404,
        'NotFound',
        `No HTTP resource was found that matches the request URI 'https://management.azure.com${truncate(req.path, 200)}'.`,
      );
    }
    const id = resourceGroupId(subscriptionId, name);
    const existing = this.state.resourceGroups[key(id)];
    switch (req.method) {
      case 'HEAD':
        return { status: existing ? 204 : 404 };
      case 'GET':
        if (!existing) throw armError(404, 'ResourceGroupNotFound', `Resource group '${truncate(name, 90)}' could not be found.`);
        return json(200, resourceGroupJson(existing));
      case 'PUT': {
        const body = bodyObject(req);
        if (typeof body.location !== 'string' || body.location === '')
          throw armError(400, 'LocationRequired', 'The location property is required for this definition.');
        if (existing) {
          if (normalizeLocation(body.location) !== existing.location) {
            throw armError(
              409,
              'InvalidResourceGroupLocation',
              `Invalid resource group location '${truncate(body.location, 40)}'. The Resource group already exists ` +
                `in location '${existing.location}'.`,
            );
          }
          existing.tags = stringRecord(body.tags, 'tags');
          this.core.emit('Write', scope, subscriptionId, id, 'Microsoft.Resources/subscriptions/resourceGroups/write', { existing: true });
          return json(200, resourceGroupJson(existing));
        }
        const rg = this.ensureResourceGroup(subscriptionId, name, body.location, stringRecord(body.tags, 'tags'));
        this.core.emit('Write', scope, subscriptionId, id, 'Microsoft.Resources/subscriptions/resourceGroups/write');
        return json(201, resourceGroupJson(rg));
      }
      case 'PATCH': {
        if (!existing) throw armError(404, 'ResourceGroupNotFound', `Resource group '${truncate(name, 90)}' could not be found.`);
        const body = bodyObject(req);
        if (body.tags !== undefined) existing.tags = stringRecord(body.tags, 'tags');
        this.core.emit('Write', scope, subscriptionId, id, 'Microsoft.Resources/subscriptions/resourceGroups/write', { existing: true });
        return json(200, resourceGroupJson(existing));
      }
      case 'DELETE': {
        if (!existing) throw armError(404, 'ResourceGroupNotFound', `Resource group '${truncate(name, 90)}' could not be found.`);
        existing.provisioningState = 'Deleting';
        const op = this.core.startOperation(this.core.durations.resourceGroupDelete);
        const generation = this.core.generation;
        this.core.background(`delete ${id}`, async () => {
          await this.core.sleep(this.core.durations.resourceGroupDelete, generation);
          this.deleteResourceGroupContents(id);
          delete this.state.resourceGroups[key(id)];
          this.core.completeOperation(op);
          this.core.emit('Delete', scope, subscriptionId, id, 'Microsoft.Resources/subscriptions/resourceGroups/delete', {
            existing: true,
          });
        });
        const operationResults = `https://management.azure.com/subscriptions/${subscriptionId}/operationresults`;
        const location = `${operationResults}/${op.name}?api-version=${scope.apiVersion}`;
        return { status: 202, headers: { location, 'retry-after': this.core.retryAfterSeconds(op) } };
      }
      default:
        throw methodNotAllowed(req.method);
    }
  }

  private deleteResourceGroupContents(rgId: string): void {
    const prefix = `${rgId}/`.toLowerCase();
    for (const table of [
      this.state.vms,
      this.state.disks,
      this.state.systemTopics,
      this.state.customTopics,
      this.state.eventSubscriptions,
    ] as Record<string, { id: string }>[]) {
      for (const id of Object.keys(table)) if (id.startsWith(prefix)) delete table[id];
    }
    for (const [id, vault] of Object.entries(this.state.vaults)) {
      if (id.startsWith(prefix)) {
        delete this.state.vaults[id];
        this.state.deletedVaults[vault.name.toLowerCase()] = {
          id: `/subscriptions/${vault.subscriptionId}/providers/Microsoft.KeyVault/locations/${vault.location}/deletedVaults/${vault.name}`,
          name: vault.name,
          location: vault.location,
          vaultId: vault.id,
          deletionDate: this.core.nowIso(),
          scheduledPurgeDate: isoTime(this.core.ctx.clock.now() + vault.softDeleteRetentionInDays * 86_400_000),
          purgeProtectionEnabled: vault.enablePurgeProtection,
          tags: vault.tags,
          vault,
        };
      }
    }
  }

  /** `{scope}/providers/Microsoft.Authorization/roleAssignments[/{name}]`. */
  roleAssignments(scope: RequestScope, assignmentScope: string, name: string | undefined): SimResponse {
    const { req } = scope;
    if (name === undefined) {
      if (req.method !== 'GET') throw methodNotAllowed(req.method);
      const prefix = assignmentScope.toLowerCase();
      const filter = req.query.get('$filter') ?? '';
      const principal = /principalId\s+eq\s+'([^']+)'/i.exec(filter)?.[1];
      const items = Object.values(this.state.roleAssignments).filter(
        (r) => (key(r.scope).startsWith(prefix) || prefix.startsWith(key(r.scope))) && (!principal || eq(r.principalId, principal)),
      );
      return json(200, { value: items.map(roleAssignmentJson) });
    }
    const id = `${assignmentScope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
    const existing = this.state.roleAssignments[key(id)];
    const subscriptionId = /^\/subscriptions\/([^/]+)/i.exec(assignmentScope)?.[1];
    switch (req.method) {
      case 'GET':
        if (!existing) throw armError(404, 'RoleAssignmentNotFound', `The role assignment '${truncate(name, 40)}' is not found.`);
        return json(200, roleAssignmentJson(existing));
      case 'PUT': {
        if (!/^[0-9a-f-]{36}$/i.test(name))
          throw armError(
            400,
            'InvalidRoleAssignmentId',
            `The role assignment ID '${truncate(name, 40)}' is not valid. The role assignment ID must be a GUID.`,
          );
        const body = bodyObject(req);
        const props = body.properties ?? {};
        const principalId = String(props.principalId ?? '');
        const roleDefinitionId = String(props.roleDefinitionId ?? '');
        if (!roleDefinitionId.includes('/providers/Microsoft.Authorization/roleDefinitions/')) {
          throw armError(400, 'InvalidRoleDefinitionId', `The role definition ID '${truncate(roleDefinitionId, 120)}' is not valid.`);
        }
        if (!this.core.authz.roleDefinition(roleDefinitionId)) {
          throw armError(
            400,
            'RoleDefinitionDoesNotExist',
            `The specified role definition with ID '${truncate(roleDefinitionId.split('/').pop() ?? '', 60)}' does not exist.`,
          );
        }
        if (!this.core.ctx.directory?.findByObjectId(principalId)) {
          throw armError(
            400,
            'PrincipalNotFound',
            `Principal ${truncate(principalId.replace(/-/g, ''), 40)} does not exist in the directory ` +
              `${this.core.ctx.directory?.tenantId ?? ''}. Check that you have the correct principal ID. If you ` +
              `are creating this principal and then immediately assigning a role, this error might be related to a ` +
              `replication delay. In this case, set the role assignment principalType property to a value, such as ` +
              `ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype`,
          );
        }
        if (existing) {
          if (eq(existing.principalId, principalId) && eq(existing.roleDefinitionId, roleDefinitionId))
            return json(200, roleAssignmentJson(existing));
          throw armError(
            409,
            'RoleAssignmentUpdateNotPermitted',
            'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.',
          );
        }
        const duplicate = Object.values(this.state.roleAssignments).find(
          (r) => eq(r.scope, assignmentScope) && eq(r.principalId, principalId) && eq(r.roleDefinitionId, roleDefinitionId),
        );
        if (duplicate)
          throw armError(
            409,
            'RoleAssignmentExists',
            `The role assignment already exists. The ID of the existing role assignment is ${duplicate.name.replace(/-/g, '')}.`,
          );
        if (
          subscriptionId &&
          Object.values(this.state.roleAssignments).filter((r) =>
            r.scope.toLowerCase().startsWith(`/subscriptions/${subscriptionId}`.toLowerCase()),
          ).length >= MAX_ROLE_ASSIGNMENTS
        ) {
          throw armError(
            400,
            'RoleAssignmentLimitExceeded',
            `No more role assignments can be created in subscription '${subscriptionId}' (limit ${MAX_ROLE_ASSIGNMENTS}).`,
          );
        }
        const record: RoleAssignmentRecord = {
          id,
          name,
          scope: assignmentScope,
          roleDefinitionId,
          principalId,
          principalType: String(props.principalType ?? 'ServicePrincipal'),
          createdOn: this.core.nowIso(),
        };
        this.state.roleAssignments[key(id)] = record;
        if (subscriptionId) this.core.emit('Write', scope, subscriptionId, id, 'Microsoft.Authorization/roleAssignments/write');
        return json(201, roleAssignmentJson(record));
      }
      case 'DELETE':
        if (!existing) return { status: 204 };
        delete this.state.roleAssignments[key(id)];
        if (subscriptionId)
          this.core.emit('Delete', scope, subscriptionId, id, 'Microsoft.Authorization/roleAssignments/delete', { existing: true });
        return json(200, roleAssignmentJson(existing));
      default:
        throw methodNotAllowed(req.method);
    }
  }

  /** `{scope}/providers/Microsoft.Authorization/roleDefinitions[/{guid}]`: built-in roles everywhere, custom roles (PUT/DELETE). */
  roleDefinitions(scope: RequestScope, definitionScope: string, name: string | undefined): SimResponse {
    const { req } = scope;
    const custom = this.state.roleDefinitions ?? (this.state.roleDefinitions = {});
    const visible = (): RoleDefinitionView[] => [
      ...BUILT_IN_ROLE_DEFINITIONS.map((r) => ({ ...r, scope: '' })),
      ...Object.values(custom).filter((r) =>
        r.assignableScopes.some((s) => scopeCovers(s, definitionScope) || scopeCovers(definitionScope, s)),
      ),
    ];
    if (name === undefined) {
      if (req.method !== 'GET') throw methodNotAllowed(req.method);
      const filter = req.query.get('$filter') ?? '';
      const roleName = /roleName\s+eq\s+'((?:[^']|'')*)'/i.exec(filter)?.[1]?.replace(/''/g, "'");
      const type = /type\s+eq\s+'([^']+)'/i.exec(filter)?.[1];
      const items = visible().filter((r) => (!roleName || eq(r.roleName, roleName)) && (!type || eq(r.roleType, type)));
      return json(200, { value: items.map((r) => roleDefinitionJson(r, definitionScope)) });
    }
    const guid = name.toLowerCase();
    const builtIn = BUILT_IN_ROLE_DEFINITIONS.find((r) => r.name === guid);
    const existing = custom[guid];
    switch (req.method) {
      case 'GET': {
        const found = builtIn ?? existing;
        if (!found)
          throw armError(
            404,
            'RoleDefinitionDoesNotExist',
            `The specified role definition with ID '${truncate(name, 60)}' does not exist.`,
          );
        return json(200, roleDefinitionJson({ ...found, scope: existing?.scope ?? '' }, definitionScope));
      }
      case 'PUT': {
        if (!/^[0-9a-f-]{36}$/i.test(name))
          throw armError(400, 'InvalidRoleDefinitionId', `The role definition ID '${truncate(name, 40)}' is not valid. It must be a GUID.`);
        if (builtIn) throw armError(400, 'RoleDefinitionUpdateNotPermitted', 'Built-in role definitions cannot be changed.');
        const props = (bodyObject(req).properties ?? {}) as Record<string, any>;
        const roleName = typeof props.roleName === 'string' ? props.roleName.trim() : '';
        if (!roleName) throw armError(400, 'InvalidRoleDefinitionName', 'The role definition must have a roleName.');
        const permissions = Array.isArray(props.permissions) ? props.permissions : [];
        const list = (v: unknown, field: string): string[] => {
          if (v === undefined || v === null) return [];
          if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x.length === 0))
            throw armError(400, 'InvalidActionOrNotAction', `'${field}' must be a list of operation strings.`);
          return v as string[];
        };
        const parsed = permissions.map((p: Record<string, unknown>) => ({
          actions: list(p.actions, 'actions'),
          notActions: list(p.notActions, 'notActions'),
          dataActions: list(p.dataActions, 'dataActions'),
          notDataActions: list(p.notDataActions, 'notDataActions'),
        }));
        if (
          parsed.length === 0 ||
          parsed.every((p: { actions: string[]; dataActions: string[] }) => p.actions.length + p.dataActions.length === 0)
        )
          throw armError(400, 'InvalidActionOrNotAction', 'The role definition must grant at least one action or data action.');
        const assignableScopes = list(props.assignableScopes, 'assignableScopes');
        if (assignableScopes.length === 0)
          throw armError(400, 'InvalidAssignableScopes', 'The role definition must have at least one assignable scope.');
        for (const s of assignableScopes)
          if (!scopeCovers(definitionScope, s) && !scopeCovers(s, definitionScope))
            throw armError(
              400,
              'InvalidAssignableScopes',
              `The assignable scope '${truncate(s, 200)}' is outside the scope '${definitionScope}' the role is created at.`,
            );
        const clash = Object.values(custom).find((r) => r.name !== guid && eq(r.roleName, roleName));
        if (clash || BUILT_IN_ROLE_DEFINITIONS.some((r) => eq(r.roleName, roleName)))
          throw armError(409, 'RoleDefinitionWithSameNameExists', `A role definition cannot be updated with a name that already exists.`);
        const now = this.core.nowIso();
        const record: CustomRoleRecord = {
          name: guid,
          roleName,
          description: typeof props.description === 'string' ? props.description : '',
          roleType: 'CustomRole',
          permissions: parsed,
          assignableScopes,
          scope: definitionScope,
          createdOn: existing?.createdOn ?? now,
          updatedOn: now,
        };
        custom[guid] = record;
        // Azure answers 201 to create and update alike; the SDK accepts nothing else
        // (https://learn.microsoft.com/rest/api/authorization/role-definitions/create-or-update).
        return json(201, roleDefinitionJson(record, definitionScope));
      }
      case 'DELETE': {
        if (builtIn) throw armError(400, 'RoleDefinitionUpdateNotPermitted', 'Built-in role definitions cannot be deleted.');
        if (!existing) return { status: 204 };
        if (Object.values(this.state.roleAssignments).some((a) => (a.roleDefinitionId.split('/').pop() ?? '').toLowerCase() === guid))
          throw armError(
            409,
            'RoleDefinitionHasAssignments',
            'There are existing role assignments referencing role (code: RoleDefinitionHasAssignments).',
          );
        delete custom[guid];
        return json(200, roleDefinitionJson(existing, definitionScope));
      }
      default:
        throw methodNotAllowed(req.method);
    }
  }
}

type RoleDefinitionView = RoleDefinition & { scope: string; createdOn?: string; updatedOn?: string };

function roleDefinitionJson(r: RoleDefinitionView, requestScope: string): Record<string, unknown> {
  const at = r.roleType === 'CustomRole' ? r.scope : requestScope === '/' ? '' : requestScope;
  return {
    id: `${at}/providers/Microsoft.Authorization/roleDefinitions/${r.name}`,
    name: r.name,
    type: 'Microsoft.Authorization/roleDefinitions',
    properties: {
      roleName: r.roleName,
      type: r.roleType,
      description: r.description,
      assignableScopes: r.assignableScopes,
      permissions: r.permissions,
      createdOn: r.createdOn ?? null,
      updatedOn: r.updatedOn ?? null,
    },
  };
}

function roleAssignmentJson(r: RoleAssignmentRecord): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    type: 'Microsoft.Authorization/roleAssignments',
    properties: {
      roleDefinitionId: r.roleDefinitionId,
      principalId: r.principalId,
      principalType: r.principalType,
      scope: r.scope,
      createdOn: r.createdOn,
      updatedOn: r.createdOn,
    },
  };
}

function parseResourceFilter(text: string | null): (r: { name: string; type: string }) => boolean {
  if (!text || !text.trim()) return () => true;
  const clauses = text.split(/\s+or\s+/i).map((part) =>
    part.split(/\s+and\s+/i).map((clause) => {
      const m = /^\(?\s*(resourceType|name)\s+eq\s+'((?:[^']|'')*)'\s*\)?$/i.exec(clause.trim());
      if (!m) throw armError(400, 'InvalidFilterInQueryString', `Invalid $filter '${truncate(text, 200)}' specified in the query string.`);
      const field = m[1]!.toLowerCase() === 'name' ? 'name' : 'type';
      const value = m[2]!.replace(/''/g, "'").toLowerCase();
      return (r: { name: string; type: string }) => r[field].toLowerCase() === value;
    }),
  );
  return (r) => clauses.some((all) => all.every((c) => c(r)));
}

/** `…/providers/Microsoft.Compute/virtualMachines/vm1` → `Microsoft.Compute/virtualMachines` (namespace + type segments). */
function resourceTypeOf(id: string): string {
  const [namespace, ...rest] = id.split('/providers/')[1]!.split('/');
  return [namespace, ...rest.filter((_, i) => i % 2 === 0)].join('/');
}
