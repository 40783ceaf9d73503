/**
 * Microsoft.Compute/virtualMachineScaleSets: create/get/update/list, the model's extensions (as part of the model and as
 * the `extensions` child), upgrade policy (Automatic and Rolling apply a model change to the instances, Manual waits for
 * `manualupgrade`), Uniform instances (`virtualMachines`, `$expand=instanceView`, `instanceView`). Flexible sets hold
 * standard VMs (created with `virtualMachineScaleSet.id`), which take VM extensions, not the scale set's.
 * Shapes follow https://learn.microsoft.com/rest/api/compute/virtual-machine-scale-sets and
 * https://learn.microsoft.com/rest/api/compute/virtual-machine-scale-set-vms; ADE on scale sets follows
 * https://learn.microsoft.com/azure/virtual-machine-scale-sets/disk-encryption-overview (managed disks; Windows OS and
 * data volumes; Linux data volumes only; the single-pass extension versions).
 */
import type { SimResponse } from '../contract';
import { adeKindOf, runAdeExtension } from '../guest';
import type { Compute } from './compute';
import { extensionIdentity, extensionJson, invalidType, memoryOf, methodNotAllowed, statusOf } from './compute';
import type { ArmCore, RequestScope } from './core';
import {
  armError,
  bodyObject,
  eq,
  isObject,
  json,
  key,
  newGuid,
  normalizeLocation,
  resourceId,
  stringRecord,
  truncate,
  validateName,
} from './http';
import type { ArmPath } from './http';
import type { DiskRecord, ExtensionRecord, ScaleSetInstanceRecord, ScaleSetRecord } from './state';

const VMSS_TYPE = 'Microsoft.Compute/virtualMachineScaleSets';
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Rolling upgrades update at most this share of the instances per batch (`maxBatchInstancePercent` default). */
const ROLLING_BATCH_PERCENT = 20;

export class ScaleSets {
  constructor(
    private readonly core: ArmCore,
    private readonly compute: Compute,
  ) {}

  private get sets(): Record<string, ScaleSetRecord> {
    return (this.core.state.scaleSets ??= {});
  }
  private get instances(): Record<string, ScaleSetInstanceRecord> {
    return (this.core.state.scaleSetVms ??= {});
  }
  private get disks(): Record<string, DiskRecord> {
    return (this.core.state.scaleSetDisks ??= {});
  }

  async handle(path: ArmPath, scope: RequestScope, subscriptionId: string): Promise<SimResponse> {
    const { req } = scope;
    const types = path.types.map((t) => t.toLowerCase());
    if (!path.resourceGroup) {
      if (types.length === 1 && path.collection && req.method === 'GET') return this.list(subscriptionId);
      throw invalidType(path);
    }
    this.core.resourceGroup(subscriptionId, path.resourceGroup);
    if (types.length === 1 && path.collection) {
      if (req.method !== 'GET') throw methodNotAllowed(req.method);
      return this.list(subscriptionId, path.resourceGroup);
    }
    const name = path.names[0]!;
    if (types.length === 1) return this.setVerb(scope, subscriptionId, path.resourceGroup, name);
    const set = this.set(subscriptionId, path.resourceGroup, name);
    if (types[1] === 'extensions') {
      if (types.length === 2 && path.collection) {
        if (req.method !== 'GET') throw methodNotAllowed(req.method);
        return json(200, { value: Object.values(set.extensions).map((e) => this.modelExtensionJson(set, e)) });
      }
      if (types.length === 2) return this.extensionVerb(scope, set, path.names[1]!);
    }
    if (types[1] === 'virtualmachines') {
      if (types.length === 2 && path.collection) {
        if (req.method !== 'GET') throw methodNotAllowed(req.method);
        const expand = eq(req.query.get('$expand') ?? '', 'instanceView');
        return json(200, { value: this.members(set).map((i) => this.instanceJson(set, i, expand)) });
      }
      const instance = this.instance(set, path.names[1]!);
      if (types.length === 2) {
        if (req.method !== 'GET') throw methodNotAllowed(req.method);
        return json(200, this.instanceJson(set, instance, eq(req.query.get('$expand') ?? '', 'instanceView')));
      }
      if (types.length === 3 && types[2] === 'instanceview' && path.collection) {
        if (req.method !== 'GET') throw methodNotAllowed(req.method);
        return json(200, this.compute.instanceView(instance));
      }
    }
    if (types.length === 2 && path.collection) {
      if (types[1] === 'instanceview') {
        if (req.method !== 'GET') throw methodNotAllowed(req.method);
        return json(200, this.setInstanceView(set));
      }
      if (types[1] === 'manualupgrade') {
        if (req.method !== 'POST') throw methodNotAllowed(req.method);
        return this.manualUpgrade(scope, set, bodyObject(req));
      }
    }
    throw invalidType(path);
  }

  set(subscriptionId: string, resourceGroup: string, name: string): ScaleSetRecord {
    const set = this.sets[key(resourceId(subscriptionId, resourceGroup, 'Microsoft.Compute', 'virtualMachineScaleSets', name))];
    if (!set || set.provisioningState === 'Deleting') this.core.notFound(VMSS_TYPE, name, resourceGroup);
    return set;
  }

  /** A Flexible set a VM may join (`virtualMachineScaleSet.id` on create); Azure refuses Uniform sets and unknown ids. */
  flexibleSetFor(id: string): ScaleSetRecord {
    const set = this.sets[key(id)];
    if (!set) throw armError(404, 'NotFound', `The scale set '${truncate(id, 200)}' referenced by the VM was not found.`);
    if (set.orchestrationMode !== 'Flexible')
      throw armError(
        400,
        'InvalidParameter',
        `Virtual machine scale set '${set.name}' uses Uniform orchestration; only scale sets with Flexible orchestration ` +
          `can have standard VMs added (virtualMachineScaleSet.id).`,
      );
    return set;
  }

  private instance(set: ScaleSetRecord, instanceId: string): ScaleSetInstanceRecord {
    const found = this.members(set).find((i) => eq(i.instanceId, instanceId));
    if (!found) this.core.notFound(`${VMSS_TYPE}/virtualMachines`, `${set.name}/${instanceId}`, set.resourceGroup);
    return found;
  }

  /** Uniform: the set's instances. Flexible: its standard VMs, shown through the scale set VM API. */
  private members(set: ScaleSetRecord): ScaleSetInstanceRecord[] {
    if (set.orchestrationMode === 'Uniform') return Object.values(this.instances).filter((i) => eq(i.scaleSetId, set.id));
    return Object.values(this.core.state.vms)
      .filter((vm) => vm.virtualMachineScaleSetId !== undefined && eq(vm.virtualMachineScaleSetId, set.id))
      .map((vm) => ({ ...vm, scaleSetId: set.id, instanceId: vm.name, modelVersion: set.modelVersion }));
  }

  private list(subscriptionId: string, resourceGroup?: string): SimResponse {
    const prefix = `/subscriptions/${subscriptionId}/${resourceGroup ? `resourcegroups/${resourceGroup}/` : ''}`.toLowerCase();
    return json(200, {
      value: Object.values(this.sets)
        .filter((s) => key(s.id).startsWith(prefix) && s.provisioningState !== 'Deleting')
        .map((s) => this.setJson(s)),
    });
  }

  private setVerb(scope: RequestScope, subscriptionId: string, resourceGroup: string, name: string): SimResponse {
    const { req } = scope;
    switch (req.method) {
      case 'GET':
        return json(200, this.setJson(this.set(subscriptionId, resourceGroup, name)));
      case 'PUT': {
        const id = resourceId(subscriptionId, resourceGroup, 'Microsoft.Compute', 'virtualMachineScaleSets', name);
        const existing = this.sets[key(id)];
        if (existing && existing.provisioningState !== 'Deleting') return this.update(scope, existing, bodyObject(req), false);
        return this.create(scope, subscriptionId, resourceGroup, name, bodyObject(req));
      }
      case 'PATCH':
        return this.update(scope, this.set(subscriptionId, resourceGroup, name), bodyObject(req), true);
      default:
        throw methodNotAllowed(req.method);
    }
  }

  // ---- create / update ----------------------------------------------------------------------------

  private create(scope: RequestScope, subscriptionId: string, resourceGroup: string, name: string, body: Record<string, any>): SimResponse {
    validateName(name, 'a virtual machine scale set', NAME_PATTERN, 64);
    const location = typeof body.location === 'string' ? normalizeLocation(body.location) : '';
    if (!location) throw armError(400, 'LocationRequired', 'The location property is required for this definition.');
    const props = isObject(body.properties) ? body.properties : {};
    const modeIn = props.orchestrationMode ?? 'Uniform';
    if (!eq(String(modeIn), 'Uniform') && !eq(String(modeIn), 'Flexible'))
      throw armError(
        400,
        'InvalidParameter',
        `The value '${truncate(String(modeIn), 20)}' of parameter 'orchestrationMode' is not allowed. ` +
          `Allowed values are 'Uniform' and 'Flexible'.`,
      );
    const orchestrationMode = eq(String(modeIn), 'Flexible') ? 'Flexible' : 'Uniform';
    const upgradeMode = parseUpgradeMode(props.upgradePolicy?.mode);
    const profileIn = isObject(props.virtualMachineProfile) ? props.virtualMachineProfile : undefined;
    if (orchestrationMode === 'Uniform' && !profileIn)
      throw armError(400, 'InvalidParameter', "Required parameter 'virtualMachineProfile' is missing (null).");
    if (orchestrationMode === 'Flexible') {
      if (props.singlePlacementGroup === true)
        throw armError(
          400,
          'InvalidParameter',
          "Parameter 'singlePlacementGroup' must be false for scale sets with Flexible orchestration.",
        );
      if (typeof props.platformFaultDomainCount !== 'number')
        throw armError(400, 'InvalidParameter', "Required parameter 'platformFaultDomainCount' is missing (null).");
    }
    const skuName = typeof body.sku?.name === 'string' ? body.sku.name : undefined;
    if (profileIn && !skuName) throw armError(400, 'InvalidParameter', "Required parameter 'sku.name' is missing (null).");
    if (skuName && !/^(Standard|Basic)_[A-Za-z0-9_]+$/i.test(skuName))
      throw armError(400, 'InvalidParameter', `The value '${truncate(skuName, 40)}' of parameter 'sku.name' is not allowed.`);
    const capacity = body.sku?.capacity ?? (profileIn ? 2 : 0);
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > 1000)
      throw armError(400, 'InvalidParameter', `The value of parameter 'sku.capacity' must be an integer from 0 to 1000.`);
    const id = resourceId(subscriptionId, resourceGroup, 'Microsoft.Compute', 'virtualMachineScaleSets', name);
    const set: ScaleSetRecord = {
      id,
      name,
      subscriptionId,
      resourceGroup,
      location,
      tags: stringRecord(body.tags, 'tags'),
      uniqueId: newGuid(),
      orchestrationMode,
      upgradeMode,
      ...(skuName ? { skuName } : {}),
      capacity,
      ...(typeof props.singlePlacementGroup === 'boolean' ? { singlePlacementGroup: props.singlePlacementGroup } : {}),
      ...(typeof props.platformFaultDomainCount === 'number' ? { platformFaultDomainCount: props.platformFaultDomainCount } : {}),
      extensions: {},
      modelVersion: 1,
      provisioningState: 'Creating',
      timeCreated: this.core.nowIso(),
    };
    if (profileIn) {
      set.profile = parseProfile(profileIn, name);
      set.extensions = this.parseExtensions(set, profileIn.extensionProfile, undefined);
    }
    this.sets[key(id)] = set;
    if (orchestrationMode === 'Uniform') for (let i = 0; i < capacity; i++) this.createInstance(set, String(i), 'Creating');
    const op = this.core.startOperation(this.core.durations.vmCreate, id);
    const generation = this.core.generation;
    this.core.emit('Write', scope, subscriptionId, id, `${VMSS_TYPE}/write`);
    this.core.background(`create ${id}`, async () => {
      await this.core.sleep(this.core.durations.vmCreate, generation);
      const current = this.sets[key(id)];
      if (!current) return;
      for (const i of this.members(current)) {
        i.provisioningState = 'Succeeded';
        i.powerState = 'running';
      }
      current.provisioningState = 'Succeeded';
      this.core.completeOperation(op);
      this.core.emit('Write', scope, subscriptionId, id, `${VMSS_TYPE}/write`);
      // Extensions in the model at creation run on each new instance.
      if (Object.keys(current.extensions).length > 0) await this.upgrade(current, this.members(current), generation);
    });
    return json(201, this.setJson(set), this.core.lroHeaders(op, subscriptionId, 'Microsoft.Compute', location, scope.apiVersion, false));
  }

  private createInstance(set: ScaleSetRecord, instanceId: string, provisioningState: ScaleSetInstanceRecord['provisioningState']): void {
    const profile = set.profile!;
    const id = `${set.id}/virtualMachines/${instanceId}`;
    const disk = (name: string, sizeGB: number, sku: string, osType?: 'Windows' | 'Linux'): DiskRecord => {
      const d: DiskRecord = {
        id: resourceId(set.subscriptionId, set.resourceGroup, 'Microsoft.Compute', 'disks', name),
        name,
        subscriptionId: set.subscriptionId,
        resourceGroup: set.resourceGroup,
        location: set.location,
        tags: {},
        ...(osType ? { osType } : {}),
        diskSizeGB: sizeGB,
        sku,
        managedBy: id,
        timeCreated: this.core.nowIso(),
        encryptionState: 'notEncrypted',
      };
      this.disks[key(d.id)] = d;
      return d;
    };
    const suffix = set.uniqueId.replace(/-/g, '').slice(0, 32);
    const osDisk = disk(
      `${set.name}_${instanceId}_OsDisk_1_${suffix}`,
      profile.osDisk.diskSizeGB ?? (profile.osType === 'Windows' ? 127 : 30),
      profile.osDisk.storageAccountType,
      profile.osType,
    );
    const vmSize = set.skuName ?? 'Standard_D2s_v5';
    this.instances[key(id)] = {
      id,
      name: `${set.name}_${instanceId}`,
      subscriptionId: set.subscriptionId,
      resourceGroup: set.resourceGroup,
      location: set.location,
      tags: {},
      vmId: newGuid(),
      vmSize,
      osType: profile.osType,
      computerName: `${profile.computerNamePrefix}${Number(instanceId).toString(36).padStart(6, '0')}`,
      adminUsername: profile.adminUsername,
      imageReference: profile.imageReference,
      osDiskId: osDisk.id,
      dataDisks: profile.dataDisks.map((d) => ({
        lun: d.lun,
        diskId: disk(`${set.name}_${instanceId}_disk${d.lun + 2}_${suffix}`, d.diskSizeGB, d.storageAccountType).id,
        caching: 'None',
        createOption: 'Empty',
      })),
      networkInterfaces: [],
      securityProfile: profile.securityProfile,
      provisioningState,
      powerState: provisioningState === 'Succeeded' ? 'running' : 'starting',
      timeCreated: this.core.nowIso(),
      extensions: {},
      guest: { bekFiles: [], boot: 'ok' },
      memoryGB: memoryOf(vmSize),
      scaleSetId: set.id,
      instanceId,
      modelVersion: set.modelVersion,
    };
  }

  private update(scope: RequestScope, set: ScaleSetRecord, body: Record<string, any>, isPatch: boolean): SimResponse {
    if (typeof body.location === 'string' && normalizeLocation(body.location) !== set.location)
      throw armError(409, 'PropertyChangeNotAllowed', "Changing property 'location' is not allowed.");
    const props = isObject(body.properties) ? body.properties : {};
    if (props.orchestrationMode !== undefined && !eq(String(props.orchestrationMode), set.orchestrationMode))
      throw armError(409, 'PropertyChangeNotAllowed', "Changing property 'orchestrationMode' is not allowed.");
    this.refuseWhileUpdating(set);
    if (body.tags !== undefined) set.tags = stringRecord(body.tags, 'tags');
    else if (!isPatch) set.tags = {};
    if (props.upgradePolicy?.mode !== undefined) set.upgradeMode = parseUpgradeMode(props.upgradePolicy.mode);
    const extensionProfile = props.virtualMachineProfile?.extensionProfile;
    let modelChanged = false;
    if (extensionProfile !== undefined) {
      if (!set.profile)
        throw armError(
          400,
          'InvalidParameter',
          `Scale set '${set.name}' has no virtual machine profile; add extensions to its VMs (Flexible orchestration).`,
        );
      const next = this.parseExtensions(set, extensionProfile, set.extensions);
      modelChanged = JSON.stringify(fingerprint(next)) !== JSON.stringify(fingerprint(set.extensions));
      set.extensions = next;
    }
    return this.saveModel(scope, set, modelChanged);
  }

  /** Commits a model change as one operation; Automatic and Rolling sets then bring their instances to the model. */
  private saveModel(scope: RequestScope, set: ScaleSetRecord, modelChanged: boolean): SimResponse {
    if (modelChanged) set.modelVersion += 1;
    set.provisioningState = 'Updating';
    const op = this.core.startOperation(this.core.durations.vmUpdate, set.id);
    const generation = this.core.generation;
    this.core.background(`update ${set.id}`, async () => {
      await this.core.sleep(this.core.durations.vmUpdate, generation);
      const current = this.sets[key(set.id)];
      if (!current) return;
      current.provisioningState = 'Succeeded';
      this.core.completeOperation(op);
      this.core.emit('Write', scope, set.subscriptionId, set.id, `${VMSS_TYPE}/write`, { existing: true });
      if (modelChanged && current.orchestrationMode === 'Uniform' && current.upgradeMode !== 'Manual') {
        const stale = this.members(current).filter((i) => i.modelVersion < current.modelVersion);
        if (current.upgradeMode === 'Automatic') await this.upgrade(current, stale, generation);
        else {
          const batch = Math.max(1, Math.floor((stale.length * ROLLING_BATCH_PERCENT) / 100));
          for (let i = 0; i < stale.length; i += batch) await this.upgrade(current, stale.slice(i, i + batch), generation);
        }
      }
    });
    return json(
      200,
      this.setJson(set),
      this.core.lroHeaders(op, set.subscriptionId, 'Microsoft.Compute', set.location, scope.apiVersion, false),
    );
  }

  private refuseWhileUpdating(set: ScaleSetRecord): void {
    if (set.provisioningState === 'Creating' || set.provisioningState === 'Updating')
      throw armError(
        409,
        'OperationNotAllowed',
        `Operation 'Update' is not allowed on scale set '${set.name}' since another operation is in progress. Please try again later.`,
      );
  }

  private parseExtensions(
    set: ScaleSetRecord,
    extensionProfile: unknown,
    previous: Record<string, ExtensionRecord> | undefined,
  ): Record<string, ExtensionRecord> {
    if (extensionProfile === undefined || extensionProfile === null) return {};
    if (!isObject(extensionProfile) || (extensionProfile.extensions !== undefined && !Array.isArray(extensionProfile.extensions)))
      throw armError(400, 'InvalidParameter', "The value of parameter 'extensionProfile.extensions' must be an array.");
    const out: Record<string, ExtensionRecord> = {};
    for (const raw of (extensionProfile.extensions ?? []) as unknown[]) {
      const e = isObject(raw) ? raw : {};
      const name = typeof e.name === 'string' ? e.name : '';
      if (!name) throw armError(400, 'InvalidParameter', "Required parameter 'extensionProfile.extensions[].name' is missing (null).");
      validateName(name, 'a scale set extension', NAME_PATTERN, 64);
      out[name.toLowerCase()] = this.extensionRecord(set, name, isObject(e.properties) ? e.properties : {}, previous?.[name.toLowerCase()]);
    }
    return out;
  }

  private extensionRecord(
    set: ScaleSetRecord,
    name: string,
    props: Record<string, any>,
    existing: ExtensionRecord | undefined,
  ): ExtensionRecord {
    const { publisher, type, typeHandlerVersion } = extensionIdentity(props, existing);
    return {
      id: `${set.id}/extensions/${name}`,
      name,
      location: set.location,
      publisher,
      type,
      typeHandlerVersion,
      autoUpgradeMinorVersion: props.autoUpgradeMinorVersion ?? existing?.autoUpgradeMinorVersion ?? true,
      ...(props.forceUpdateTag !== undefined ? { forceUpdateTag: String(props.forceUpdateTag) } : {}),
      settings: props.settings ?? {},
      ...(props.protectedSettings !== undefined ? { protectedSettings: props.protectedSettings } : {}),
      provisioningState: 'Succeeded',
      statuses: [],
      substatuses: [],
      tags: {},
    };
  }

  private extensionVerb(scope: RequestScope, set: ScaleSetRecord, name: string): SimResponse {
    const { req } = scope;
    const existing = set.extensions[name.toLowerCase()];
    switch (req.method) {
      case 'GET':
        if (!existing) this.core.notFound(`${VMSS_TYPE}/extensions`, `${set.name}/${name}`, set.resourceGroup);
        return json(200, this.modelExtensionJson(set, existing));
      case 'PUT':
      case 'PATCH': {
        if (!set.profile)
          throw armError(400, 'InvalidParameter', `Scale set '${set.name}' has no virtual machine profile; add extensions to its VMs.`);
        if (req.method === 'PATCH' && !existing) this.core.notFound(`${VMSS_TYPE}/extensions`, `${set.name}/${name}`, set.resourceGroup);
        this.refuseWhileUpdating(set);
        validateName(name, 'a scale set extension', NAME_PATTERN, 64);
        const body = bodyObject(req);
        const next = this.extensionRecord(set, name, isObject(body.properties) ? body.properties : {}, existing);
        const changed = JSON.stringify(fingerprint({ x: next })) !== JSON.stringify(fingerprint(existing ? { x: existing } : {}));
        set.extensions[name.toLowerCase()] = next;
        const response = this.saveModel(scope, set, changed);
        return { ...response, status: existing ? 200 : 201, body: this.modelExtensionJson(set, next) };
      }
      default:
        throw methodNotAllowed(req.method);
    }
  }

  private manualUpgrade(scope: RequestScope, set: ScaleSetRecord, body: Record<string, any>): SimResponse {
    if (set.orchestrationMode === 'Flexible')
      throw armError(
        400,
        'OperationNotAllowed',
        `Operation 'manualUpgrade' is not supported for scale set '${set.name}' with Flexible orchestration; update its VMs directly.`,
      );
    if (!Array.isArray(body.instanceIds) || body.instanceIds.length === 0 || !body.instanceIds.every((x: unknown) => typeof x === 'string'))
      throw armError(400, 'InvalidParameter', "Required parameter 'instanceIds' is missing or empty: list the instance ids to upgrade.");
    const members = this.members(set);
    const targets = (body.instanceIds as string[]).map((instanceId) => {
      const found = members.find((i) => eq(i.instanceId, instanceId));
      if (!found)
        throw armError(
          400,
          'InvalidParameter',
          `Instance id '${truncate(instanceId, 20)}' is not a valid instance of virtual machine scale set '${set.name}'.`,
        );
      return found;
    });
    const op = this.core.startOperation(this.core.durations.adeWindows, set.id);
    const generation = this.core.generation;
    this.core.background(`manualUpgrade ${set.id}`, async () => {
      const errors = await this.upgrade(set, targets, generation);
      this.core.completeOperation(
        op,
        errors.length > 0
          ? { code: 'VMExtensionProvisioningError', message: errors.map((e) => `Instance ${e.instanceId}: ${e.message}`).join(' ') }
          : undefined,
      );
    });
    return {
      status: 202,
      headers: this.core.lroHeaders(op, set.subscriptionId, 'Microsoft.Compute', set.location, scope.apiVersion, true),
    };
  }

  /** Brings instances to the model: the model's extensions run on each (ADE through the guest), concurrently. */
  private async upgrade(
    set: ScaleSetRecord,
    targets: ScaleSetInstanceRecord[],
    generation: number,
  ): Promise<Array<{ instanceId: string; message: string }>> {
    const version = set.modelVersion;
    const errors: Array<{ instanceId: string; message: string }> = [];
    await Promise.all(
      targets.map(async (target) => {
        const instance = this.instances[key(target.id)];
        if (!instance || instance.modelVersion >= version) return;
        instance.provisioningState = 'Updating';
        for (const model of Object.values(set.extensions)) {
          const extKey = model.name.toLowerCase();
          const previous = instance.extensions[extKey];
          const unchanged = previous && JSON.stringify(fingerprint({ x: previous })) === JSON.stringify(fingerprint({ x: model }));
          if (unchanged) continue;
          instance.extensions[extKey] = {
            ...structuredClone(model),
            id: `${instance.id}/extensions/${model.name}`,
            provisioningState: previous ? 'Updating' : 'Creating',
            statuses: previous?.statuses ?? [],
            substatuses: previous?.substatuses ?? [],
          };
          const kind = adeKindOf(model.publisher, model.type);
          let error: { code: string; message: string } | undefined;
          const refusal = kind ? adeRefusal(instance, model) : undefined;
          if (refusal) {
            await this.core.sleep(this.core.durations.extension / 10, generation);
            instance.extensions[extKey]!.statuses = [
              statusOf('ProvisioningState/failed', 'Error', 'Provisioning failed', refusal, this.core.nowIso()),
            ];
            error = { code: 'VMExtensionProvisioningError', message: refusal };
          } else if (kind) {
            error = (await runAdeExtension(this.compute.guestHost(), instance.id, extKey, generation)).error;
          } else {
            await this.core.sleep(this.core.durations.extension, generation);
            instance.extensions[extKey]!.statuses = [
              statusOf('ProvisioningState/succeeded', 'Info', 'Provisioning succeeded', undefined, this.core.nowIso()),
            ];
          }
          const current = this.instances[key(instance.id)]?.extensions[extKey];
          if (current) current.provisioningState = error ? 'Failed' : 'Succeeded';
          if (error) errors.push({ instanceId: instance.instanceId, message: error.message });
        }
        const current = this.instances[key(instance.id)];
        if (current) {
          current.modelVersion = version;
          current.provisioningState = errors.some((e) => e.instanceId === instance.instanceId) ? 'Failed' : 'Succeeded';
        }
      }),
    );
    return errors;
  }

  // ---- JSON shapes -------------------------------------------------------------------------------

  setJson(set: ScaleSetRecord): Record<string, unknown> {
    const properties: Record<string, unknown> = {
      orchestrationMode: set.orchestrationMode,
      upgradePolicy: { mode: set.upgradeMode },
      provisioningState: set.provisioningState,
      uniqueId: set.uniqueId,
      timeCreated: set.timeCreated,
    };
    if (set.singlePlacementGroup !== undefined) properties.singlePlacementGroup = set.singlePlacementGroup;
    if (set.platformFaultDomainCount !== undefined) properties.platformFaultDomainCount = set.platformFaultDomainCount;
    const p = set.profile;
    if (p) {
      properties.virtualMachineProfile = {
        osProfile: {
          computerNamePrefix: p.computerNamePrefix,
          adminUsername: p.adminUsername,
          ...(p.osType === 'Windows'
            ? { windowsConfiguration: { provisionVMAgent: true } }
            : { linuxConfiguration: { provisionVMAgent: true } }),
        },
        storageProfile: {
          imageReference: p.imageReference,
          osDisk: {
            osType: p.osType,
            createOption: 'FromImage',
            caching: p.osDisk.ephemeral ? 'ReadOnly' : 'ReadWrite',
            ...(p.osDisk.managed ? { managedDisk: { storageAccountType: p.osDisk.storageAccountType } } : { vhdContainers: [] }),
            ...(p.osDisk.ephemeral ? { diffDiskSettings: { option: 'Local' } } : {}),
            ...(p.osDisk.diskSizeGB !== undefined ? { diskSizeGB: p.osDisk.diskSizeGB } : {}),
          },
          dataDisks: p.dataDisks.map((d) => ({
            lun: d.lun,
            createOption: 'Empty',
            diskSizeGB: d.diskSizeGB,
            managedDisk: { storageAccountType: d.storageAccountType },
          })),
        },
        ...(p.securityProfile !== undefined ? { securityProfile: p.securityProfile } : {}),
        ...(Object.keys(set.extensions).length > 0
          ? { extensionProfile: { extensions: Object.values(set.extensions).map((e) => modelExtension(e)) } }
          : {}),
      };
    }
    const out: Record<string, unknown> = {
      name: set.name,
      id: set.id,
      type: VMSS_TYPE,
      location: set.location,
      tags: set.tags,
      properties,
    };
    if (set.skuName) out.sku = { name: set.skuName, tier: 'Standard', capacity: set.capacity };
    return out;
  }

  private modelExtensionJson(set: ScaleSetRecord, e: ExtensionRecord): Record<string, unknown> {
    return { ...modelExtension(e), id: `${set.id}/extensions/${e.name}`, type: `${VMSS_TYPE}/extensions` };
  }

  private instanceJson(set: ScaleSetRecord, instance: ScaleSetInstanceRecord, withInstanceView: boolean): Record<string, unknown> {
    const vm = this.compute.vmJson(instance, false) as { properties: Record<string, unknown>; resources?: unknown[] };
    const properties: Record<string, unknown> = {
      ...vm.properties,
      latestModelApplied: instance.modelVersion >= set.modelVersion,
    };
    if (withInstanceView) properties.instanceView = this.compute.instanceView(instance);
    const out: Record<string, unknown> = {
      name: `${set.name}_${instance.instanceId}`,
      id: set.orchestrationMode === 'Uniform' ? instance.id : `${set.id}/virtualMachines/${instance.name}`,
      type: `${VMSS_TYPE}/virtualMachines`,
      instanceId: instance.instanceId,
      location: instance.location,
      tags: instance.tags,
      properties,
    };
    if (set.skuName) out.sku = { name: set.skuName, tier: 'Standard' };
    const extensions = Object.values(instance.extensions);
    if (extensions.length > 0) out.resources = extensions.map((e) => extensionJson(e, false));
    return out;
  }

  private setInstanceView(set: ScaleSetRecord): Record<string, unknown> {
    const members = this.members(set);
    const counts = new Map<string, number>();
    for (const i of members) {
      const code = `ProvisioningState/${i.provisioningState.toLowerCase()}`;
      counts.set(code, (counts.get(code) ?? 0) + 1);
    }
    return {
      virtualMachine: { statusesSummary: [...counts].map(([code, count]) => ({ code, count })) },
      extensions: Object.values(set.extensions).map((e) => {
        const states = new Map<string, number>();
        for (const i of members) {
          const s = i.extensions[e.name.toLowerCase()]?.provisioningState ?? 'Creating';
          const code = `ProvisioningState/${s.toLowerCase()}`;
          states.set(code, (states.get(code) ?? 0) + 1);
        }
        return { name: e.name, statusesSummary: [...states].map(([code, count]) => ({ code, count })) };
      }),
      statuses: [
        statusOf(`ProvisioningState/${set.provisioningState.toLowerCase()}`, 'Info', set.provisioningState, undefined, this.core.nowIso()),
      ],
    };
  }
}

function parseUpgradeMode(raw: unknown): ScaleSetRecord['upgradeMode'] {
  if (raw === undefined || raw === null) return 'Manual';
  const mode = ['Automatic', 'Rolling', 'Manual'].find((m) => eq(m, String(raw)));
  if (!mode)
    throw armError(
      400,
      'InvalidParameter',
      `The value '${truncate(String(raw), 20)}' of parameter 'upgradePolicy.mode' is not allowed. ` +
        `Allowed values are 'Automatic', 'Rolling' and 'Manual'.`,
    );
  return mode as ScaleSetRecord['upgradeMode'];
}

function parseProfile(raw: Record<string, any>, setName: string): NonNullable<ScaleSetRecord['profile']> {
  const storage = isObject(raw.storageProfile) ? raw.storageProfile : {};
  const osDisk = isObject(storage.osDisk) ? storage.osDisk : {};
  const osProfile = isObject(raw.osProfile) ? raw.osProfile : {};
  const image = storage.imageReference;
  const publisher = isObject(image) && typeof image.publisher === 'string' ? image.publisher : '';
  const osType: 'Windows' | 'Linux' =
    typeof osDisk.osType === 'string'
      ? eq(osDisk.osType, 'windows')
        ? 'Windows'
        : 'Linux'
      : osProfile.windowsConfiguration || /windows/i.test(publisher)
        ? 'Windows'
        : 'Linux';
  const dataDisksIn: unknown[] = Array.isArray(storage.dataDisks) ? storage.dataDisks : [];
  return {
    osType,
    computerNamePrefix: typeof osProfile.computerNamePrefix === 'string' ? osProfile.computerNamePrefix : setName.slice(0, 9),
    adminUsername: typeof osProfile.adminUsername === 'string' ? osProfile.adminUsername : 'azureuser',
    imageReference: image,
    osDisk: {
      storageAccountType:
        typeof osDisk.managedDisk?.storageAccountType === 'string' ? osDisk.managedDisk.storageAccountType : 'Premium_LRS',
      managed: !Array.isArray(osDisk.vhdContainers),
      ephemeral: eq(String(osDisk.diffDiskSettings?.option ?? ''), 'Local'),
      ...(typeof osDisk.diskSizeGB === 'number' ? { diskSizeGB: osDisk.diskSizeGB } : {}),
    },
    dataDisks: dataDisksIn.filter(isObject).map((d, i) => ({
      lun: typeof d.lun === 'number' ? d.lun : i,
      diskSizeGB: typeof d.diskSizeGB === 'number' ? d.diskSizeGB : 128,
      storageAccountType: typeof d.managedDisk?.storageAccountType === 'string' ? d.managedDisk.storageAccountType : 'Premium_LRS',
    })),
    ...(raw.securityProfile !== undefined ? { securityProfile: raw.securityProfile } : {}),
  };
}

/** What ADE refuses on a scale set instance before touching the guest (disk-encryption-overview). */
function adeRefusal(instance: ScaleSetInstanceRecord, e: ExtensionRecord): string | undefined {
  const kind = adeKindOf(e.publisher, e.type);
  const major = Number.parseInt(e.typeHandlerVersion, 10);
  if ((kind === 'windows' && major < 2) || (kind === 'linux' && major < 1))
    return `Extension version '${e.typeHandlerVersion}' (Azure AD, dual-pass) is not supported on virtual machine scale sets.`;
  const settings = isObject(e.settings) ? e.settings : {};
  const volumeType = typeof settings.VolumeType === 'string' ? settings.VolumeType : '';
  if (kind === 'linux' && instance.osType === 'Linux' && !eq(volumeType, 'Data'))
    return (
      `VolumeType '${truncate(volumeType, 10)}' is not supported on Linux virtual machine scale sets: ` +
      'only data volumes can be encrypted.'
    );
  return undefined;
}

/** What identifies an extension run: a change re-runs it on the instances. */
function fingerprint(extensions: Record<string, ExtensionRecord>): unknown {
  return Object.values(extensions).map((e) => [
    e.name.toLowerCase(),
    e.publisher,
    e.type,
    e.typeHandlerVersion,
    e.forceUpdateTag,
    e.settings,
    e.protectedSettings,
  ]);
}

function modelExtension(e: ExtensionRecord): Record<string, unknown> {
  return {
    name: e.name,
    properties: {
      publisher: e.publisher,
      type: e.type,
      typeHandlerVersion: e.typeHandlerVersion,
      autoUpgradeMinorVersion: e.autoUpgradeMinorVersion,
      ...(e.forceUpdateTag !== undefined ? { forceUpdateTag: e.forceUpdateTag } : {}),
      settings: e.settings,
      provisioningState: e.provisioningState,
    },
  };
}
