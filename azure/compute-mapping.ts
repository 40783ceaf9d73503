/**
 * Pure mapping from @azure/arm-compute models to core's SDK-free VmSnapshot and friends.
 * Kept apart from the client code so it can be table-tested without a network.
 */
import type {
  Disk,
  DiskEncryptionSettings as SdkDiskEncryptionSettings,
  InstanceViewStatus as SdkInstanceViewStatus,
  VirtualMachine,
  VirtualMachineExtension,
  VirtualMachineExtensionInstanceView,
} from '@azure/arm-compute';
import { ValidationError } from '../core/errors';
import { parseResourceId, parseVmId } from '../core/resource-ids';
import {
  powerStateOf,
  type DiskEncryptionSettings,
  type ExtensionInstanceView,
  type InstanceViewStatus,
  type OsType,
  type VmSnapshot,
} from '../core/vm';
import { resourcePlacement } from './arm-clients';
import type { DiskEncryptionInfo, ExtensionStatus } from './ports';

export function toVmSnapshot(vm: VirtualMachine): VmSnapshot {
  if (!vm.id) throw new ValidationError('Resource Manager returned a VM without an id', { field: 'id' });
  const ids = parseVmId(vm.id, 'vm.id');
  const osDisk = vm.storageProfile?.osDisk;
  const instanceView = vm.instanceView
    ? {
        statuses: vm.instanceView.statuses?.map(toStatus),
        disks: vm.instanceView.disks?.map((d) => ({
          name: d.name,
          encryptionSettings: d.encryptionSettings?.map(toEncryptionSettings),
          statuses: d.statuses?.map(toStatus),
        })),
        extensions: vm.instanceView.extensions?.map(toExtensionInstanceView),
      }
    : undefined;

  const snapshot: VmSnapshot = {
    id: vm.id,
    ...resourcePlacement(ids, vm),
    osType: osTypeOf(vm),
    // No OS profile (specialized/attached OS disk) → unknown; an empty name is as good as none.
    computerName: vm.osProfile?.computerName?.trim() || undefined,
    vmSize: vm.hardwareProfile?.vmSize ?? '',
    provisioningState: vm.provisioningState ?? 'Unknown',
    powerState: instanceView ? powerStateOf(instanceView.statuses) : 'unknown',
    tags: { ...(vm.tags ?? {}) },
    osDisk: {
      name: osDisk?.name ?? '',
      id: osDisk?.managedDisk?.id,
      storageAccountType: osDisk?.managedDisk?.storageAccountType,
      diskEncryptionSetId: osDisk?.managedDisk?.diskEncryptionSet?.id,
      ephemeral: osDisk?.diffDiskSettings?.option?.toLowerCase() === 'local' ? true : undefined,
      encryptionSettings: osDisk?.encryptionSettings ? toEncryptionSettings(osDisk.encryptionSettings) : undefined,
    },
    dataDisks: (vm.storageProfile?.dataDisks ?? []).map((d) => ({
      lun: d.lun,
      name: d.name ?? '',
      id: d.managedDisk?.id,
      storageAccountType: d.managedDisk?.storageAccountType,
      diskEncryptionSetId: d.managedDisk?.diskEncryptionSet?.id,
    })),
    extensions: (vm.resources ?? []).map((e) => ({
      name: e.name ?? '',
      publisher: e.publisher ?? '',
      type: e.typePropertiesType ?? '',
      typeHandlerVersion: e.typeHandlerVersion ?? '',
      provisioningState: e.provisioningState,
      settings: isRecord(e.settings) ? { ...e.settings } : undefined,
    })),
  };
  if (vm.securityProfile)
    snapshot.securityProfile = { encryptionAtHost: vm.securityProfile.encryptionAtHost, securityType: vm.securityProfile.securityType };
  const image = vm.storageProfile?.imageReference;
  if (image) {
    snapshot.imageReference = {
      publisher: image.publisher,
      offer: image.offer,
      sku: image.sku,
      version: image.version,
      id: image.id,
      sharedGalleryImageId: image.sharedGalleryImageId,
      communityGalleryImageId: image.communityGalleryImageId,
    };
  }
  if (vm.virtualMachineScaleSet?.id) snapshot.virtualMachineScaleSetId = vm.virtualMachineScaleSet.id;
  if (instanceView) snapshot.instanceView = instanceView;
  return dropUndefined(snapshot);
}

/** `storageProfile.osDisk.osType`, else inferred from the OS profile; ADE needs to know which extension to use. */
function osTypeOf(vm: VirtualMachine): OsType {
  const declared = vm.storageProfile?.osDisk?.osType?.toLowerCase();
  if (declared === 'windows') return 'Windows';
  if (declared === 'linux') return 'Linux';
  if (vm.osProfile?.linuxConfiguration) return 'Linux';
  if (vm.osProfile?.windowsConfiguration) return 'Windows';
  throw new ValidationError(`VM ${vm.id ?? vm.name ?? '?'} has no OS type in its model (storageProfile.osDisk.osType)`, {
    field: 'storageProfile.osDisk.osType',
  });
}

function toStatus(s: SdkInstanceViewStatus): InstanceViewStatus {
  return dropUndefined({
    code: s.code,
    level: s.level as InstanceViewStatus['level'],
    displayStatus: s.displayStatus,
    message: s.message,
    time: s.time instanceof Date ? s.time.toISOString() : (s.time as string | undefined),
  });
}

function toEncryptionSettings(s: SdkDiskEncryptionSettings): DiskEncryptionSettings {
  const out: DiskEncryptionSettings = {};
  if (s.enabled !== undefined) out.enabled = s.enabled;
  if (s.diskEncryptionKey)
    out.diskEncryptionKey = { secretUrl: s.diskEncryptionKey.secretUrl, sourceVault: { id: s.diskEncryptionKey.sourceVault?.id } };
  if (s.keyEncryptionKey)
    out.keyEncryptionKey = { keyUrl: s.keyEncryptionKey.keyUrl, sourceVault: { id: s.keyEncryptionKey.sourceVault?.id } };
  return out;
}

export function toSdkEncryptionSettings(s: DiskEncryptionSettings): SdkDiskEncryptionSettings {
  const out: SdkDiskEncryptionSettings = {};
  if (s.enabled !== undefined) out.enabled = s.enabled;
  if (s.diskEncryptionKey)
    out.diskEncryptionKey = { secretUrl: s.diskEncryptionKey.secretUrl, sourceVault: { id: s.diskEncryptionKey.sourceVault.id } };
  if (s.keyEncryptionKey)
    out.keyEncryptionKey = { keyUrl: s.keyEncryptionKey.keyUrl, sourceVault: { id: s.keyEncryptionKey.sourceVault.id } };
  return out;
}

function toExtensionInstanceView(v: VirtualMachineExtensionInstanceView): ExtensionInstanceView {
  return dropUndefined({
    name: v.name,
    type: v.type,
    typeHandlerVersion: v.typeHandlerVersion,
    statuses: v.statuses?.map(toStatus),
    substatuses: v.substatuses?.map(toStatus),
  });
}

export function toExtensionStatus(e: VirtualMachineExtension, fallbackName: string): ExtensionStatus {
  return dropUndefined({
    name: e.name ?? fallbackName,
    publisher: e.publisher,
    type: e.typePropertiesType,
    typeHandlerVersion: e.typeHandlerVersion,
    provisioningState: e.provisioningState,
    // ARM never returns protectedSettings; copying public settings only, to be explicit.
    settings: isRecord(e.settings) ? { ...e.settings } : undefined,
    instanceView: e.instanceView ? toExtensionInstanceView(e.instanceView) : undefined,
  });
}

export function toDiskEncryptionInfo(disk: Disk): DiskEncryptionInfo {
  if (!disk.id) throw new ValidationError('Resource Manager returned a disk without an id', { field: 'id' });
  const collection = disk.encryptionSettingsCollection;
  return dropUndefined({
    id: disk.id,
    name: disk.name ?? parseResourceId(disk.id).names.at(-1) ?? '',
    encryptionType: disk.encryption?.type,
    encryptionSettingsCollection: collection
      ? dropUndefined({
          enabled: collection.enabled,
          encryptionSettingsVersion: collection.encryptionSettingsVersion,
          encryptionSettings: (collection.encryptionSettings ?? []).map((s) =>
            dropUndefined({
              diskEncryptionKey: s.diskEncryptionKey
                ? { secretUrl: s.diskEncryptionKey.secretUrl, sourceVaultId: s.diskEncryptionKey.sourceVault?.id }
                : undefined,
              keyEncryptionKey: s.keyEncryptionKey
                ? { keyUrl: s.keyEncryptionKey.keyUrl, sourceVaultId: s.keyEncryptionKey.sourceVault?.id }
                : undefined,
            }),
          ),
        })
      : undefined,
  });
}

/** Merges tags the way ARM compares names: case-insensitively, the new value (and casing) wins. */
export function mergeTags(current: Readonly<Record<string, string>>, updates: Readonly<Record<string, string>>): Record<string, string> {
  const merged: Record<string, string> = {};
  const updateKeys = new Set(Object.keys(updates).map((k) => k.toLowerCase()));
  for (const [k, v] of Object.entries(current)) if (!updateKeys.has(k.toLowerCase())) merged[k] = v;
  for (const [k, v] of Object.entries(updates)) merged[k] = v;
  return merged;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Removes keys whose value is undefined so snapshots compare and serialise cleanly. */
function dropUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as Array<keyof T>) if (value[key] === undefined) delete value[key];
  return value;
}
