/**
 * Control routes under /_sim/arm/** (loopback only; the front end forwards them here). Documented in
 * local/azure-sim/README.md. Seeding skips authentication and throttling but produces the same records
 * the Resource Manager API would.
 */
import { randomUUID } from 'node:crypto';
import type { GridEvent, SimRequest, SimResponse } from '../contract';
import { eventGridLink } from '../eventgrid/link';
import type { Compute } from './compute';
import type { ArmCore, Durations } from './core';
import { MANAGEMENT_GROUP_SCOPE } from './authz';
import { armError, bodyObject, eq, isObject, json, key, normalizeLocation, resourceId } from './http';
import { policyStateEvent } from './events';
import { vaultNameProblem, type KeyVaultArm } from './keyvault';
import type { Resources } from './resources';
import type { FeatureRecord, PolicyStateRecord, RoleAssignmentRecord, VaultRecord } from './state';
import { setFeatureState } from './features';
import { builtInRoleByName } from './roles';
import type { OperationClass } from './throttle';

const MAX_BULK_VMS = 10_000;

export class ArmControl {
  constructor(
    private readonly core: ArmCore,
    private readonly resources: Resources,
    private readonly compute: Compute,
    private readonly keyVault: KeyVaultArm,
  ) {}

  /**
   * Platform grant for setting up a scenario (the way a subscription's first Owner exists before anyone can assign
   * roles): `{ principalId, scope, roleDefinitionId | roleName }`, built-in role names only. Idempotent.
   */
  seedRoleAssignment(b: Record<string, unknown>, dryRun = false): RoleAssignmentRecord | undefined {
    const principalId = String(b.principalId ?? '');
    const scope = String(b.scope ?? '').replace(/\/+$/, '');
    if (!dryRun && !this.core.ctx.directory.findByObjectId(principalId))
      throw armError(400, 'PrincipalNotFound', `Principal '${principalId.slice(0, 40)}' does not exist in the directory.`);
    const group = MANAGEMENT_GROUP_SCOPE.exec(scope)?.[1];
    const sub = /^\/subscriptions\/([0-9a-f-]{36})(\/|$)/i.exec(scope)?.[1];
    if (!sub && !group)
      throw armError(
        400,
        'InvalidScope',
        `'scope' must be /subscriptions/{id}[/...] or /providers/Microsoft.Management/managementGroups/{id}, got '${scope.slice(0, 200)}'.`,
      );
    if (sub) this.core.subscription(sub);
    else if (!this.core.state.managementGroups?.[group!.toLowerCase()])
      throw armError(404, 'ManagementGroupNotFound', `The management group '${group!.slice(0, 90)}' was not found.`);
    const role =
      typeof b.roleName === 'string' ? builtInRoleByName(b.roleName) : this.core.authz.roleDefinition(String(b.roleDefinitionId ?? ''));
    if (!role)
      throw armError(400, 'RoleDefinitionDoesNotExist', `Unknown role '${String(b.roleName ?? b.roleDefinitionId ?? '').slice(0, 80)}'.`);
    if (dryRun) return undefined;
    const roleDefinitionId = `${sub ? `/subscriptions/${sub}` : scope}/providers/Microsoft.Authorization/roleDefinitions/${role.name}`;
    const existing = Object.values(this.core.state.roleAssignments).find(
      (a) => eq(a.scope, scope) && eq(a.principalId, principalId) && eq(a.roleDefinitionId, roleDefinitionId),
    );
    if (existing) return existing;
    const name = randomUUID();
    const id = `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
    const record: RoleAssignmentRecord = {
      id,
      name,
      scope,
      roleDefinitionId,
      principalId,
      principalType: 'ServicePrincipal',
      createdOn: this.core.nowIso(),
    };
    this.core.state.roleAssignments[key(id)] = record;
    return record;
  }

  async handle(req: SimRequest): Promise<SimResponse | undefined> {
    const route = req.path
      .replace(/^\/_sim\/arm\/?/i, '')
      .replace(/\/$/, '')
      .toLowerCase();
    const link = eventGridLink(this.core.ctx);
    const s = this.core.state;
    const subscriptionPut = /^subscriptions\/([0-9a-f-]{36})$/.exec(route);
    if (subscriptionPut && req.method === 'PUT')
      return json(201, this.seedSubscription({ ...bodyObject(req), subscriptionId: subscriptionPut[1] }));
    const rgPut = /^subscriptions\/([0-9a-f-]{36})\/resourcegroups\/([^/]+)$/.exec(route);
    if (rgPut && req.method === 'PUT') {
      const b = bodyObject(req);
      const subscriptionId = this.core.subscription(rgPut[1]).subscriptionId;
      const name = req.path.split('/').pop()!;
      const rg = this.resources.ensureResourceGroup(
        subscriptionId,
        decodeURIComponent(name),
        String(b.location ?? 'westeurope'),
        isObject(b.tags) ? (b.tags as Record<string, string>) : {},
      );
      return json(201, { id: rg.id });
    }
    // Stands in for waiting out a soft-delete retention period: the clock is real time and never moves,
    // so a test sets the deleted vault's scheduled purge date instead (Key Vault purges it when it passes).
    const deletedVault = /^deletedvaults\/([^/]+)$/.exec(route);
    if (deletedVault && req.method === 'PATCH') {
      const record = s.deletedVaults[deletedVault[1]!];
      if (!record) throw armError(404, 'NotFound', `No soft-deleted vault named '${deletedVault[1]!.slice(0, 100)}'.`);
      const when = bodyObject(req).scheduledPurgeDate;
      if (typeof when !== 'string' || Number.isNaN(Date.parse(when)))
        throw armError(400, 'BadRequest', `'scheduledPurgeDate' must be an ISO 8601 date-time, got ${JSON.stringify(when)}`);
      record.scheduledPurgeDate = new Date(Date.parse(when)).toISOString();
      this.keyVault.expireDeleted();
      return json(200, s.deletedVaults[deletedVault[1]!] ?? { name: record.name, purged: true });
    }
    // A preview feature's registration (platform side: a subscription where it was registered long ago) and a size's
    // encryption-at-host capability.
    if (route === 'features' && req.method === 'PUT') {
      const b = bodyObject(req);
      const state = String(b.state ?? '');
      if (!['NotRegistered', 'Registering', 'Registered', 'Unregistering', 'Unregistered'].includes(state))
        throw armError(400, 'InvalidRequest', "'state' must be NotRegistered, Registering, Registered, Unregistering or Unregistered.");
      const subscriptionId = this.core.subscription(String(b.subscriptionId ?? '')).subscriptionId;
      return json(200, setFeatureState(this.core, subscriptionId, String(b.feature ?? ''), state as FeatureRecord['state']));
    }
    const sku = /^skus\/((?:standard|basic)_[a-z0-9_]+)$/.exec(route);
    if (sku && req.method === 'PUT') {
      const b = bodyObject(req);
      if (typeof b.encryptionAtHostSupported !== 'boolean')
        throw armError(400, 'InvalidRequest', "'encryptionAtHostSupported' must be true or false.");
      (s.skuCapabilities ??= {})[sku[1]!] = { encryptionAtHostSupported: b.encryptionAtHostSupported };
      return json(200, { size: sku[1], encryptionAtHostSupported: b.encryptionAtHostSupported });
    }
    switch (`${req.method} ${route}`) {
      case 'GET ':
        return json(200, {
          subscriptions: Object.keys(s.subscriptions).length,
          resourceGroups: Object.keys(s.resourceGroups).length,
          virtualMachines: Object.keys(s.vms).length,
          disks: Object.keys(s.disks).length,
          vaults: Object.keys(s.vaults).length,
          deletedVaults: Object.keys(s.deletedVaults).length,
          systemTopics: Object.keys(s.systemTopics).length,
          customTopics: Object.keys(s.customTopics).length,
          eventSubscriptions: Object.keys(s.eventSubscriptions).length,
          roleAssignments: Object.keys(s.roleAssignments).length,
          operationsInProgress: Object.values(s.operations).filter((o) => o.status === 'InProgress').length,
        });
      case 'POST managementgroups':
        return json(201, this.seedManagementGroup(bodyObject(req)));
      case 'GET managementgroups':
        return json(200, { value: Object.values(s.managementGroups ?? {}) });
      case 'POST subscriptions':
        return json(201, this.seedSubscription(bodyObject(req)));
      case 'GET subscriptions':
        return json(200, { value: Object.values(s.subscriptions) });
      case 'POST resourcegroups': {
        const b = bodyObject(req);
        this.core.subscription(String(b.subscriptionId ?? ''));
        const rg = this.resources.ensureResourceGroup(
          String(b.subscriptionId),
          String(b.name ?? ''),
          String(b.location ?? 'westeurope'),
          isObject(b.tags) ? (b.tags as Record<string, string>) : {},
        );
        return json(201, { id: rg.id });
      }
      case 'POST vms':
        return json(201, this.seedVms(bodyObject(req)));
      case 'GET vms/guest': {
        const vm = s.vms[key(req.query.get('id') ?? '')];
        if (!vm) throw armError(404, 'NotFound', `No VM with id '${(req.query.get('id') ?? '').slice(0, 200)}'.`);
        const disks = [vm.osDiskId, ...vm.dataDisks.map((d) => d.diskId)].map((id) => s.disks[key(id)]).filter((d) => d !== undefined);
        return json(200, {
          id: vm.id,
          osType: vm.osType,
          powerState: vm.powerState,
          guest: vm.guest,
          disks: disks.map((d) => ({
            id: d.id,
            encryptionState: d.encryptionState,
            encryptionSettingsCollection: d.encryptionSettingsCollection ?? null,
          })),
        });
      }
      case 'POST vms/deletebek': {
        const b = bodyObject(req);
        const vm = s.vms[key(String(b.id ?? ''))];
        if (!vm) throw armError(404, 'NotFound', `No VM with id '${String(b.id ?? '').slice(0, 200)}'.`);
        const removed = vm.guest.bekFiles.length;
        vm.guest.bekFiles = [];
        return json(200, { id: vm.id, removed });
      }
      case 'POST vaults':
        return json(201, this.seedVault(bodyObject(req)));
      case 'POST roleassignments':
        return json(201, this.seedRoleAssignment(bodyObject(req)));
      case 'GET roleassignments': {
        const principal = req.query.get('principalId');
        return json(200, { value: Object.values(s.roleAssignments).filter((a) => !principal || eq(a.principalId, principal)) });
      }
      case 'GET config':
        return json(200, { throttling: this.core.throttle.config, durations: this.core.durations });
      case 'PUT config':
      case 'PATCH config': {
        const b = bodyObject(req);
        if (isObject(b.durations)) {
          for (const [name, value] of Object.entries(b.durations)) {
            if (!(name in this.core.durations))
              throw armError(
                400,
                'InvalidConfig',
                `Unknown duration '${name.slice(0, 40)}'. Known: ${Object.keys(this.core.durations).join(', ')}.`,
              );
            if (typeof value !== 'number' || !(value >= 0) || value > 7 * 86_400_000)
              throw armError(400, 'InvalidConfig', `Duration '${name}' must be a number of milliseconds between 0 and 7 days.`);
            this.core.durations[name as keyof Durations] = value;
          }
        }
        if (isObject(b.throttling)) {
          const t = b.throttling;
          if (typeof t.enabled === 'boolean') this.core.throttle.config.enabled = t.enabled;
          for (const cls of ['reads', 'writes', 'deletes'] as OperationClass[]) {
            const limit = t[cls];
            if (limit === undefined) continue;
            if (!isObject(limit) || !(Number(limit.bucketSize) >= 1) || !(Number(limit.refillPerSecond) >= 0)) {
              throw armError(400, 'InvalidConfig', `throttling.${cls} needs bucketSize ≥ 1 and refillPerSecond ≥ 0.`);
            }
            this.core.throttle.config[cls] = { bucketSize: Number(limit.bucketSize), refillPerSecond: Number(limit.refillPerSecond) };
          }
          this.core.throttle.reset();
        }
        return json(200, { throttling: this.core.throttle.config, durations: this.core.durations });
      }
      case 'PUT eventgrid/functionapps': {
        const b = bodyObject(req);
        const target = String(b.resourceId ?? b.name ?? '');
        if (!target) throw armError(400, 'InvalidConfig', "Give the function app as 'resourceId' or 'name'.");
        if (b.url !== undefined && !/^https?:\/\//.test(String(b.url)))
          throw armError(400, 'InvalidConfig', "'url' must be an http(s) base URL, e.g. http://127.0.0.1:7071.");
        if (b.code !== undefined && typeof b.code !== 'string')
          throw armError(400, 'InvalidConfig', "'code' must be the function app's Event Grid system key (a string).");
        link.setFunctionApp(target, b.url === undefined ? undefined : String(b.url), b.code);
        return json(200, { functionApp: target, url: b.url ?? null });
      }
      case 'PUT eventgrid/copies': {
        const n = bodyObject(req).copies;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10)
          throw armError(400, 'InvalidConfig', "'copies' must be an integer 1–10 (deliveries of each event per subscription).");
        link.setDeliveryCopies(n);
        return json(200, { copies: n });
      }
      case 'GET eventgrid/deliveries':
        return json(200, link.deliveryReport());
      case 'DELETE eventgrid/deliveries':
        link.clearDeliveryReport();
        return { status: 204 };
      case 'POST policy/states':
        return json(200, this.recordPolicyState(bodyObject(req)));
      case 'GET policy/states':
        return json(200, { value: Object.values(s.policyStates ?? {}) });
      case 'POST eventgrid/publish': {
        const b = bodyObject(req);
        if (typeof b.source !== 'string' || !Array.isArray(b.events))
          throw armError(400, 'InvalidRequest', "Body needs 'source' (an ARM id) and 'events' (Event Grid schema events).");
        this.core.publish(b.source, b.events as GridEvent[]);
        return json(202, { published: b.events.length });
      }
      default:
        return undefined;
    }
  }

  /** A management group `{name, displayName?, parent?, subscriptions?}`; a subscription sits in one group only (moved here). */
  private seedManagementGroup(b: Record<string, any>): Record<string, unknown> {
    const name = String(b.name ?? '');
    if (!/^[A-Za-z0-9_().-]{1,90}$/.test(name))
      throw armError(400, 'InvalidManagementGroupName', `'name' must be 1–90 letters, digits, _ ( ) - or ., got '${name.slice(0, 100)}'.`);
    const groups = (this.core.state.managementGroups ??= {});
    const parent = b.parent === undefined ? undefined : String(b.parent);
    if (parent !== undefined && !groups[parent.toLowerCase()])
      throw armError(404, 'ManagementGroupNotFound', `The parent management group '${parent.slice(0, 90)}' was not found.`);
    const subscriptions = Array.isArray(b.subscriptions) ? b.subscriptions.map(String) : [];
    for (const id of subscriptions) {
      this.core.subscription(id);
      for (const g of Object.values(groups)) g.subscriptions = g.subscriptions.filter((x) => !eq(x, id));
    }
    const record = {
      name,
      displayName: String(b.displayName ?? name),
      ...(parent !== undefined ? { parent } : {}),
      subscriptions: [...(groups[name.toLowerCase()]?.subscriptions ?? []), ...subscriptions],
    };
    groups[name.toLowerCase()] = record;
    return { id: `/providers/Microsoft.Management/managementGroups/${name}`, ...record };
  }

  private seedSubscription(b: Record<string, any>): Record<string, unknown> {
    const subscriptionId = String(b.subscriptionId ?? randomUUID());
    const tenantId = String(b.tenantId ?? this.core.ctx.directory?.tenantId ?? '');
    if (!/^[0-9a-f-]{36}$/i.test(subscriptionId))
      throw armError(400, 'InvalidSubscriptionId', `The subscription id '${subscriptionId.slice(0, 40)}' must be a GUID.`);
    if (!/^[0-9a-f-]{36}$/i.test(tenantId))
      throw armError(400, 'InvalidTenantId', 'A tenantId (GUID) is required when the directory is not mounted.');
    this.core.state.subscriptions[key(subscriptionId)] = {
      subscriptionId,
      tenantId,
      displayName: String(b.displayName ?? `Simulated subscription ${subscriptionId.slice(0, 8)}`),
      state: b.state === 'Disabled' ? 'Disabled' : 'Enabled',
    };
    return { subscriptionId, tenantId };
  }

  private seedVms(b: Record<string, any>): Record<string, unknown> {
    const subscriptionId = String(b.subscriptionId ?? '');
    this.core.subscription(subscriptionId);
    const resourceGroup = String(b.resourceGroup ?? '');
    const location = normalizeLocation(String(b.location ?? 'westeurope'));
    this.resources.ensureResourceGroup(subscriptionId, resourceGroup, location);
    const count = Number(b.count ?? 1);
    if (!Number.isInteger(count) || count < 1 || count > MAX_BULK_VMS)
      throw armError(400, 'InvalidRequest', `count must be an integer between 1 and ${MAX_BULK_VMS}.`);
    const osType = eq(String(b.osType ?? 'Windows'), 'linux') ? 'Linux' : 'Windows';
    const dataDisks = Number(b.dataDisks ?? 0);
    if (!Number.isInteger(dataDisks) || dataDisks < 0 || dataDisks > 16)
      throw armError(400, 'InvalidRequest', 'dataDisks must be an integer between 0 and 16.');
    const prefix = String(b.namePrefix ?? 'vm');
    const start = Number(b.startIndex ?? Object.keys(this.core.state.vms).length);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = count === 1 && b.name ? String(b.name) : `${prefix}${start + i}`;
      const vm = this.compute.createVmRecord(
        subscriptionId,
        resourceGroup,
        name,
        {
          location,
          tags: isObject(b.tags) ? b.tags : {},
          properties: {
            hardwareProfile: { vmSize: String(b.vmSize ?? 'Standard_D2s_v5') },
            ...(b.encryptionAtHost === true ? { securityProfile: { encryptionAtHost: true } } : {}),
            storageProfile: {
              osDisk: { osType, createOption: 'FromImage' },
              dataDisks: Array.from({ length: dataDisks }, (_, lun) => ({
                lun,
                createOption: 'Empty',
                diskSizeGB: Number(b.dataDiskSizeGB ?? 128),
              })),
            },
            osProfile: {
              computerName: name.slice(0, 15),
              adminUsername: 'azureuser',
              ...(osType === 'Windows' ? { windowsConfiguration: {} } : { linuxConfiguration: {} }),
            },
          },
        },
        'Succeeded',
      );
      if (b.powerState === 'deallocated' || b.powerState === 'stopped') vm.powerState = b.powerState;
      ids.push(vm.id);
    }
    return { count: ids.length, ids };
  }

  /**
   * Records a policy evaluation result and raises what Azure Policy raises for it: PolicyStateCreated the
   * first time a resource has a state for an assignment + definition (+ reference id), PolicyStateChanged
   * when the compliance state differs from the recorded one, nothing when it is the same
   * (https://learn.microsoft.com/azure/event-grid/event-schema-policy).
   */
  private recordPolicyState(b: Record<string, unknown>): { state: PolicyStateRecord; published: string | null } {
    const text = (name: string, required: boolean): string => {
      const value = b[name];
      if (value === undefined || value === null || value === '') {
        if (required) throw armError(400, 'InvalidRequest', `Body needs '${name}'.`);
        return '';
      }
      if (typeof value !== 'string') throw armError(400, 'InvalidRequest', `'${name}' must be a string.`);
      return value;
    };
    const resourceId = text('resourceId', true);
    const sub = /^\/subscriptions\/([0-9a-f-]{36})\//i.exec(resourceId);
    if (!sub)
      throw armError(
        400,
        'InvalidRequest',
        `'resourceId' must be an ARM id under /subscriptions/<id>/ (got '${resourceId.slice(0, 200)}').`,
      );
    const subscriptionId = this.core.subscription(sub[1]!).subscriptionId;
    const policyAssignmentId = text('policyAssignmentId', true);
    const policyDefinitionId = text('policyDefinitionId', true);
    const complianceState = text('complianceState', true);
    if (!['Compliant', 'NonCompliant', 'Unknown', 'Exempt', 'Conflict', 'NotStarted', 'Protected'].includes(complianceState)) {
      throw armError(
        400,
        'InvalidRequest',
        `'complianceState' must be Compliant, NonCompliant, Unknown, Exempt, Conflict, NotStarted or ` +
          `Protected (got '${complianceState.slice(0, 40)}').`,
      );
    }
    const timestamp = text('timestamp', false) || this.core.nowIso();
    if (Number.isNaN(Date.parse(timestamp)))
      throw armError(400, 'InvalidRequest', `'timestamp' must be an ISO 8601 time (got '${timestamp.slice(0, 40)}').`);
    const state: PolicyStateRecord = {
      resourceId,
      policyAssignmentId,
      policyDefinitionId,
      subscriptionId,
      complianceState,
      timestamp,
      policyDefinitionReferenceId: text('policyDefinitionReferenceId', false),
      complianceReasonCode: text('complianceReasonCode', false),
    };
    const states = (this.core.state.policyStates ??= {});
    const id = key([resourceId, policyAssignmentId, policyDefinitionId, state.policyDefinitionReferenceId].join('|'));
    const previous = states[id];
    states[id] = state;
    const kind = !previous ? 'Created' : previous.complianceState !== complianceState ? 'Changed' : undefined;
    if (!kind) return { state, published: null };
    const event = policyStateEvent(kind, state, this.core.nowIso());
    this.core.publish(`/subscriptions/${subscriptionId}`, [event]);
    return { state, published: event.eventType };
  }

  private seedVault(b: Record<string, any>): Record<string, unknown> {
    const subscriptionId = String(b.subscriptionId ?? '');
    const sub = this.core.subscription(subscriptionId);
    const resourceGroup = String(b.resourceGroup ?? '');
    const location = normalizeLocation(String(b.location ?? 'westeurope'));
    this.resources.ensureResourceGroup(subscriptionId, resourceGroup, location);
    const name = String(b.name ?? '');
    const problem = vaultNameProblem(name);
    if (problem) throw armError(400, 'VaultNameNotValid', problem);
    if (this.keyVault.findVault(name) || this.core.state.deletedVaults[name.toLowerCase()])
      throw armError(409, 'VaultAlreadyExists', `The vault name '${name.slice(0, 40)}' is already in use.`);
    const id = resourceId(subscriptionId, resourceGroup, 'Microsoft.KeyVault', 'vaults', name);
    const vault: VaultRecord = {
      id,
      name,
      subscriptionId,
      resourceGroup,
      location,
      tenantId: sub.tenantId,
      vaultUri: `https://${name.toLowerCase()}.vault.azure.net/`,
      enabledForDiskEncryption: b.enabledForDiskEncryption === true,
      enabledForDeployment: false,
      enabledForTemplateDeployment: false,
      enableSoftDelete: true,
      softDeleteRetentionInDays: Number(b.softDeleteRetentionInDays ?? 90),
      enablePurgeProtection: b.enablePurgeProtection === true,
      enableRbacAuthorization: false,
      accessPolicies: Array.isArray(b.accessPolicies) ? b.accessPolicies : [],
      tags: isObject(b.tags) ? b.tags : {},
    };
    this.core.state.vaults[key(id)] = vault;
    return { id, vaultUri: vault.vaultUri };
  }
}
