/**
 * The Resource Manager part of the simulator (management.azure.com): routing, api-version, ARM error
 * envelopes, per subscription+principal throttling, and the providers Microsoft.Resources, Microsoft.Compute,
 * Microsoft.KeyVault, Microsoft.EventGrid and Microsoft.Authorization. Implements VaultDirectory for the
 * Key Vault data plane and handleControl for /_sim/arm/**.
 */
import {
  SimError,
  type Service,
  type SimContext,
  type SimRequest,
  type SimResponse,
  type VaultDirectory,
  type VaultRecord,
} from '../contract';
import { ArmControl } from './control';
import { Compute } from './compute';
import { handleFeatures } from './features';
import { ArmCore } from './core';
import { EventGridArm } from './eventgrid';
import { ARM_HOST, armError, eq, errorBody, json, parseArmPath, requireApiVersion, truncate, type ArmPath } from './http';
import { DIAGNOSTIC_SETTINGS_PATH, DiagnosticSettingsArm } from './insights';
import { KeyVaultArm } from './keyvault';
import { Resources } from './resources';
import { ResourceGraph, type GraphRow } from './resource-graph';
import { extensionJson } from './compute';
import type { OperationClass } from './throttle';
import { authorizationFailed, requirementOf, type Requirement } from './authz';

/** The read action of one listed item: resource groups and generic resources read as their own type. */
function itemReadAction(id: string, listAction: string): string {
  if (/\/providers\//i.test(id)) {
    const [namespace, ...rest] = id
      .split(/\/providers\//i)
      .pop()!
      .split('/');
    return `${namespace}/${rest.filter((_, i) => i % 2 === 0).join('/')}/read`;
  }
  if (/\/resourceGroups\/[^/]+$/i.test(id)) return 'Microsoft.Resources/subscriptions/resourceGroups/read';
  return listAction;
}

export interface ArmService extends Service, VaultDirectory {
  handleControl(req: SimRequest): Promise<SimResponse | undefined>;
  /** Platform grant of a built-in role (`{ principalId, scope, roleName | roleDefinitionId }`), as POST /_sim/arm/roleAssignments. */
  grantRole(body: Record<string, unknown>, dryRun?: boolean): void;
  /** Abandons background work (operations, guest runs) so nothing touches state after the simulator stops. */
  stop(): void;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;

export function createArmService(ctx: SimContext): ArmService {
  const core = new ArmCore(ctx);
  const resources = new Resources(core);
  const compute = new Compute(core);
  const keyVault = new KeyVaultArm(core);
  const eventGrid = new EventGridArm(core);
  const diagnosticSettings = new DiagnosticSettingsArm(core);
  const control = new ArmControl(core, resources, compute, keyVault);
  const resourceGraph = new ResourceGraph({
    authz: core.authz,
    now: () => ctx.clock.now(),
    tables: () => graphTables(),
    managementGroupSubscriptions: (group) => core.authz.subscriptionsUnder(group),
  });

  /** Resource Graph's view of the state: VMs and their extensions (`Resources`) and subscriptions (`ResourceContainers`). */
  function graphTables(): { Resources: GraphRow[]; ResourceContainers: GraphRow[] } {
    const rows: GraphRow[] = [];
    for (const vm of Object.values(core.state.vms)) {
      if (vm.provisioningState === 'Deleting') continue;
      const placement = { subscriptionId: vm.subscriptionId, resourceGroup: vm.resourceGroup.toLowerCase(), location: vm.location };
      const full = compute.vmJson(vm, false) as { properties: Record<string, unknown>; resources?: unknown };
      const { resources: _extensions, ...vmJson } = full;
      rows.push({
        ...vmJson,
        ...placement,
        type: 'microsoft.compute/virtualmachines',
        kind: '',
        managedBy: '',
        // Resource Graph adds the power state to the model (no instance view otherwise).
        properties: { ...full.properties, extended: { instanceView: { powerState: { code: `PowerState/${vm.powerState}` } } } },
      });
      for (const e of Object.values(vm.extensions)) {
        rows.push({ ...extensionJson(e, false), ...placement, type: 'microsoft.compute/virtualmachines/extensions' });
      }
    }
    for (const set of Object.values(core.state.scaleSets ?? {})) {
      if (set.provisioningState === 'Deleting') continue;
      rows.push({
        ...compute.scaleSets.setJson(set),
        subscriptionId: set.subscriptionId,
        resourceGroup: set.resourceGroup.toLowerCase(),
        type: 'microsoft.compute/virtualmachinescalesets',
        kind: '',
        managedBy: '',
      });
    }
    const groups = Object.values(core.state.managementGroups ?? {});
    const ancestors = (name: string | undefined): Array<{ name: string; displayName: string }> => {
      const chain: Array<{ name: string; displayName: string }> = [];
      for (let g = groups.find((x) => eq(x.name, name ?? '')); g && chain.length < 8; g = groups.find((x) => eq(x.name, g!.parent ?? ''))) {
        chain.push({ name: g.name, displayName: g.displayName });
      }
      return chain;
    };
    const containers: GraphRow[] = Object.values(core.state.subscriptions).map((sub) => ({
      id: `/subscriptions/${sub.subscriptionId}`,
      name: sub.subscriptionId,
      type: 'microsoft.resources/subscriptions',
      subscriptionId: sub.subscriptionId,
      tenantId: sub.tenantId,
      properties: {
        displayName: sub.displayName,
        state: sub.state,
        managementGroupAncestorsChain: ancestors(groups.find((g) => g.subscriptions.some((s) => eq(s, sub.subscriptionId)))?.name),
      },
    }));
    return { Resources: rows, ResourceContainers: containers };
  }
  ctx.authorization = { allows: (principalId, operation, scope, kind) => core.authz.allows(principalId, operation, scope, kind) };

  ctx.state.register('arm', {
    snapshot: () => structuredClone({ ...core.state, config: { throttling: core.throttle.config, durations: core.durations } }),
    restore: (value) => {
      const v = value as Record<string, unknown> & {
        config?: { throttling?: typeof core.throttle.config; durations?: typeof core.durations };
      };
      core.restore(v);
      if (v.config?.throttling) core.throttle.config = structuredClone(v.config.throttling);
      if (v.config?.durations) core.durations = { ...core.durations, ...v.config.durations };
      delete (core.state as unknown as Record<string, unknown>).config;
    },
    reset: () => core.reset(),
  });

  async function route(req: SimRequest, path: ArmPath): Promise<SimResponse> {
    const apiVersion = requireApiVersion(req);
    const scope = core.scopeOf(req, apiVersion);
    const segs = path.segments;
    // Role assignments and definitions live at any scope: {scope}/providers/Microsoft.Authorization/{type}[/{name}].
    const authz = /^(.*?)\/providers\/Microsoft\.Authorization\/(roleAssignments|roleDefinitions)(?:\/([^/]+))?$/i.exec(req.path);
    if (authz) {
      const assignmentScope = authz[1]!.replace(/\/{2,}/g, '/') || '/';
      const subscriptionId = /^\/subscriptions\/([^/]+)/i.exec(assignmentScope)?.[1];
      if (subscriptionId) core.subscription(subscriptionId, scope.principal);
      if (authz[2]!.toLowerCase() === 'roledefinitions') return resources.roleDefinitions(scope, assignmentScope, authz[3]);
      return resources.roleAssignments(scope, assignmentScope, authz[3]);
    }
    // Diagnostic settings are an extension resource of the resource they watch: {resource}/providers/Microsoft.Insights/….
    const diagnostics = DIAGNOSTIC_SETTINGS_PATH.exec(req.path);
    if (diagnostics) return diagnosticSettings.handle(scope, diagnostics[1]!, diagnostics[2]);
    if (/^\/providers\/Microsoft\.ResourceGraph\/resources\/?$/i.test(req.path)) {
      return resourceGraph.query(req, scope.principal.objectId, scope.principal.kind === 'platform');
    }
    if (segs.length === 0 || !eq(segs[0], 'subscriptions')) {
      throw armError(
        404,
        'NotFound',
        `No HTTP resource was found that matches the request URI 'https://management.azure.com${truncate(req.path, 200)}'.`,
      );
    }
    if (segs.length === 1) {
      if (req.method !== 'GET')
        throw armError(405, 'MethodNotAllowed', `The requested resource does not support http method '${truncate(req.method, 10)}'.`);
      return resources.listSubscriptions(scope);
    }
    const subscriptionId = path.subscriptionId!;
    if (segs.length === 2) {
      if (req.method !== 'GET')
        throw armError(405, 'MethodNotAllowed', `The requested resource does not support http method '${truncate(req.method, 10)}'.`);
      return resources.getSubscription(scope, subscriptionId);
    }
    if (!path.namespace) {
      // /subscriptions/{s}/resourcegroups[/{rg}[/resources]] and /subscriptions/{s}/operationresults/{id}
      if (eq(segs[2], 'resourcegroups')) return resources.resourceGroups(scope, subscriptionId, segs[3], segs[4]);
      if (eq(segs[2], 'resources') && segs.length === 3) return resources.listSubscriptionResources(scope, subscriptionId);
      if (eq(segs[2], 'operationresults') && segs[3]) {
        core.subscription(subscriptionId, scope.principal);
        return core.locationStatus(segs[3], `https://management.azure.com${req.path}?${req.query.toString()}`);
      }
      if (eq(segs[2], 'locations') && segs.length === 3) {
        core.subscription(subscriptionId, scope.principal);
        return json(200, {
          value: ['westeurope', 'northeurope', 'eastus', 'eastus2', 'westus2', 'uksouth', 'swedencentral'].map((name) => ({
            id: `/subscriptions/${subscriptionId}/locations/${name}`,
            name,
            displayName: name,
            type: 'Region',
          })),
        });
      }
      throw armError(
        404,
        'NotFound',
        `No HTTP resource was found that matches the request URI 'https://management.azure.com${truncate(req.path, 200)}'.`,
      );
    }
    if (path.types.length === 0) {
      core.subscription(subscriptionId, scope.principal);
      if (req.method === 'GET')
        return json(200, {
          id: `/subscriptions/${subscriptionId}/providers/${path.namespace}`,
          namespace: path.namespace,
          registrationState: 'Registered',
        });
      if (req.method === 'POST')
        return json(200, {
          id: `/subscriptions/${subscriptionId}/providers/${path.namespace}`,
          namespace: path.namespace,
          registrationState: 'Registered',
        });
    }
    if (path.segments.length - (path.resourceGroup ? 6 : 4) > 20)
      throw armError(400, 'InvalidRequestUri', 'The request URI has too many segments.');
    switch (path.namespace.toLowerCase()) {
      case 'microsoft.compute':
        return compute.handle(path, scope);
      case 'microsoft.keyvault':
        keyVault.expireDeleted();
        return keyVault.handle(path, scope);
      case 'microsoft.eventgrid':
        return eventGrid.handle(path, scope);
      case 'microsoft.features':
        return handleFeatures(core, path, scope);
      case 'microsoft.resources':
        core.subscription(subscriptionId, scope.principal);
        throw armError(
          404,
          'InvalidResourceType',
          `The resource type '${truncate(path.types.join('/'), 80)}' could not be found in the namespace 'Microsoft.Resources'.`,
        );
      default:
        core.subscription(subscriptionId, scope.principal);
        throw armError(
          404,
          'MissingSubscriptionRegistration',
          `The subscription is not registered to use namespace '${truncate(path.namespace, 80)}'. See ` +
            `https://aka.ms/rps-not-found for how to register subscriptions.`,
        );
    }
  }

  /**
   * RBAC before the provider sees the request (ARM authorizes first, so a missing resource the caller may not
   * touch is a 403, not a 404). A list the caller may not read at its scope shows only the items it may read
   * below it (ARM's partial authorization), or is refused when no assignment grants the read anywhere under it.
   */
  function authorize(req: SimRequest, requirement: Requirement): ((res: SimResponse) => SimResponse) | undefined {
    const principal = req.principal;
    if (!principal || principal.kind === 'platform' || requirement.kind === 'none') return undefined;
    if (requirement.kind === 'member') {
      const sub = core.state.subscriptions[requirement.subscriptionId.toLowerCase()];
      if (sub && !core.authz.isMember(principal.objectId, requirement.subscriptionId))
        throw authorizationFailed(principal, 'Microsoft.Resources/subscriptions/read', `/subscriptions/${requirement.subscriptionId}`);
      return undefined;
    }
    const { action, scope } = requirement;
    if (core.authz.allows(principal.objectId, action, scope)) return undefined;
    if (!requirement.list || !core.authz.allowsSomewhereUnder(principal.objectId, action, scope))
      throw authorizationFailed(principal, action, scope);
    return (res) => {
      const body = res.body as { value?: Array<{ id?: string }> } | undefined;
      if (res.status !== 200 || !Array.isArray(body?.value)) throw authorizationFailed(principal, action, scope);
      const value = body.value.filter(
        (item) => typeof item.id === 'string' && core.authz.allows(principal.objectId, itemReadAction(item.id, action), item.id),
      );
      return { ...res, body: { ...body, value } };
    };
  }

  function operationClass(method: string): OperationClass {
    if (method === 'GET' || method === 'HEAD') return 'reads';
    if (method === 'DELETE') return 'deletes';
    return 'writes';
  }

  function errorResponse(error: SimError, headers: Record<string, string>): SimResponse {
    return json(error.status, errorBody(error.code, error.message), {
      ...headers,
      ...error.headers,
      'x-ms-failure-cause': error.status >= 500 ? 'service' : 'gateway',
    });
  }

  return {
    name: 'arm',
    requiresAuth: true,
    matches: (host) => host === ARM_HOST,
    operationOf(req) {
      const path = parseArmPath(req.path);
      const verb =
        req.method === 'GET' || req.method === 'HEAD'
          ? 'read'
          : req.method === 'DELETE'
            ? 'delete'
            : req.method === 'POST'
              ? 'action'
              : 'write';
      if (!path.namespace) {
        if (path.segments.length <= 2) return `Microsoft.Resources/subscriptions/${verb}`;
        if (eq(path.segments[2], 'resourcegroups')) return `Microsoft.Resources/subscriptions/resourceGroups/${verb}`;
        return `Microsoft.Resources/${path.segments[2] ?? 'unknown'}/${verb}`;
      }
      if (DIAGNOSTIC_SETTINGS_PATH.test(req.path)) return `Microsoft.Insights/diagnosticSettings/${verb === 'action' ? 'write' : verb}`;
      if (/\/providers\/Microsoft\.Authorization\/roleAssignments/i.test(req.path))
        return `Microsoft.Authorization/roleAssignments/${verb}`;
      const types = path.types.filter((t) => !/^(operations|operationresults|operationsstatus)$/i.test(t) || true);
      if (verb === 'action' && path.collection) return `${path.namespace}/${types.join('/')}/action`;
      return `${path.namespace}/${types.join('/')}/${verb}`;
    },
    async handle(req) {
      const headers: Record<string, string> = {
        'x-ms-correlation-request-id': req.requestId,
        'x-ms-routing-request-id': `SIMULATOR:${req.requestId}`,
      };
      const path = parseArmPath(req.path);
      try {
        if (req.body.length > MAX_BODY_BYTES)
          throw armError(413, 'RequestEntityTooLarge', `The request content size exceeds the maximum allowed (${MAX_BODY_BYTES} bytes).`);
        if (path.subscriptionId && req.principal) {
          const cls = operationClass(req.method);
          const decision = core.throttle.take(path.subscriptionId, req.principal.objectId, cls);
          headers[`x-ms-ratelimit-remaining-subscription-${cls}`] = String(decision.remaining);
          if (cls !== 'reads') headers['x-ms-ratelimit-remaining-subscription-writes'] = String(decision.remaining);
          if (!decision.allowed) {
            throw armError(
              429,
              'SubscriptionRequestsThrottled',
              `Number of '${cls === 'reads' ? 'read' : cls === 'writes' ? 'write' : 'delete'}' requests for ` +
                `subscription '${path.subscriptionId}' actor '${req.principal.objectId}' exceeded. Please try again ` +
                `after '${decision.retryAfterSeconds}' seconds after additional tokens are available. Refer to ` +
                `https://aka.ms/arm-throttling for additional information.`,
              { 'retry-after': String(decision.retryAfterSeconds) },
            );
          }
        }
        const requirement = req.principal ? requirementOf(req, path) : ({ kind: 'none' } as const);
        const listFilter = authorize(req, requirement);
        let response = await route(req, path);
        if (listFilter) response = listFilter(response);
        return { ...response, headers: { ...headers, ...(response.headers ?? {}) } };
      } catch (error) {
        if (error instanceof SimError) return errorResponse(error, headers);
        ctx.log('error', 'ARM handler failed', {
          path: truncate(req.path, 200),
          error: error instanceof Error ? error.message : String(error),
        });
        return json(500, errorBody('InternalServerError', 'Encountered an internal server error.'), headers);
      }
    },
    handleControl: async (req) => {
      try {
        return await control.handle(req);
      } catch (error) {
        if (error instanceof SimError) return json(error.status, errorBody(error.code, error.message));
        throw error;
      }
    },
    findVault: (name: string): VaultRecord | undefined => keyVault.findVault(name),
    grantRole: (body, dryRun) => {
      control.seedRoleAssignment(body, dryRun);
    },
    stop: () => {
      core.generation += 1;
    },
  };
}
