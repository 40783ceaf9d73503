/**
 * Microsoft.Compute: virtual machines (create/get/$expand=instanceView/update/patch/delete, start,
 * deallocate, powerOff, restart, instanceView), extensions as long-running operations, managed disks
 * with encryptionSettingsCollection. Shapes follow the Compute REST reference
 * (https://learn.microsoft.com/rest/api/compute/virtual-machines) and @azure/arm-compute models.
 */
import type { SimResponse } from '../contract';
import { encryptionAtHostSupported, ENCRYPTION_AT_HOST_FEATURE, featureState, listSkus } from './features';
import { adeKindOf, bekMissingReport, bootGuest, rebootGuest, runAdeExtension, type GuestHost } from '../guest';
import { type ArmCore, type RequestScope } from './core';
import { ScaleSets } from './scale-sets';
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
  type ArmPath,
} from './http';
import type { DiskEncryptionSettingsModel, DiskRecord, ExtensionRecord, InstanceViewStatus, VmRecord } from './state';

const VM_TYPE = 'Microsoft.Compute/virtualMachines';
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Memory (GB) of common sizes; other Standard_* sizes default to 8 GB. */
const SIZE_MEMORY: Record<string, number> = {
  standard_b1s: 1,
  standard_b1ms: 2,
  standard_b2s: 4,
  standard_b2ms: 8,
  standard_ds1_v2: 3.5,
  standard_ds2_v2: 7,
  standard_d2s_v3: 8,
  standard_d4s_v3: 16,
  standard_d2s_v5: 8,
  standard_d4s_v5: 16,
  standard_d8s_v5: 32,
  standard_e4s_v5: 32,
  standard_a1_v2: 2,
};

export function memoryOf(vmSize: string): number {
  return SIZE_MEMORY[vmSize.toLowerCase()] ?? 8;
}

export class Compute {
  readonly scaleSets: ScaleSets;

  constructor(private readonly core: ArmCore) {
    this.scaleSets = new ScaleSets(core, this);
  }

  /** A managed disk: standalone / VM disks, else a Uniform scale set instance's disk. */
  private diskById(id: string): DiskRecord | undefined {
    return this.state.disks[key(id)] ?? this.state.scaleSetDisks?.[key(id)];
  }

  private get state() {
    return this.core.state;
  }

  async handle(path: ArmPath, scope: RequestScope): Promise<SimResponse> {
    const { req } = scope;
    const sub = this.core.subscription(path.subscriptionId, scope.principal);
    const [t0, t1] = [path.types[0]?.toLowerCase(), path.types[1]?.toLowerCase()];
    if (t0 === 'locations' && (t1 === 'operations' || t1 === 'operationresults') && path.names[1]) {
      if (req.method !== 'GET') throw methodNotAllowed(req.method);
      return t1 === 'operations'
        ? this.core.asyncOperationStatus(path.names[1])
        : this.core.locationStatus(path.names[1], `https://management.azure.com${req.path}?${req.query.toString()}`);
    }
    if (t0 === 'skus' && !path.resourceGroup && path.types.length === 1 && path.collection) {
      return listSkus(this.core, sub.subscriptionId, scope);
    }
    if (t0 === 'virtualmachinescalesets') return this.scaleSets.handle(path, scope, sub.subscriptionId);
    if (t0 === 'virtualmachines') {
      if (!path.resourceGroup) {
        if (path.types.length === 1 && path.collection && req.method === 'GET') return this.list(scope, sub.subscriptionId);
        throw invalidType(path);
      }
      this.core.resourceGroup(sub.subscriptionId, path.resourceGroup);
      if (path.types.length === 1 && path.collection) {
        if (req.method !== 'GET') throw methodNotAllowed(req.method);
        return this.list(scope, sub.subscriptionId, path.resourceGroup);
      }
      const vmName = path.names[0]!;
      if (path.types.length === 1) return this.vmVerb(scope, sub.subscriptionId, path.resourceGroup, vmName);
      if (t1 === 'extensions') {
        if (path.types.length === 2 && path.collection) {
          if (req.method !== 'GET') throw methodNotAllowed(req.method);
          const vm = this.vm(sub.subscriptionId, path.resourceGroup, vmName);
          return json(200, {
            value: Object.values(vm.extensions).map((e) =>
              extensionJson(this.reported(vm, e), req.query.get('$expand') === 'instanceView'),
            ),
          });
        }
        if (path.types.length === 2) return this.extensionVerb(scope, sub.subscriptionId, path.resourceGroup, vmName, path.names[1]!);
      }
      if (path.types.length === 2 && path.collection)
        return this.vmAction(scope, sub.subscriptionId, path.resourceGroup, vmName, path.types[1]!);
      throw invalidType(path);
    }
    if (t0 === 'disks') {
      if (!path.resourceGroup) {
        if (path.collection && path.types.length === 1 && req.method === 'GET')
          return json(200, {
            value: Object.values(this.state.disks)
              .filter((d) => eq(d.subscriptionId, sub.subscriptionId))
              .map(diskJson),
          });
        throw invalidType(path);
      }
      this.core.resourceGroup(sub.subscriptionId, path.resourceGroup);
      if (path.collection && path.types.length === 1) {
        if (req.method !== 'GET') throw methodNotAllowed(req.method);
        const rgId = `/subscriptions/${sub.subscriptionId}/resourcegroups/${path.resourceGroup}/`.toLowerCase();
        return json(200, {
          value: Object.values(this.state.disks)
            .filter((d) => key(d.id).startsWith(rgId))
            .map(diskJson),
        });
      }
      if (path.types.length === 1) return this.diskVerb(scope, sub.subscriptionId, path.resourceGroup, path.names[0]!);
    }
    throw invalidType(path);
  }

  // ---- virtual machines ----------------------------------------------------------------------------

  vm(subscriptionId: string, resourceGroup: string, name: string): VmRecord {
    const vm = this.state.vms[key(resourceId(subscriptionId, resourceGroup, 'Microsoft.Compute', 'virtualMachines', name))];
    if (!vm || vm.provisioningState === 'Deleting') this.core.notFound(VM_TYPE, name, resourceGroup);
    return vm;
  }

  private list(scope: RequestScope, subscriptionId: string, resourceGroup?: string): SimResponse {
    const prefix = resourceGroup
      ? `/subscriptions/${subscriptionId}/resourcegroups/${resourceGroup}/`.toLowerCase()
      : `/subscriptions/${subscriptionId}/`.toLowerCase();
    const all = Object.values(this.state.vms).filter((vm) => key(vm.id).startsWith(prefix) && vm.provisioningState !== 'Deleting');
    const statusOnly = eq(scope.req.query.get('statusOnly') ?? '', 'true');
    const skip = Number.parseInt(scope.req.query.get('$skiptoken') ?? '0', 10) || 0;
    const pageSize = 1000;
    const page = all.slice(skip, skip + pageSize);
    const body: Record<string, unknown> = { value: page.map((vm) => this.vmJson(vm, statusOnly)) };
    if (skip + pageSize < all.length) {
      const next = new URLSearchParams(scope.req.query);
      next.set('$skiptoken', String(skip + pageSize));
      body.nextLink = `https://management.azure.com${scope.req.path}?${next.toString()}`;
    }
    return json(200, body);
  }

  private async vmVerb(scope: RequestScope, subscriptionId: string, resourceGroup: string, name: string): Promise<SimResponse> {
    const { req } = scope;
    switch (req.method) {
      case 'GET': {
        const vm = this.vm(subscriptionId, resourceGroup, name);
        return json(200, this.vmJson(vm, eq(req.query.get('$expand') ?? '', 'instanceView')));
      }
      case 'PUT': {
        const id = resourceId(subscriptionId, resourceGroup, 'Microsoft.Compute', 'virtualMachines', name);
        const existing = this.state.vms[key(id)];
        if (existing && existing.provisioningState !== 'Deleting') return this.updateVm(scope, existing, bodyObject(req), false);
        return this.createVm(scope, subscriptionId, resourceGroup, name, bodyObject(req));
      }
      case 'PATCH':
        return this.updateVm(scope, this.vm(subscriptionId, resourceGroup, name), bodyObject(req), true);
      case 'DELETE': {
        const id = resourceId(subscriptionId, resourceGroup, 'Microsoft.Compute', 'virtualMachines', name);
        const vm = this.state.vms[key(id)];
        if (!vm) return { status: 204 };
        return this.deleteVm(scope, vm);
      }
      default:
        throw methodNotAllowed(req.method);
    }
  }

  /** Creates a VM with its managed disks (shared with the control API's bulk create). */
  createVmRecord(
    subscriptionId: string,
    resourceGroup: string,
    name: string,
    body: Record<string, any>,
    provisioningState: VmRecord['provisioningState'],
  ): VmRecord {
    validateName(name, 'a virtual machine', NAME_PATTERN, 64);
    const location = typeof body.location === 'string' ? normalizeLocation(body.location) : '';
    if (!location) throw armError(400, 'LocationRequired', 'The location property is required for this definition.');
    const props = isObject(body.properties) ? body.properties : {};
    const vmSize = props.hardwareProfile?.vmSize;
    if (typeof vmSize !== 'string' || vmSize === '')
      throw armError(400, 'InvalidParameter', "Required parameter 'hardwareProfile.vmSize' is missing (null).", {});
    if (!/^(Standard|Basic)_[A-Za-z0-9_]+$/i.test(vmSize))
      throw armError(
        400,
        'InvalidParameter',
        `The value '${truncate(vmSize, 40)}' of parameter 'vmSize' is not allowed. Allowed values are Standard_* and Basic_* sizes.`,
      );
    const storage = isObject(props.storageProfile) ? props.storageProfile : {};
    const osDiskIn = isObject(storage.osDisk) ? storage.osDisk : {};
    const osProfile = isObject(props.osProfile) ? props.osProfile : {};
    const osType = resolveOsType(osDiskIn.osType, osProfile, storage.imageReference);
    if (storage.imageReference !== undefined && typeof osProfile.adminUsername !== 'string') {
      throw armError(400, 'InvalidParameter', "Required parameter 'osProfile' is missing (null).");
    }
    if (isObject(props.securityProfile) && props.securityProfile.encryptionAtHost === true)
      this.checkEncryptionAtHost(subscriptionId, name, vmSize, isObject(props.storageProfile?.osDisk?.encryptionSettings));
    const tags = stringRecord(body.tags, 'tags');
    const now = this.core.nowIso();
    const vmId = resourceId(subscriptionId, resourceGroup, 'Microsoft.Compute', 'virtualMachines', name);
    const osDiskName =
      typeof osDiskIn.name === 'string' && osDiskIn.name ? osDiskIn.name : `${name.slice(0, 38)}_OsDisk_1_${newGuid().replace(/-/g, '')}`;
    const osDisk = this.createDisk(
      subscriptionId,
      resourceGroup,
      osDiskName,
      location,
      osDiskIn.diskSizeGB ?? (osType === 'Windows' ? 127 : 30),
      osDiskIn.managedDisk?.storageAccountType ?? 'Premium_LRS',
      vmId,
      osType,
    );
    const dataDisksIn: unknown[] = Array.isArray(storage.dataDisks) ? storage.dataDisks : [];
    if (dataDisksIn.length > 64)
      throw armError(400, 'InvalidParameter', `A VM can have at most 64 data disks (got ${dataDisksIn.length}).`);
    const dataDisks: VmRecord['dataDisks'] = [];
    for (const [index, raw] of dataDisksIn.entries()) {
      const d = isObject(raw) ? raw : {};
      const lun = typeof d.lun === 'number' ? d.lun : index;
      if (dataDisks.some((x) => x.lun === lun))
        throw armError(400, 'InvalidParameter', `Disk LUNs must be unique: LUN ${lun} is used twice.`);
      const diskName = typeof d.name === 'string' && d.name ? d.name : `${name.slice(0, 60)}_DataDisk_${lun}`;
      const disk = this.createDisk(
        subscriptionId,
        resourceGroup,
        diskName,
        location,
        typeof d.diskSizeGB === 'number' ? d.diskSizeGB : 128,
        d.managedDisk?.storageAccountType ?? 'Premium_LRS',
        vmId,
      );
      dataDisks.push({ lun, diskId: disk.id, caching: d.caching ?? 'None', createOption: d.createOption ?? 'Empty' });
    }
    const scaleSetId =
      typeof props.virtualMachineScaleSet?.id === 'string' ? this.scaleSets.flexibleSetFor(props.virtualMachineScaleSet.id).id : undefined;
    const nics: unknown[] = Array.isArray(props.networkProfile?.networkInterfaces) ? props.networkProfile.networkInterfaces : [];
    const vm: VmRecord = {
      id: vmId,
      name,
      subscriptionId,
      resourceGroup,
      location,
      tags,
      zones: Array.isArray(body.zones) ? body.zones.map(String) : undefined,
      vmId: newGuid(),
      vmSize,
      osType,
      computerName: typeof osProfile.computerName === 'string' ? osProfile.computerName : name.slice(0, 15),
      adminUsername: typeof osProfile.adminUsername === 'string' ? osProfile.adminUsername : 'azureuser',
      imageReference: storage.imageReference ?? defaultImage(osType),
      osDiskId: osDisk.id,
      dataDisks,
      networkInterfaces:
        nics.length > 0
          ? nics.filter(isObject).map((n) => ({ id: String(n.id), primary: n.properties?.primary }))
          : [{ id: resourceId(subscriptionId, resourceGroup, 'Microsoft.Network', 'networkInterfaces', `${name}-nic`) }],
      ...(scaleSetId ? { virtualMachineScaleSetId: scaleSetId } : {}),
      identity: body.identity,
      securityProfile: props.securityProfile,
      provisioningState,
      powerState: provisioningState === 'Succeeded' ? 'running' : 'starting',
      timeCreated: now,
      extensions: {},
      guest: { bekFiles: [], boot: 'ok' },
      memoryGB: memoryOf(vmSize),
    };
    if (isObject(osDiskIn.encryptionSettings)) this.applyModelEncryption(vm, osDiskIn.encryptionSettings);
    this.state.vms[key(vmId)] = vm;
    return vm;
  }

  private createDisk(
    subscriptionId: string,
    resourceGroup: string,
    name: string,
    location: string,
    sizeGB: unknown,
    sku: string,
    managedBy: string,
    osType?: 'Windows' | 'Linux',
  ): DiskRecord {
    validateName(name, 'a managed disk', NAME_PATTERN, 80);
    const size = typeof sizeGB === 'number' && Number.isFinite(sizeGB) ? sizeGB : 128;
    if (size < 1 || size > 32_767) throw armError(400, 'InvalidParameter', `Disk size ${size} GB is out of range (1–32767).`);
    const id = resourceId(subscriptionId, resourceGroup, 'Microsoft.Compute', 'disks', name);
    const existing = this.state.disks[key(id)];
    if (existing?.managedBy && !eq(existing.managedBy, managedBy)) {
      throw armError(409, 'OperationNotAllowed', `Disk '${name}' is already attached to VM '${existing.managedBy}'.`);
    }
    const disk: DiskRecord = existing ?? {
      id,
      name,
      subscriptionId,
      resourceGroup,
      location,
      tags: {},
      osType,
      diskSizeGB: size,
      sku,
      managedBy,
      timeCreated: this.core.nowIso(),
      encryptionState: 'notEncrypted',
    };
    disk.managedBy = managedBy;
    this.state.disks[key(id)] = disk;
    return disk;
  }

  private createVm(
    scope: RequestScope,
    subscriptionId: string,
    resourceGroup: string,
    name: string,
    body: Record<string, any>,
  ): SimResponse {
    this.core.resourceGroup(subscriptionId, resourceGroup);
    const vm = this.createVmRecord(subscriptionId, resourceGroup, name, body, 'Creating');
    const op = this.core.startOperation(this.core.durations.vmCreate, vm.id);
    const generation = this.core.generation;
    // Azure emits the VM write as the request is accepted, then again on completion (same correlation id),
    // plus writes for the managed disks CRP creates.
    this.core.emit('Write', scope, subscriptionId, vm.id, 'Microsoft.Compute/virtualMachines/write');
    this.core.background(`create ${vm.id}`, async () => {
      await this.core.sleep(this.core.durations.vmCreate, generation);
      const current = this.state.vms[key(vm.id)];
      if (!current) return;
      for (const diskId of [current.osDiskId, ...current.dataDisks.map((d) => d.diskId)])
        this.core.emit('Write', scope, subscriptionId, diskId, 'Microsoft.Compute/disks/write');
      current.provisioningState = 'Succeeded';
      current.powerState = 'running';
      this.core.completeOperation(op);
      this.core.emit('Write', scope, subscriptionId, vm.id, 'Microsoft.Compute/virtualMachines/write');
    });
    return json(
      201,
      this.vmJson(vm, false),
      this.core.lroHeaders(op, subscriptionId, 'Microsoft.Compute', vm.location, scope.apiVersion, false),
    );
  }

  private updateVm(scope: RequestScope, vm: VmRecord, body: Record<string, any>, isPatch: boolean): SimResponse {
    if (body.location !== undefined && typeof body.location === 'string' && normalizeLocation(body.location) !== vm.location) {
      throw armError(409, 'PropertyChangeNotAllowed', "Changing property 'location' is not allowed.");
    }
    const props = isObject(body.properties) ? body.properties : {};
    const newOsType = props.storageProfile?.osDisk?.osType;
    if (typeof newOsType === 'string' && newOsType.toLowerCase() !== vm.osType.toLowerCase()) {
      throw armError(409, 'PropertyChangeNotAllowed', "Changing property 'osDisk.osType' is not allowed.");
    }
    const wantedSize = typeof props.hardwareProfile?.vmSize === 'string' ? props.hardwareProfile.vmSize : vm.vmSize;
    const hostEncryptionNow = encryptionAtHostOf(vm.securityProfile);
    const hostEncryptionWanted = isObject(props.securityProfile)
      ? typeof props.securityProfile.encryptionAtHost === 'boolean'
        ? props.securityProfile.encryptionAtHost
        : isPatch
          ? hostEncryptionNow
          : false
      : props.securityProfile === undefined
        ? hostEncryptionNow
        : false;
    if (hostEncryptionWanted !== hostEncryptionNow && vm.powerState !== 'deallocated') {
      // https://learn.microsoft.com/azure/virtual-machines/disks-enable-host-based-encryption-cli#enable-encryption-at-host-for-an-existing-vm
      throw armError(
        409,
        'OperationNotAllowed',
        `Changing property 'securityProfile.encryptionAtHost' of VM '${vm.name}' is only allowed when the VM is deallocated.`,
      );
    }
    if (hostEncryptionWanted && (hostEncryptionWanted !== hostEncryptionNow || wantedSize !== vm.vmSize))
      this.checkEncryptionAtHost(vm.subscriptionId, vm.name, wantedSize, vm.adeEver === true || this.hasAdeSettings(vm));
    if (body.tags !== undefined) vm.tags = stringRecord(body.tags, 'tags');
    else if (!isPatch) vm.tags = {};
    const size = props.hardwareProfile?.vmSize;
    if (typeof size === 'string' && size !== vm.vmSize) {
      if (!/^(Standard|Basic)_[A-Za-z0-9_]+$/i.test(size))
        throw armError(400, 'InvalidParameter', `The value '${truncate(size, 40)}' of parameter 'vmSize' is not allowed.`);
      vm.vmSize = size;
      vm.memoryGB = memoryOf(size);
    }
    const osDisk = props.storageProfile?.osDisk;
    if (isObject(osDisk) && 'encryptionSettings' in osDisk) {
      if (osDisk.encryptionSettings === null) {
        vm.osDiskEncryptionSettings = undefined;
      } else if (isObject(osDisk.encryptionSettings)) {
        this.applyModelEncryption(vm, osDisk.encryptionSettings);
      }
    }
    if (Array.isArray(props.storageProfile?.dataDisks)) {
      for (const raw of props.storageProfile.dataDisks as unknown[]) {
        if (!isObject(raw) || typeof raw.lun !== 'number' || vm.dataDisks.some((d) => d.lun === raw.lun)) continue;
        const diskName = typeof raw.name === 'string' && raw.name ? raw.name : `${vm.name}_DataDisk_${raw.lun}`;
        const disk = this.createDisk(
          vm.subscriptionId,
          vm.resourceGroup,
          diskName,
          vm.location,
          raw.diskSizeGB,
          raw.managedDisk?.storageAccountType ?? 'Premium_LRS',
          vm.id,
        );
        vm.dataDisks.push({ lun: raw.lun, diskId: disk.id, caching: raw.caching ?? 'None', createOption: raw.createOption ?? 'Empty' });
      }
    }
    if (body.identity !== undefined) vm.identity = body.identity;
    if (props.securityProfile !== undefined)
      vm.securityProfile =
        isPatch && isObject(props.securityProfile) && isObject(vm.securityProfile)
          ? { ...vm.securityProfile, ...props.securityProfile }
          : props.securityProfile;
    vm.provisioningState = 'Updating';
    const op = this.core.startOperation(this.core.durations.vmUpdate, vm.id);
    const generation = this.core.generation;
    this.core.background(`update ${vm.id}`, async () => {
      await this.core.sleep(this.core.durations.vmUpdate, generation);
      const current = this.state.vms[key(vm.id)];
      if (!current) return;
      if (current.provisioningState === 'Updating') current.provisioningState = 'Succeeded';
      this.core.completeOperation(op);
      this.core.emit('Write', scope, vm.subscriptionId, vm.id, 'Microsoft.Compute/virtualMachines/write', { existing: true });
    });
    return json(
      200,
      this.vmJson(vm, false),
      this.core.lroHeaders(op, vm.subscriptionId, 'Microsoft.Compute', vm.location, scope.apiVersion, false),
    );
  }

  /**
   * What Azure checks before a VM gets encryption at host: the subscription's `Microsoft.Compute/EncryptionAtHost`
   * feature, the size's `EncryptionAtHostSupported` capability, and no Azure Disk Encryption now or ever
   * (https://learn.microsoft.com/azure/virtual-machines/disks-enable-host-based-encryption-portal#restrictions).
   */
  private checkEncryptionAtHost(subscriptionId: string, vmName: string, vmSize: string, adeEver: boolean): void {
    if (featureState(this.core, subscriptionId, ENCRYPTION_AT_HOST_FEATURE) !== 'Registered') {
      throw armError(
        400,
        'InvalidParameter',
        "The property 'securityProfile.encryptionAtHost' is not valid because the 'Microsoft.Compute/EncryptionAtHost' " +
          'feature is not enabled for this subscription.',
      );
    }
    if (!encryptionAtHostSupported(this.core, vmSize)) {
      throw armError(
        400,
        'InvalidParameter',
        `The property 'securityProfile.encryptionAtHost' is not valid because the VM size '${truncate(vmSize, 40)}' ` +
          'does not support encryption at host.',
      );
    }
    if (adeEver) {
      throw armError(
        409,
        'OperationNotAllowed',
        `Encryption at host can't be enabled on VM '${vmName}': it has, or once had, Azure Disk Encryption enabled. ` +
          'Move its data to new disks and a new VM instead.',
      );
    }
  }

  /** Whether the VM's model or disks carry Azure Disk Encryption settings (disks keep them after decryption). */
  private hasAdeSettings(vm: VmRecord): boolean {
    if (vm.osDiskEncryptionSettings) return true;
    return [vm.osDiskId, ...vm.dataDisks.map((d) => d.diskId)].some((id) => this.state.disks[key(id)]?.encryptionSettingsCollection);
  }

  /** Dual-pass second pass: the VM model's osDisk.encryptionSettings, mirrored onto the OS disk (version 1.0). */
  private applyModelEncryption(vm: VmRecord, raw: Record<string, any>): void {
    const settings: DiskEncryptionSettingsModel = { enabled: raw.enabled === true };
    if (isObject(raw.diskEncryptionKey)) {
      const secretUrl = raw.diskEncryptionKey.secretUrl;
      const vaultId = raw.diskEncryptionKey.sourceVault?.id;
      if (typeof secretUrl !== 'string' || !/^https:\/\/[a-z0-9-]+\.vault\.azure\.net\/secrets\/[^/]+\/[0-9a-f]{32}$/i.test(secretUrl)) {
        throw armError(
          400,
          'InvalidParameter',
          `The value of parameter 'secretUrl' is invalid: '${truncate(String(secretUrl), 120)}'. Expected ` +
            `https://<vault>.vault.azure.net/secrets/<name>/<version>.`,
        );
      }
      if (typeof vaultId !== 'string' || !/\/providers\/Microsoft\.KeyVault\/vaults\/[^/]+$/i.test(vaultId)) {
        throw armError(
          400,
          'InvalidParameter',
          "The value of parameter 'diskEncryptionKey.sourceVault.id' is invalid: expected a Key Vault resource id.",
        );
      }
      settings.diskEncryptionKey = { secretUrl, sourceVault: { id: vaultId } };
    } else if (settings.enabled) {
      throw armError(400, 'InvalidParameter', "Required parameter 'diskEncryptionKey' is missing when encryptionSettings.enabled is true.");
    }
    if (isObject(raw.keyEncryptionKey)) {
      const keyUrl = raw.keyEncryptionKey.keyUrl;
      if (typeof keyUrl !== 'string' || !/^https:\/\/[a-z0-9-]+\.vault\.azure\.net\/keys\/[^/]+\/[0-9a-f]{32}$/i.test(keyUrl)) {
        throw armError(
          400,
          'InvalidParameter',
          `The value of parameter 'keyUrl' is invalid: '${truncate(String(keyUrl), 120)}'. Expected a versioned key URL.`,
        );
      }
      settings.keyEncryptionKey = { keyUrl, sourceVault: { id: String(raw.keyEncryptionKey.sourceVault?.id ?? '') } };
    }
    const osDisk = this.state.disks[key(vm.osDiskId)];
    if (osDisk?.encryptionSettingsCollection?.encryptionSettingsVersion === '1.1' && settings.enabled) {
      throw armError(
        409,
        'PropertyChangeNotAllowed',
        `Changing property 'encryptionSettingsVersion' of disk '${osDisk.name}' is not allowed: it is ` +
          `encrypted with Azure Disk Encryption single-pass (1.1).`,
      );
    }
    vm.osDiskEncryptionSettings = settings;
    if (osDisk && settings.diskEncryptionKey) {
      osDisk.encryptionSettingsCollection = {
        enabled: settings.enabled === true,
        encryptionSettings: [{ diskEncryptionKey: settings.diskEncryptionKey, keyEncryptionKey: settings.keyEncryptionKey }],
        encryptionSettingsVersion: '1.0',
      };
    }
  }

  private deleteVm(scope: RequestScope, vm: VmRecord): SimResponse {
    vm.provisioningState = 'Deleting';
    const op = this.core.startOperation(this.core.durations.vmDelete);
    const generation = this.core.generation;
    this.core.background(`delete ${vm.id}`, async () => {
      await this.core.sleep(this.core.durations.vmDelete, generation);
      delete this.state.vms[key(vm.id)];
      for (const diskId of [vm.osDiskId, ...vm.dataDisks.map((d) => d.diskId)]) {
        const disk = this.state.disks[key(diskId)];
        if (disk) disk.managedBy = undefined;
      }
      this.core.completeOperation(op);
      this.core.emit('Delete', scope, vm.subscriptionId, vm.id, 'Microsoft.Compute/virtualMachines/delete', { existing: true });
    });
    return { status: 202, headers: this.core.lroHeaders(op, vm.subscriptionId, 'Microsoft.Compute', vm.location, scope.apiVersion, true) };
  }

  private async vmAction(
    scope: RequestScope,
    subscriptionId: string,
    resourceGroup: string,
    name: string,
    action: string,
  ): Promise<SimResponse> {
    const { req } = scope;
    const vm = this.vm(subscriptionId, resourceGroup, name);
    const verb = action.toLowerCase();
    if (verb === 'instanceview') {
      if (req.method !== 'GET') throw methodNotAllowed(req.method);
      return json(200, this.instanceView(vm));
    }
    if (req.method !== 'POST') throw methodNotAllowed(req.method);
    const actions: Record<string, { duration: number; op: string; run: (vm: VmRecord) => void }> = {
      start: { duration: this.core.durations.vmStart, op: 'start', run: (v) => this.powerOn(v) },
      deallocate: {
        duration: this.core.durations.vmDeallocate,
        op: 'deallocate',
        run: (v) => {
          v.powerState = 'deallocated';
          v.guest.bekFiles = [];
        },
      },
      poweroff: {
        duration: this.core.durations.vmPowerOff,
        op: 'powerOff',
        run: (v) => {
          v.powerState = 'stopped';
        },
      },
      restart: { duration: this.core.durations.vmRestart, op: 'restart', run: (v) => this.powerOn(v, true) },
    };
    const spec = actions[verb];
    if (!spec) throw invalidType({ namespace: 'Microsoft.Compute', types: ['virtualMachines', action] } as ArmPath);
    if (verb === 'restart' && vm.powerState !== 'running') {
      throw armError(
        409,
        'OperationNotAllowed',
        `Operation 'restart' is not allowed on VM '${vm.name}' since the VM is ` +
          `${vm.powerState === 'deallocated' ? 'deallocated' : 'not running'}.`,
      );
    }
    vm.powerState =
      verb === 'start' ? 'starting' : verb === 'deallocate' ? 'deallocating' : verb === 'poweroff' ? 'stopping' : vm.powerState;
    const op = this.core.startOperation(spec.duration);
    const generation = this.core.generation;
    this.core.background(`${verb} ${vm.id}`, async () => {
      await this.core.sleep(spec.duration, generation);
      const current = this.state.vms[key(vm.id)];
      if (!current) return;
      spec.run(current);
      this.core.completeOperation(op);
      this.core.emit('Action', scope, vm.subscriptionId, vm.id, `Microsoft.Compute/virtualMachines/${spec.op}/action`, { existing: true });
    });
    return { status: 202, headers: this.core.lroHeaders(op, vm.subscriptionId, 'Microsoft.Compute', vm.location, scope.apiVersion, true) };
  }

  /**
   * Boot. Start: the platform re-reads the disk keys from Key Vault and re-attaches the BEK volume /
   * passphrase file. Restart: the guest reboots with the BEK volume as it is
   * (https://learn.microsoft.com/troubleshoot/azure/virtual-machines/windows/troubleshoot-bitlocker-boot-error).
   */
  private powerOn(vm: VmRecord, restart = false): void {
    vm.powerState = 'running';
    if (restart) rebootGuest(this.guestHost(), vm);
    else bootGuest(this.guestHost(), vm);
  }

  // ---- extensions ------------------------------------------------------------------------------------

  private async extensionVerb(
    scope: RequestScope,
    subscriptionId: string,
    resourceGroup: string,
    vmName: string,
    extName: string,
  ): Promise<SimResponse> {
    const { req } = scope;
    const vm = this.vm(subscriptionId, resourceGroup, vmName);
    const existing = vm.extensions[extName.toLowerCase()];
    switch (req.method) {
      case 'GET':
        if (!existing) this.core.notFound(`${VM_TYPE}/extensions`, `${vmName}/${extName}`, resourceGroup);
        return json(200, extensionJson(this.reported(vm, existing), eq(req.query.get('$expand') ?? '', 'instanceView')));
      case 'PUT':
      case 'PATCH':
        return this.putExtension(scope, vm, extName, existing, bodyObject(req), req.method === 'PATCH');
      case 'DELETE': {
        if (!existing) return { status: 204 };
        existing.provisioningState = 'Deleting';
        const op = this.core.startOperation(this.core.durations.extensionDelete);
        const generation = this.core.generation;
        this.core.background(`delete extension ${existing.id}`, async () => {
          await this.core.sleep(this.core.durations.extensionDelete, generation);
          const current = this.state.vms[key(vm.id)];
          if (current) delete current.extensions[extName.toLowerCase()];
          this.core.completeOperation(op);
          this.core.emit('Delete', scope, vm.subscriptionId, existing.id, 'Microsoft.Compute/virtualMachines/extensions/delete', {
            existing: true,
          });
        });
        return {
          status: 202,
          headers: this.core.lroHeaders(op, vm.subscriptionId, 'Microsoft.Compute', vm.location, scope.apiVersion, true),
        };
      }
      default:
        throw methodNotAllowed(req.method);
    }
  }

  private putExtension(
    scope: RequestScope,
    vm: VmRecord,
    extName: string,
    existing: ExtensionRecord | undefined,
    body: Record<string, any>,
    isPatch: boolean,
  ): SimResponse {
    validateName(extName, 'a VM extension', NAME_PATTERN, 64);
    if (isPatch && !existing) this.core.notFound(`${VM_TYPE}/extensions`, `${vm.name}/${extName}`, vm.resourceGroup);
    if (vm.powerState !== 'running') {
      throw armError(409, 'OperationNotAllowed', 'Cannot modify extensions in the VM when the VM is not running.');
    }
    if (existing && (existing.provisioningState === 'Creating' || existing.provisioningState === 'Updating')) {
      throw armError(
        409,
        'OperationNotAllowed',
        `Operation 'PUT' on extension '${extName}' is not allowed since an operation on the extension is in ` +
          `progress. Please try again later.`,
      );
    }
    const props = isObject(body.properties) ? body.properties : {};
    const adeKind = adeKindOf(String(props.publisher ?? existing?.publisher ?? ''), String(props.type ?? existing?.type ?? ''));
    if (adeKind && encryptionAtHostOf(vm.securityProfile)) {
      // The message Azure answers (with 409 Conflict) on a VM with encryption at host
      // (https://learn.microsoft.com/azure/virtual-machines/disks-enable-host-based-encryption-portal#restrictions).
      throw armError(409, 'Conflict', 'Azure Disk Encryption cannot be enabled on disks that have encryption at host enabled');
    }
    const { publisher, type, typeHandlerVersion } = extensionIdentity(props, existing);
    const settings = props.settings !== undefined ? props.settings : (existing?.settings ?? {});
    const protectedSettings = props.protectedSettings !== undefined ? props.protectedSettings : existing?.protectedSettings;
    const forceUpdateTag = props.forceUpdateTag !== undefined ? String(props.forceUpdateTag) : existing?.forceUpdateTag;
    const unchanged =
      existing !== undefined &&
      existing.provisioningState === 'Succeeded' &&
      JSON.stringify(existing.settings) === JSON.stringify(settings) &&
      existing.typeHandlerVersion === typeHandlerVersion &&
      existing.forceUpdateTag === forceUpdateTag &&
      JSON.stringify(existing.protectedSettings) === JSON.stringify(protectedSettings);
    const id = `${vm.id}/extensions/${extName}`;
    const ext: ExtensionRecord = existing ?? {
      id,
      name: extName,
      location: vm.location,
      publisher,
      type,
      typeHandlerVersion,
      autoUpgradeMinorVersion: true,
      settings,
      provisioningState: 'Creating',
      statuses: [],
      substatuses: [],
      tags: {},
    };
    ext.typeHandlerVersion = typeHandlerVersion;
    ext.autoUpgradeMinorVersion = props.autoUpgradeMinorVersion ?? ext.autoUpgradeMinorVersion;
    ext.settings = settings;
    ext.protectedSettings = protectedSettings;
    ext.forceUpdateTag = forceUpdateTag;
    if (body.tags !== undefined) ext.tags = stringRecord(body.tags, 'tags');
    ext.provisioningState = existing ? 'Updating' : 'Creating';
    vm.extensions[extName.toLowerCase()] = ext;
    if (adeKind) vm.adeEver = true;

    const ade = adeKindOf(publisher, type);
    const duration = unchanged
      ? this.core.durations.vmUpdate
      : ade
        ? vm.osType === 'Windows'
          ? this.core.durations.adeWindows
          : this.core.durations.adeLinuxData
        : this.core.durations.extension;
    const op = this.core.startOperation(duration, id);
    const generation = this.core.generation;
    const status = existing ? 200 : 201;
    this.core.background(`extension ${id}`, async () => {
      let error: { code: string; message: string } | undefined;
      if (unchanged) {
        // CRP and the guest agent skip a run whose configuration did not change: a re-run needs a new sequence
        // version (https://learn.microsoft.com/azure/virtual-machines/windows/disk-encryption-windows).
        await this.core.sleep(duration, generation);
      } else if (ade) {
        const outcome = await runAdeExtension(this.guestHost(), vm.id, extName.toLowerCase(), generation);
        if (outcome.error) error = outcome.error;
      } else {
        await this.core.sleep(duration, generation);
        const current = this.state.vms[key(vm.id)]?.extensions[extName.toLowerCase()];
        if (current)
          current.statuses = [
            statusOf('ProvisioningState/succeeded', 'Info', 'Provisioning succeeded', `Extension ${type} enabled`, this.core.nowIso()),
          ];
      }
      const currentVm = this.state.vms[key(vm.id)];
      const current = currentVm?.extensions[extName.toLowerCase()];
      if (current) current.provisioningState = error ? 'Failed' : 'Succeeded';
      const extensionLabel =
        `VM has reported a failure when processing extension '${extName}' (publisher '${publisher}' and type ` +
        `'${type}'). Error message: "${error?.message ?? ''}". More information on troubleshooting is ` +
        `available at https://aka.ms/vmextensionwindowstroubleshoot`;
      this.core.completeOperation(op, error ? { code: 'VMExtensionProvisioningError', message: extensionLabel } : undefined);
      const outcome = error ? 'Failure' : 'Success';
      this.core.emit('Write', scope, vm.subscriptionId, id, 'Microsoft.Compute/virtualMachines/extensions/write', {
        outcome,
        existing: existing !== undefined,
      });
      // An extension deployment is a change of the VM model too: Azure also emits the VM write.
      this.core.emit('Write', scope, vm.subscriptionId, vm.id, 'Microsoft.Compute/virtualMachines/write', { outcome, existing: true });
    });
    return json(
      status,
      extensionJson(ext, false),
      this.core.lroHeaders(op, vm.subscriptionId, 'Microsoft.Compute', vm.location, scope.apiVersion, false),
    );
  }

  guestHost(): GuestHost {
    const core = this.core;
    return {
      ctx: core.ctx,
      durations: () => core.durations,
      vm: (id) => core.state.vms[key(id)] ?? core.state.scaleSetVms?.[key(id)],
      disk: (id) => core.state.disks[key(id)] ?? core.state.scaleSetDisks?.[key(id)],
      vaultById: (id) => core.state.vaults[key(id)],
      vaultByName: (name) => Object.values(core.state.vaults).find((v) => eq(v.name, name)),
      sleep: (ms, generation) => core.sleep(ms, generation),
      now: () => core.nowIso(),
      background: (name, work) => core.background(name, work),
    };
  }

  // ---- disks ---------------------------------------------------------------------------------------

  private async diskVerb(scope: RequestScope, subscriptionId: string, resourceGroup: string, name: string): Promise<SimResponse> {
    const { req } = scope;
    const id = resourceId(subscriptionId, resourceGroup, 'Microsoft.Compute', 'disks', name);
    const disk = this.state.disks[key(id)];
    switch (req.method) {
      case 'GET':
        if (!disk) this.core.notFound('Microsoft.Compute/disks', name, resourceGroup);
        return json(200, diskJson(disk));
      case 'PATCH': {
        if (!disk) this.core.notFound('Microsoft.Compute/disks', name, resourceGroup);
        const body = bodyObject(req);
        if (body.tags !== undefined) disk.tags = stringRecord(body.tags, 'tags');
        if (typeof body.properties?.diskSizeGB === 'number') {
          if (body.properties.diskSizeGB < disk.diskSizeGB) throw armError(400, 'BadRequest', 'Disk size can only be increased.');
          disk.diskSizeGB = body.properties.diskSizeGB;
        }
        this.core.emit('Write', scope, subscriptionId, id, 'Microsoft.Compute/disks/write', { existing: true });
        return json(200, diskJson(disk));
      }
      case 'DELETE': {
        if (!disk) return { status: 204 };
        if (disk.managedBy) throw armError(409, 'OperationNotAllowed', `Disk ${disk.name} is attached to VM ${disk.managedBy}.`);
        delete this.state.disks[key(id)];
        this.core.emit('Delete', scope, subscriptionId, id, 'Microsoft.Compute/disks/delete', { existing: true });
        return { status: 200 };
      }
      default:
        throw methodNotAllowed(req.method);
    }
  }

  // ---- JSON shapes -------------------------------------------------------------------------------

  vmJson(vm: VmRecord, withInstanceView: boolean): Record<string, unknown> {
    const osDisk = this.diskById(vm.osDiskId);
    const properties: Record<string, unknown> = {
      vmId: vm.vmId,
      hardwareProfile: { vmSize: vm.vmSize },
      storageProfile: {
        imageReference: vm.imageReference,
        osDisk: {
          osType: vm.osType,
          name: osDisk?.name ?? vm.osDiskId.split('/').pop(),
          createOption: 'FromImage',
          caching: 'ReadWrite',
          managedDisk: { storageAccountType: osDisk?.sku ?? 'Premium_LRS', id: vm.osDiskId },
          deleteOption: 'Detach',
          diskSizeGB: osDisk?.diskSizeGB,
          ...(vm.osDiskEncryptionSettings ? { encryptionSettings: vm.osDiskEncryptionSettings } : {}),
        },
        dataDisks: vm.dataDisks.map((d) => {
          const disk = this.diskById(d.diskId);
          return {
            lun: d.lun,
            name: disk?.name ?? d.diskId.split('/').pop(),
            createOption: d.createOption,
            caching: d.caching,
            managedDisk: { storageAccountType: disk?.sku ?? 'Premium_LRS', id: d.diskId },
            deleteOption: 'Detach',
            diskSizeGB: disk?.diskSizeGB,
            toBeDetached: false,
          };
        }),
      },
      osProfile: {
        computerName: vm.computerName,
        adminUsername: vm.adminUsername,
        ...(vm.osType === 'Windows'
          ? { windowsConfiguration: { provisionVMAgent: true, enableAutomaticUpdates: true } }
          : { linuxConfiguration: { disablePasswordAuthentication: false, provisionVMAgent: true } }),
        secrets: [],
        allowExtensionOperations: true,
        requireGuestProvisionSignal: true,
      },
      networkProfile: {
        networkInterfaces: vm.networkInterfaces.map((n) => ({
          id: n.id,
          ...(n.primary !== undefined ? { properties: { primary: n.primary } } : {}),
        })),
      },
      provisioningState: vm.provisioningState,
      timeCreated: vm.timeCreated,
    };
    if (vm.securityProfile !== undefined) properties.securityProfile = vm.securityProfile;
    if (vm.virtualMachineScaleSetId !== undefined) properties.virtualMachineScaleSet = { id: vm.virtualMachineScaleSetId };
    if (withInstanceView) properties.instanceView = this.instanceView(vm);
    const out: Record<string, unknown> = { name: vm.name, id: vm.id, type: VM_TYPE, location: vm.location, tags: vm.tags, properties };
    if (vm.zones) out.zones = vm.zones;
    if (vm.identity !== undefined) out.identity = vm.identity;
    const extensions = Object.values(vm.extensions);
    if (extensions.length > 0) out.resources = extensions.map((e) => extensionJson(e, false));
    return out;
  }

  /** The extension as its instance view shows it: the ADE extension reports missing BEK files (guest state). */
  private reported(vm: VmRecord, e: ExtensionRecord): ExtensionRecord {
    const report = bekMissingReport(this.guestHost(), vm, e);
    return report ? { ...e, ...report } : e;
  }

  instanceView(vm: VmRecord): Record<string, unknown> {
    const time = vm.timeCreated;
    const agentReady = vm.powerState === 'running' && vm.guest.boot === 'ok';
    const disks = [vm.osDiskId, ...vm.dataDisks.map((d) => d.diskId)].map((id) => {
      const disk = this.diskById(id);
      const statuses: InstanceViewStatus[] = [statusOf('ProvisioningState/succeeded', 'Info', 'Provisioning succeeded', undefined, time)];
      const collection = disk?.encryptionSettingsCollection;
      if (collection?.enabled) {
        statuses.push(
          disk?.encryptionState === 'encrypted'
            ? statusOf('EncryptionState/encrypted', 'Info', 'Encryption is enabled on disk')
            : statusOf('EncryptionState/notEncrypted', 'Info', 'Disk is not encrypted'),
        );
      }
      const entry: Record<string, unknown> = { name: disk?.name ?? id.split('/').pop(), statuses };
      if (collection) entry.encryptionSettings = collection.encryptionSettings.map((s) => ({ ...s, enabled: collection.enabled }));
      return entry;
    });
    const power = {
      running: 'VM running',
      stopped: 'VM stopped',
      deallocated: 'VM deallocated',
      starting: 'VM starting',
      stopping: 'VM stopping',
      deallocating: 'VM deallocating',
    }[vm.powerState];
    const provisioning =
      vm.provisioningState === 'Succeeded'
        ? statusOf('ProvisioningState/succeeded', 'Info', 'Provisioning succeeded', undefined, this.core.nowIso())
        : vm.provisioningState === 'Failed'
          ? statusOf('ProvisioningState/failed', 'Error', 'Provisioning failed', undefined, this.core.nowIso())
          : statusOf(`ProvisioningState/${vm.provisioningState.toLowerCase()}`, 'Info', vm.provisioningState);
    const view: Record<string, unknown> = {
      computerName: vm.computerName,
      osName: vm.osType === 'Windows' ? 'Windows Server 2022 Datacenter' : 'ubuntu',
      osVersion: vm.osType === 'Windows' ? '10.0.20348' : '22.04',
      hyperVGeneration: 'V2',
      disks,
      statuses: [provisioning, statusOf(`PowerState/${vm.powerState}`, 'Info', power)],
    };
    if (vm.powerState === 'running') {
      view.vmAgent = {
        vmAgentVersion: vm.osType === 'Windows' ? '2.7.41491.1102' : '2.10.0.8',
        statuses: [
          agentReady
            ? statusOf(
                'ProvisioningState/succeeded',
                'Info',
                'Ready',
                'GuestAgent is running and processing the extensions.',
                this.core.nowIso(),
              )
            : statusOf(
                'ProvisioningState/Unavailable',
                'Warning',
                'Not Ready',
                vm.guest.boot === 'BitLockerRecovery'
                  ? 'VM status blob is found but not yet populated. The guest is waiting at the BitLocker recovery screen.'
                  : 'VM status blob is found but not yet populated. The guest is waiting for the disk passphrase at boot.',
                this.core.nowIso(),
              ),
        ],
        extensionHandlers: Object.values(vm.extensions).map((e) => ({
          type: `${e.publisher}.${e.type}`,
          typeHandlerVersion: e.typeHandlerVersion,
          status: statusOf('ProvisioningState/succeeded', 'Info', 'Ready'),
        })),
      };
    }
    const extensions = Object.values(vm.extensions).filter((e) => e.statuses.length > 0 || e.substatuses.length > 0);
    if (extensions.length > 0) view.extensions = extensions.map((e) => extensionInstanceView(this.reported(vm, e)));
    return view;
  }
}

export function statusOf(
  code: string,
  level: InstanceViewStatus['level'],
  displayStatus?: string,
  message?: string,
  time?: string,
): InstanceViewStatus {
  const status: InstanceViewStatus = { code, level };
  if (displayStatus !== undefined) status.displayStatus = displayStatus;
  if (message !== undefined) status.message = message;
  if (time !== undefined) status.time = time;
  return status;
}

function extensionInstanceView(e: ExtensionRecord): Record<string, unknown> {
  const view: Record<string, unknown> = {
    name: e.name,
    type: `${e.publisher}.${e.type}`,
    typeHandlerVersion: e.typeHandlerVersion,
    statuses: e.statuses,
  };
  if (e.substatuses.length > 0) view.substatuses = e.substatuses;
  return view;
}

export function extensionJson(e: ExtensionRecord, withInstanceView: boolean): Record<string, unknown> {
  const properties: Record<string, unknown> = {
    autoUpgradeMinorVersion: e.autoUpgradeMinorVersion,
    provisioningState: e.provisioningState,
    publisher: e.publisher,
    type: e.type,
    typeHandlerVersion: e.typeHandlerVersion,
    settings: e.settings,
  };
  if (e.forceUpdateTag !== undefined) properties.forceUpdateTag = e.forceUpdateTag;
  if (withInstanceView) properties.instanceView = extensionInstanceView(e);
  return { name: e.name, id: e.id, type: 'Microsoft.Compute/virtualMachines/extensions', location: e.location, tags: e.tags, properties };
}

export function diskJson(d: DiskRecord): Record<string, unknown> {
  const properties: Record<string, unknown> = {
    osType: d.osType,
    hyperVGeneration: 'V2',
    creationData: { createOption: d.osType ? 'FromImage' : 'Empty' },
    diskSizeGB: d.diskSizeGB,
    diskSizeBytes: d.diskSizeGB * 1024 ** 3,
    uniqueId: d.id.length.toString(16).padStart(8, '0') + '-0000-4000-8000-000000000000',
    encryption: { type: 'EncryptionAtRestWithPlatformKey' },
    provisioningState: 'Succeeded',
    diskState: d.managedBy ? 'Attached' : 'Unattached',
    timeCreated: d.timeCreated,
  };
  if (d.encryptionSettingsCollection) properties.encryptionSettingsCollection = d.encryptionSettingsCollection;
  const out: Record<string, unknown> = {
    name: d.name,
    id: d.id,
    type: 'Microsoft.Compute/disks',
    location: d.location,
    tags: d.tags,
    sku: { name: d.sku, tier: d.sku.startsWith('Premium') ? 'Premium' : 'Standard' },
    properties,
  };
  if (d.managedBy) out.managedBy = d.managedBy;
  return out;
}

function encryptionAtHostOf(securityProfile: unknown): boolean {
  return isObject(securityProfile) && securityProfile.encryptionAtHost === true;
}

function resolveOsType(osType: unknown, osProfile: Record<string, any>, image: unknown): 'Windows' | 'Linux' {
  if (typeof osType === 'string') {
    if (eq(osType, 'windows')) return 'Windows';
    if (eq(osType, 'linux')) return 'Linux';
    throw armError(
      400,
      'InvalidParameter',
      `The value '${truncate(osType, 20)}' of parameter 'osDisk.osType' is not allowed. Allowed values are 'Windows' and 'Linux'.`,
    );
  }
  if (osProfile.windowsConfiguration) return 'Windows';
  if (osProfile.linuxConfiguration) return 'Linux';
  const publisher = isObject(image) && typeof image.publisher === 'string' ? image.publisher : '';
  return /windows/i.test(publisher) ? 'Windows' : 'Linux';
}

function defaultImage(osType: 'Windows' | 'Linux'): unknown {
  return osType === 'Windows'
    ? { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-azure-edition', version: 'latest' }
    : { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' };
}

export function methodNotAllowed(method: string) {
  return armError(405, 'MethodNotAllowed', `The requested resource does not support http method '${truncate(method, 12)}'.`);
}

/**
 * The publisher, type and version of an extension PUT/PATCH (a VM's or a scale set model's): a field left out keeps the
 * existing extension's value; all three are required, and publisher and type never change on an existing extension.
 */
export function extensionIdentity(
  props: Record<string, unknown>,
  existing: Pick<ExtensionRecord, 'publisher' | 'type' | 'typeHandlerVersion'> | undefined,
): { publisher: string; type: string; typeHandlerVersion: string } {
  const pick = (field: 'publisher' | 'type' | 'typeHandlerVersion'): string =>
    props[field] === undefined ? (existing?.[field] ?? '') : props[field] === null ? '' : String(props[field]);
  const publisher = pick('publisher');
  const type = pick('type');
  const typeHandlerVersion = pick('typeHandlerVersion');
  if (!publisher || !type || !typeHandlerVersion)
    throw armError(
      400,
      'InvalidParameter',
      `Required parameter '${!publisher ? 'publisher' : !type ? 'type' : 'typeHandlerVersion'}' is missing (null).`,
    );
  if (existing && (!eq(existing.publisher, publisher) || !eq(existing.type, type)))
    throw armError(409, 'PropertyChangeNotAllowed', "Changing property 'publisher' or 'type' of an existing extension is not allowed.");
  return { publisher, type, typeHandlerVersion };
}

export function invalidType(path: Pick<ArmPath, 'namespace' | 'types'>) {
  return armError(
    404,
    'InvalidResourceType',
    `The resource type '${truncate(path.types.join('/'), 80)}' could not be found in the namespace ` +
      `'${truncate(path.namespace ?? '', 60)}'.`,
  );
}
