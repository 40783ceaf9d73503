/**
 * VmSnapshot: what the app reads from ARM about one VM, SDK-free.
 *
 * Field names follow `@azure/arm-compute` `VirtualMachine` (with `$expand=instanceView`) so the
 * adapter is a flat copy: `hardwareProfile.vmSize` → `vmSize`, `storageProfile.osDisk` → `osDisk`,
 * `resources[]` (extensions; the SDK calls the type `typePropertiesType`) → `extensions[]`,
 * `instanceView.statuses` `PowerState/*` → `powerState`.
 */

import { ADE_EXTENSION_TYPE, isAdeExtension } from './extension-settings';

export type OsType = 'Windows' | 'Linux';

/** From the instance view's `PowerState/<x>` status; `unknown` when the instance view was not read. */
export type PowerState = 'running' | 'starting' | 'stopping' | 'stopped' | 'deallocating' | 'deallocated' | 'unknown';

export interface SubResourceRef {
  id?: string;
}

/** `DiskEncryptionSettings` as in the VM model (dual-pass) and in instance-view disks (single-pass). */
export interface DiskEncryptionSettings {
  enabled?: boolean;
  diskEncryptionKey?: { secretUrl: string; sourceVault: SubResourceRef };
  keyEncryptionKey?: { keyUrl: string; sourceVault: SubResourceRef };
}

export interface InstanceViewStatus {
  code?: string;
  level?: 'Info' | 'Warning' | 'Error';
  displayStatus?: string;
  message?: string;
  time?: string;
}

export interface DiskInstanceView {
  name?: string;
  encryptionSettings?: DiskEncryptionSettings[];
  statuses?: InstanceViewStatus[];
}

export interface ExtensionInstanceView {
  name?: string;
  /** `publisher.type`, e.g. `Microsoft.Azure.Security.AzureDiskEncryption`. */
  type?: string;
  typeHandlerVersion?: string;
  statuses?: InstanceViewStatus[];
  substatuses?: InstanceViewStatus[];
}

export interface VmInstanceView {
  statuses?: InstanceViewStatus[];
  disks?: DiskInstanceView[];
  extensions?: ExtensionInstanceView[];
}

export interface VmExtensionSnapshot {
  /** The instance name; need not equal the type (templates use e.g. `diskEncryption`). */
  name: string;
  publisher: string;
  /** Extension type (`typePropertiesType` in the TS SDK). */
  type: string;
  typeHandlerVersion: string;
  provisioningState?: string;
  /** Public settings only. Protected settings are never read back by ARM and never stored here. */
  settings?: Record<string, unknown>;
}

export interface OsDiskSnapshot {
  name: string;
  id?: string;
  /** `managedDisk.storageAccountType`, e.g. `Premium_LRS`, `UltraSSD_LRS`, `PremiumV2_LRS`. */
  storageAccountType?: string;
  /** `managedDisk.diskEncryptionSet.id`: server-side encryption with customer-managed keys. */
  diskEncryptionSetId?: string;
  /** `diffDiskSettings.option === 'Local'`: ephemeral OS disk. */
  ephemeral?: boolean;
  /** Dual-pass ADE writes here; present (even with enabled:false) means the VM was dual-pass once. */
  encryptionSettings?: DiskEncryptionSettings;
}

export interface DataDiskSnapshot {
  lun: number;
  name: string;
  id?: string;
  storageAccountType?: string;
  diskEncryptionSetId?: string;
}

export interface ImageReferenceSnapshot {
  publisher?: string;
  offer?: string;
  sku?: string;
  version?: string;
  /** Custom or gallery image id; marketplace images have publisher/offer/sku instead. */
  id?: string;
  sharedGalleryImageId?: string;
  communityGalleryImageId?: string;
}

export interface VmSnapshot {
  id: string;
  name: string;
  resourceGroup: string;
  subscriptionId: string;
  location: string;
  osType: OsType;
  /**
   * `osProfile.computerName`: the guest hostname ARM set at creation (ADE's `MachineName` tag).
   * Absent for VMs created from a specialized or attached OS disk (no OS profile).
   */
  computerName?: string;
  vmSize: string;
  /** ARM provisioning state: `Succeeded`, `Creating`, `Updating`, `Deleting`, `Failed`, `Migrating`, … */
  provisioningState: string;
  powerState: PowerState;
  tags: Record<string, string>;
  securityProfile?: { encryptionAtHost?: boolean; securityType?: string };
  imageReference?: ImageReferenceSnapshot;
  osDisk: OsDiskSnapshot;
  dataDisks: DataDiskSnapshot[];
  extensions: VmExtensionSnapshot[];
  /** Memory of the size in GiB, when the adapter looked it up (Resource SKUs API). */
  memoryGiB?: number;
  /** Set when the VM belongs to a scale set (flexible orchestration). */
  virtualMachineScaleSetId?: string;
  instanceView?: VmInstanceView;
}

/**
 * The VM's ADE extension, whatever its instance name. Prefers the type that matches the VM's OS
 * when (oddly) both are present. Use the returned `name` for GET/PUT.
 */
export function findAdeExtension(vm: Pick<VmSnapshot, 'extensions' | 'osType'>): VmExtensionSnapshot | undefined {
  const candidates = vm.extensions.filter((e) => isAdeExtension(e));
  const expected = ADE_EXTENSION_TYPE[vm.osType].toLowerCase();
  return candidates.find((e) => e.type.toLowerCase() === expected) ?? candidates[0];
}

/** The instance view of the given extension, matched by name (instance views carry the name). */
export function findExtensionInstanceView(vm: Pick<VmSnapshot, 'instanceView'>, extensionName: string): ExtensionInstanceView | undefined {
  return vm.instanceView?.extensions?.find((e) => e.name?.toLowerCase() === extensionName.toLowerCase());
}

/** Maps an instance view's `PowerState/<x>` code to a PowerState (accepts SDK or JSON statuses). */
export function powerStateOf(statuses: readonly { code?: string }[] | undefined): PowerState {
  const code = statuses
    ?.map((s) => s.code ?? '')
    .filter((c) => c.toLowerCase().startsWith('powerstate/'))
    .at(-1);
  if (code === undefined) return 'unknown';
  const value = code.slice('powerstate/'.length).toLowerCase();
  const known: readonly PowerState[] = ['running', 'starting', 'stopping', 'stopped', 'deallocating', 'deallocated'];
  return known.includes(value as PowerState) ? (value as PowerState) : 'unknown';
}

/** Looks a tag up case-insensitively (ARM tag names are case-insensitive). */
export function tagValue(tags: Record<string, string>, name: string): string | undefined {
  const lower = name.toLowerCase();
  const key = Object.keys(tags).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : tags[key];
}

export type ScaleSetUpgradeMode = 'Automatic' | 'Rolling' | 'Manual';

/**
 * A virtual machine scale set's model (`virtualMachineProfile`), as the eligibility rules need it.
 * Uniform instances follow this model; Flexible instances are standard VMs with their own model
 * (https://learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-orchestration-modes).
 */
export interface ScaleSetSnapshot {
  id: string;
  name: string;
  resourceGroup: string;
  subscriptionId: string;
  location: string;
  orchestrationMode: 'Uniform' | 'Flexible';
  /** `upgradePolicy.mode`; Azure's default is Manual. */
  upgradeMode: ScaleSetUpgradeMode;
  capacity: number;
  provisioningState: string;
  tags: Record<string, string>;
  /** Absent for a Flexible set created without a VM profile. */
  osType?: OsType;
  vmSize: string;
  /** False when the model's OS disk is an unmanaged (VHD) disk. */
  managedDisks: boolean;
  securityProfile?: { encryptionAtHost?: boolean; securityType?: string };
  imageReference?: ImageReferenceSnapshot;
  osDisk: OsDiskSnapshot;
  dataDisks: DataDiskSnapshot[];
  /** `virtualMachineProfile.extensionProfile.extensions`. */
  extensions: VmExtensionSnapshot[];
  memoryGiB?: number;
}
