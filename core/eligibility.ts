/**
 * Scope and eligibility: should this VM be encrypted now, and if not, why not?
 *
 * Pure: VmSnapshot + EncryptionPolicy in, Assessment out. Order matters and is deliberate:
 * scope first (the operator said "not mine"), then lifecycle (being deleted / failed), then "already
 * encrypted", then what ADE cannot do at all (permanent), then transient state (busy, not running),
 * which a later event may change. Support rules follow docs/ade-behaviour.md#volume-types-and-support-limits.
 */
import { matchesAnyGlob } from './glob';
import { coversSubscription, type EncryptionMode, type EncryptionPolicy } from './policy';
import { adeModeOfVersion } from './extension-settings';
import { findAdeExtension, tagValue, type ScaleSetSnapshot, type VmSnapshot } from './vm';

export type SkipReason =
  | 'subscription-out-of-scope'
  | 'resource-group-not-included'
  | 'resource-group-excluded'
  | 'exclusion-tag'
  | 'os-filtered'
  | 'vm-deleting'
  | 'vm-provisioning-failed'
  | 'vm-busy'
  | 'vm-not-running'
  | 'scale-set-flexible';

export type UnsupportedReason =
  | 'basic-tier'
  | 'a-series'
  | 'v6-or-newer-series'
  | 'insufficient-memory'
  | 'encryption-at-host'
  | 'ade-encrypted'
  | 'customer-managed-key-sse'
  | 'ephemeral-os-disk'
  | 'ultra-or-premium-v2-disk'
  | 'windows-data-only'
  | 'linux-nvme-size'
  | 'linux-custom-image'
  | 'linux-distro-not-supported'
  | 'linux-distro-data-only'
  | 'linux-scale-set-os-disk'
  | 'scale-set-unmanaged-disks'
  | 'scale-set-dual-pass'
  | 'scale-set-encryption-at-host-mode';

export type AlreadyEncryptedEvidence = 'model-encryption-settings' | 'disk-encryption-state' | 'extension-enabled' | 'encryption-at-host';

export type Assessment =
  | {
      decision: 'encrypt';
      /**
       * The mode to use: the policy's, except a VM that was ever dual-pass must stay dual-pass
       * (docs/ade-behaviour.md#extension-versions-and-modes).
       */
      mode: EncryptionMode;
      /** An ADE extension already on the VM (failed or disabled run); reuse its name for the PUT. */
      existingExtension?: { name: string; typeHandlerVersion: string; provisioningState?: string };
      /**
       * VM already encrypted, but these data disks were attached afterwards and are not: the extension runs again with a
       * new SequenceVersion (https://learn.microsoft.com/azure/virtual-machines/windows/disk-encryption-windows#add-a-new-data-disk-to-a-vm-encrypted-with-ade);
       * dual-pass with the same Entra app and KEK settings
       * (https://learn.microsoft.com/azure/virtual-machines/windows/disk-encryption-windows-aad).
       */
      newDataDisks?: string[];
    }
  | { decision: 'skip'; reason: SkipReason; detail: string }
  | {
      decision: 'already-encrypted';
      mode: 'single-pass' | 'dual-pass' | 'encryption-at-host';
      evidence: AlreadyEncryptedEvidence;
      extensionName?: string;
      /** `VolumeType` the extension was run with, when known (may differ from the policy's). */
      volumeType?: string;
      /**
       * Dual-pass, encrypted in the guest, but the VM model has no enabled `encryptionSettings` (the second pass never
       * landed): the VM may not unlock at its next deallocation or host move until they are re-applied.
       */
      modelSettingsMissing?: true;
    }
  | { decision: 'unsupported'; reason: UnsupportedReason; detail: string };

interface ReasonInfo {
  text: string;
  /** A later event (start, update finished) can change the outcome, so the VM is worth re-assessing. */
  transient: boolean;
}

export const SKIP_REASONS: Readonly<Record<SkipReason, ReasonInfo>> = {
  'subscription-out-of-scope': { text: 'The VM is in a subscription that is not in ADE_SUBSCRIPTIONS.', transient: false },
  'resource-group-not-included': {
    text: "The VM's resource group matches none of the ADE_INCLUDE_RESOURCE_GROUPS patterns.",
    transient: false,
  },
  'resource-group-excluded': { text: "The VM's resource group matches an ADE_EXCLUDE_RESOURCE_GROUPS pattern.", transient: false },
  'exclusion-tag': { text: 'The VM carries the exclusion tag (ADE_EXCLUSION_TAG).', transient: false },
  'os-filtered': { text: "The VM's operating system is outside ADE_OS_FILTER.", transient: false },
  'vm-deleting': { text: 'The VM is being deleted.', transient: false },
  'vm-provisioning-failed': {
    text: 'The VM is in a failed provisioning state; fix the VM first, the next successful write re-triggers assessment.',
    transient: true,
  },
  'vm-busy': { text: 'The VM is being created, updated or migrated; assess again when the operation has finished.', transient: true },
  'scale-set-flexible': {
    text:
      'Handled per VM: the scale set uses Flexible orchestration, its instances are standard virtual machines that take VM ' +
      'extensions (ADE for VMs applies to Flexible scale sets), so each one is assessed and encrypted as a VM, not through ' +
      'the scale set model.',
    transient: false,
  },
  'vm-not-running': {
    text: 'The VM is not running; the ADE extension needs a running guest. It is encrypted after it starts.',
    transient: true,
  },
};

export const UNSUPPORTED_REASONS: Readonly<Record<UnsupportedReason, ReasonInfo>> = {
  'basic-tier': { text: 'ADE is not available on Basic-tier VM sizes.', transient: false },
  'a-series': { text: 'ADE is not available on A-series VM sizes (A0–A11 and Av2).', transient: false },
  'v6-or-newer-series': { text: 'ADE is not available on v6 and newer VM size series; use encryption at host instead.', transient: false },
  'insufficient-memory': {
    text:
      'The VM size has too little memory for ADE (Windows: 2 GB; Linux: 2 GB for data volumes only, 8 GB when the OS volume is ' +
      'encrypted).',
    transient: false,
  },
  'encryption-at-host': {
    text: 'Encryption at host is enabled; it cannot coexist with ADE (and already encrypts the disks).',
    transient: false,
  },
  'ade-encrypted': {
    text:
      'The VM has, or once had, Azure Disk Encryption; encryption at host cannot be combined with it nor enabled on a VM that ever ' +
      'had it. GET /api/migration plans its way off ADE.',
    transient: false,
  },
  'customer-managed-key-sse': {
    text: 'A disk uses server-side encryption with customer-managed keys (disk encryption set), which ADE does not support.',
    transient: false,
  },
  'ephemeral-os-disk': { text: 'The VM has an ephemeral OS disk, which ADE does not support.', transient: false },
  'ultra-or-premium-v2-disk': { text: 'The VM has an Ultra Disk or Premium SSD v2 disk, which ADE does not support.', transient: false },
  'windows-data-only': {
    text: 'Windows can encrypt the OS volume alone or all volumes, never data volumes only (ADE_VOLUME_TYPE=Data).',
    transient: false,
  },
  'linux-nvme-size': { text: 'Linux VMs with NVMe local disks (L-series v2+, HPC H-series) are not supported by ADE.', transient: false },
  'linux-custom-image': { text: 'Linux VMs from custom or gallery images are not supported by ADE.', transient: false },
  'linux-distro-not-supported': { text: "The Linux distribution is not in ADE's supported list.", transient: false },
  'linux-distro-data-only': {
    text: 'ADE supports only data-volume encryption on this Linux distribution, but the policy encrypts the OS volume.',
    transient: false,
  },
  'linux-scale-set-os-disk': {
    text:
      'ADE cannot encrypt the OS disk of Linux scale-set VMs (Uniform instances and Flexible members alike); ' +
      'with ADE_VOLUME_TYPE=Data their data volumes are encrypted.',
    transient: false,
  },
  'scale-set-unmanaged-disks': { text: 'ADE supports only scale sets with managed disks.', transient: false },
  'scale-set-dual-pass': {
    text: 'The scale set model carries a dual-pass (Entra app) ADE extension; on scale sets ADE runs single-pass only.',
    transient: false,
  },
  'scale-set-encryption-at-host-mode': {
    text: 'The app runs in encryption-at-host mode, which it applies to VMs only; it puts no scale set on ADE against that choice.',
    transient: false,
  },
};

export function reasonText(reason: SkipReason | UnsupportedReason): string {
  return (SKIP_REASONS as Record<string, ReasonInfo>)[reason]?.text ?? (UNSUPPORTED_REASONS as Record<string, ReasonInfo>)[reason].text;
}

/** One human-readable line for logs, tags and reports. */
export function describeAssessment(assessment: Assessment): string {
  switch (assessment.decision) {
    case 'encrypt': {
      if (assessment.mode === 'encryption-at-host') return 'Enable encryption at host.';
      const mode = assessment.mode === 'aad' ? 'dual-pass with an Entra app' : 'single-pass';
      const reuse = assessment.existingExtension ? `, reusing extension "${assessment.existingExtension.name}"` : '';
      const added = assessment.newDataDisks ? ` for data disks attached after encryption: ${assessment.newDataDisks.join(', ')}` : '';
      return `Encrypt (${mode})${reuse}${added}.`;
    }
    case 'already-encrypted':
      return assessment.mode === 'encryption-at-host'
        ? 'Already encrypted at host (securityProfile.encryptionAtHost).'
        : assessment.modelSettingsMissing
          ? `ADE-encrypted in the guest (dual-pass; evidence: ${assessment.evidence}) but the VM model has no encryptionSettings: ` +
            'they must be re-applied from the secret URL the extension reports.'
          : `Already ADE-encrypted (${assessment.mode}; evidence: ${assessment.evidence}).`;
    case 'skip':
    case 'unsupported':
      return `${assessment.decision === 'skip' ? 'Skipped' : 'Unsupported'}: ${reasonText(assessment.reason)} ${assessment.detail}`.trim();
  }
}

// ---------------------------------------------------------------------------------------------
// VM sizes

export interface VmSizeInfo {
  tier: 'Basic' | 'Standard';
  /** Upper-case family letters, e.g. `D`, `E`, `DC`, `NC`, `HB`. */
  family: string;
  /** The number after the family (vCPUs for most series; not for D v1/v2 memory-optimised sizes). */
  number: number;
  /** Lower-case feature letters after the number, e.g. `s`, `ads`, `ls`, `m`. */
  features: string;
  /** Series version (`_v3` → 3); 1 when absent. */
  version: number;
}

const SIZE = /^(Basic|Standard)_([A-Za-z]+?)(\d+)(?:-\d+)?([a-z]*)(?:_(.+))?$/;

export function parseVmSize(vmSize: string): VmSizeInfo | undefined {
  const m = SIZE.exec(vmSize.trim());
  if (!m) return undefined;
  const tier = m[1].toLowerCase() === 'basic' ? 'Basic' : 'Standard';
  const version = /(?:^|_)v(\d+)(?:_|$)/i.exec(m[5] ?? '');
  let family = m[2].toUpperCase();
  let features = m[4].toLowerCase();
  // Old premium-storage names put the `S` before the number (DS2_v2, GS3): same family as D / G.
  if (family === 'DS' || family === 'GS') {
    family = family[0];
    features = `s${features}`;
  }
  return { tier, family, number: Number(m[3]), features, version: version ? Number(version[1]) : 1 };
}

// Memory (GiB) of sizes that no family rule covers; only small sizes matter for ADE's minimums.
const KNOWN_MEMORY_GIB: Readonly<Record<string, number>> = {
  standard_b1ls: 0.5,
  standard_b1s: 1,
  standard_b1ms: 2,
  standard_b2s: 4,
  standard_b2ms: 8,
  standard_b4ms: 16,
  standard_b8ms: 32,
  standard_b12ms: 48,
  standard_b16ms: 64,
  standard_b20ms: 80,
  standard_a0: 0.75,
  standard_a1: 1.75,
  standard_a2: 3.5,
  standard_a3: 7,
  standard_a4: 14,
  standard_a5: 14,
  standard_a6: 28,
  standard_a7: 56,
};
// D / DS v1 and v2: D1–D5 general purpose, D11–D15 memory optimised.
const D_V1_V2_MEMORY_GIB: Readonly<Record<number, number>> = {
  1: 3.5,
  2: 7,
  3: 14,
  4: 28,
  5: 56,
  11: 14,
  12: 28,
  13: 56,
  14: 112,
  15: 140,
};

/** Memory of a size in GiB, from the snapshot when the adapter knew it, else from size-name rules; undefined if unknown. */
export function memoryGiBOf(vm: Pick<VmSnapshot, 'vmSize' | 'memoryGiB'>): number | undefined {
  if (vm.memoryGiB !== undefined) return vm.memoryGiB;
  const known = KNOWN_MEMORY_GIB[vm.vmSize.trim().toLowerCase()];
  if (known !== undefined) return known;
  const size = parseVmSize(vm.vmSize);
  if (!size || size.tier === 'Basic') return undefined;
  const { family, number: n, features, version } = size;
  switch (family) {
    case 'B':
      // Bv2: `t` = 0.5 GiB/vCPU, `l` = 2, otherwise 4. Bv1 sizes are in the table.
      if (version < 2) return undefined;
      return n * (features.includes('t') ? 0.5 : features.includes('l') ? 2 : 4);
    case 'A':
      return version >= 2 ? n * (features.includes('m') ? 8 : 2) : undefined;
    case 'D':
      if (version <= 2) return D_V1_V2_MEMORY_GIB[n];
      return n * (features.includes('l') ? 2 : 4);
    case 'E':
      return n * 8;
    case 'F':
      return n * (features.includes('m') ? 8 : features.includes('l') ? 1 : 2);
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Linux images: the supported distributions; custom images are unsupported (docs/ade-behaviour.md#volume-types-and-support-limits)

const LINUX_SUPPORTED_PUBLISHERS = ['canonical', 'redhat', 'openlogic', 'oracle', 'microsoftcblmariner'];
const LINUX_DATA_ONLY_PUBLISHERS = ['suse'];

function linuxImageProblem(vm: VmSnapshot, policy: EncryptionPolicy): { reason: UnsupportedReason; detail: string } | undefined {
  const image = vm.imageReference;
  if (!image) return undefined; // attached OS disk or unknown: let the extension's own checks decide
  const customId = image.id ?? image.sharedGalleryImageId ?? image.communityGalleryImageId;
  if (customId !== undefined && !image.publisher) return { reason: 'linux-custom-image', detail: `Image: ${customId}.` };
  const publisher = image.publisher?.toLowerCase();
  if (publisher === undefined) return undefined;
  const label = `${image.publisher}:${image.offer ?? '?'}:${image.sku ?? '?'}`;
  if (LINUX_DATA_ONLY_PUBLISHERS.includes(publisher)) {
    return policy.volumeType === 'Data'
      ? undefined
      : { reason: 'linux-distro-data-only', detail: `Image ${label}; volume type ${policy.volumeType}.` };
  }
  if (!LINUX_SUPPORTED_PUBLISHERS.includes(publisher)) return { reason: 'linux-distro-not-supported', detail: `Image ${label}.` };
  return undefined;
}

// ---------------------------------------------------------------------------------------------

const BUSY_STATES = ['creating', 'updating', 'migrating'];
const NOT_RUNNING: ReadonlyArray<VmSnapshot['powerState']> = ['stopped', 'stopping', 'deallocated', 'deallocating', 'starting'];

export function assessVm(vm: VmSnapshot, policy: EncryptionPolicy): Assessment {
  const skip = (reason: SkipReason, detail: string): Assessment => ({ decision: 'skip', reason, detail });
  const unsupported = (reason: UnsupportedReason, detail: string): Assessment => ({ decision: 'unsupported', reason, detail });
  const { scope } = policy;

  // 1. Scope
  if (!coversSubscription(policy, vm.subscriptionId)) return skip('subscription-out-of-scope', `Subscription ${vm.subscriptionId}.`);
  if (!matchesAnyGlob(vm.resourceGroup, scope.includeResourceGroups))
    return skip(
      'resource-group-not-included',
      `Resource group "${vm.resourceGroup}"; include patterns: ${scope.includeResourceGroups.join(', ')}.`,
    );
  const excludedBy = scope.excludeResourceGroups.find((p) => matchesAnyGlob(vm.resourceGroup, [p]));
  if (excludedBy !== undefined) return skip('resource-group-excluded', `Resource group "${vm.resourceGroup}" matches "${excludedBy}".`);
  const tag = tagValue(vm.tags, scope.exclusionTag.name);
  if (tag !== undefined && (scope.exclusionTag.value === undefined || tag.toLowerCase() === scope.exclusionTag.value.toLowerCase())) {
    return skip('exclusion-tag', `Tag ${scope.exclusionTag.name}=${tag}.`);
  }
  if (scope.osFilter !== 'all' && vm.osType.toLowerCase() !== scope.osFilter)
    return skip('os-filtered', `OS ${vm.osType}; filter ${scope.osFilter}.`);

  // 2. Lifecycle that makes any work pointless
  const provisioning = vm.provisioningState.toLowerCase();
  if (provisioning === 'deleting') return skip('vm-deleting', 'Provisioning state Deleting.');
  if (provisioning === 'failed') return skip('vm-provisioning-failed', 'Provisioning state Failed.');

  if (policy.mode === 'encryption-at-host') return assessAtHost(vm);

  // 3. Already encrypted (before support checks: an encrypted VM is reported as such, not as unsupported)
  const extension = findAdeExtension(vm);
  const dualPassHistory = vm.osDisk.encryptionSettings !== undefined; // presence alone counts (see docs/ade-behaviour.md)
  const extensionMode = extension ? adeModeOfVersion(vm.osType, extension.typeHandlerVersion) : undefined;
  const mode: 'single-pass' | 'dual-pass' = dualPassHistory || extensionMode === 'dual-pass' ? 'dual-pass' : 'single-pass';
  const extensionVolumeType = typeof extension?.settings?.VolumeType === 'string' ? extension.settings.VolumeType : undefined;
  const already = (evidence: AlreadyEncryptedEvidence): Assessment => ({
    decision: 'already-encrypted',
    mode,
    evidence,
    ...(extension ? { extensionName: extension.name } : {}),
    ...(extensionVolumeType !== undefined ? { volumeType: extensionVolumeType } : {}),
    ...(mode === 'dual-pass' && vm.osDisk.encryptionSettings?.enabled !== true ? { modelSettingsMissing: true as const } : {}),
  });
  const operation =
    typeof extension?.settings?.EncryptionOperation === 'string' ? extension.settings.EncryptionOperation.toLowerCase() : '';
  const evidence: AlreadyEncryptedEvidence | undefined =
    vm.osDisk.encryptionSettings?.enabled === true
      ? 'model-encryption-settings'
      : diskShowsEncrypted(vm)
        ? 'disk-encryption-state'
        : extension && extension.provisioningState?.toLowerCase() === 'succeeded' && operation.startsWith('enableencryption')
          ? 'extension-enabled'
          : undefined;
  // Single-pass stamps every disk it encrypts; a data disk without a stamp was attached after the last run. Dual-pass keeps
  // no per-disk state in Azure (the model holds the OS disk's settings only): the app's own run records the LUNs it
  // covered in a tag, and a data disk at another LUN was attached afterwards.
  const coversData = evidence !== undefined && policy.volumeType !== 'OS' && extensionVolumeType?.toLowerCase() !== 'os';
  const newDataDisks = !coversData
    ? []
    : mode === 'single-pass'
      ? unstampedDataDisks(vm)
      : vm.osDisk.encryptionSettings?.enabled === true
        ? uncoveredDataDisks(vm)
        : [];
  if (evidence && newDataDisks.length === 0) return already(evidence);

  // 4. Permanent: what ADE cannot do
  if (vm.securityProfile?.encryptionAtHost === true) return unsupported('encryption-at-host', 'securityProfile.encryptionAtHost is true.');
  const cmkDisk = [vm.osDisk, ...vm.dataDisks].find((d) => d.diskEncryptionSetId);
  if (cmkDisk) return unsupported('customer-managed-key-sse', `Disk "${cmkDisk.name}" uses ${cmkDisk.diskEncryptionSetId}.`);
  const size = parseVmSize(vm.vmSize);
  if (size?.tier === 'Basic') return unsupported('basic-tier', `Size ${vm.vmSize}.`);
  if (size?.family === 'A') return unsupported('a-series', `Size ${vm.vmSize}.`);
  if (size && size.version >= 6) return unsupported('v6-or-newer-series', `Size ${vm.vmSize} is a v${size.version} series.`);
  if (vm.osType === 'Windows' && policy.volumeType === 'Data') return unsupported('windows-data-only', 'Policy volume type is Data.');
  const encryptsOs = policy.volumeType !== 'Data';
  const memory = memoryGiBOf(vm);
  const minimum = vm.osType === 'Linux' && encryptsOs ? 8 : 2;
  if (memory !== undefined && memory < minimum)
    return unsupported(
      'insufficient-memory',
      `Size ${vm.vmSize} has ${memory} GB; at least ${minimum} GB is needed` +
        `${vm.osType === 'Linux' && encryptsOs ? ' to encrypt the Linux OS volume' : ''}.`,
    );
  if (vm.osDisk.ephemeral === true) return unsupported('ephemeral-os-disk', `OS disk "${vm.osDisk.name}".`);
  const specialDisk = [vm.osDisk, ...vm.dataDisks].find((d) =>
    ['ultrassd_lrs', 'premiumv2_lrs'].includes(d.storageAccountType?.toLowerCase() ?? ''),
  );
  if (specialDisk) return unsupported('ultra-or-premium-v2-disk', `Disk "${specialDisk.name}" is ${specialDisk.storageAccountType}.`);
  if (vm.osType === 'Linux') {
    if (size && ((size.family === 'L' && size.version >= 2) || ['HB', 'HC', 'HX'].includes(size.family)))
      return unsupported('linux-nvme-size', `Size ${vm.vmSize}.`);
    if (vm.virtualMachineScaleSetId !== undefined && encryptsOs)
      return unsupported('linux-scale-set-os-disk', `Scale set ${vm.virtualMachineScaleSetId}; volume type ${policy.volumeType}.`);
    const imageProblem = linuxImageProblem(vm, policy);
    if (imageProblem) return unsupported(imageProblem.reason, imageProblem.detail);
  }

  // 5. Transient state: worth another look later
  if (BUSY_STATES.includes(provisioning)) return skip('vm-busy', `Provisioning state ${vm.provisioningState}.`);
  if (NOT_RUNNING.includes(vm.powerState)) return skip('vm-not-running', `Power state ${vm.powerState}.`);

  return {
    decision: 'encrypt',
    mode: mode === 'dual-pass' ? 'aad' : newDataDisks.length > 0 ? 'single-pass' : policy.mode,
    ...(newDataDisks.length > 0 ? { newDataDisks } : {}),
    ...(extension
      ? {
          existingExtension: {
            name: extension.name,
            typeHandlerVersion: extension.typeHandlerVersion,
            ...(extension.provisioningState ? { provisioningState: extension.provisioningState } : {}),
          },
        }
      : {}),
  };
}

/**
 * A scale set, judged through its model. Azure supports ADE on scale sets with managed disks, OS and data volumes on
 * Windows, data volumes only on Linux, single-pass only
 * (https://learn.microsoft.com/azure/virtual-machine-scale-sets/disk-encryption-overview). A Flexible set's instances are
 * standard VMs that take VM extensions
 * (https://learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-orchestration-modes), and ADE for
 * VMs applies to Flexible scale sets ("Applies to: Flexible scale sets",
 * https://learn.microsoft.com/azure/virtual-machines/windows/disk-encryption-windows), so the VM pipeline assesses and
 * encrypts each member and the set itself is skipped as handled per VM. A Linux member is still a scale set VM: its OS
 * volume is unsupported (`linux-scale-set-os-disk`), its data volumes are not.
 * The size, disk and image rules are the VM rules, applied to the model. An `encrypt` decision is always single-pass.
 */
export function assessScaleSet(set: ScaleSetSnapshot, policy: EncryptionPolicy): Assessment {
  const asVm: VmSnapshot = {
    id: set.id,
    name: set.name,
    resourceGroup: set.resourceGroup,
    subscriptionId: set.subscriptionId,
    location: set.location,
    osType: set.osType ?? 'Windows',
    vmSize: set.vmSize,
    provisioningState: set.provisioningState,
    powerState: 'running',
    tags: set.tags,
    ...(set.securityProfile ? { securityProfile: set.securityProfile } : {}),
    ...(set.imageReference ? { imageReference: set.imageReference } : {}),
    osDisk: set.osDisk,
    dataDisks: set.dataDisks,
    extensions: set.extensions,
    ...(set.memoryGiB !== undefined ? { memoryGiB: set.memoryGiB } : {}),
    virtualMachineScaleSetId: set.id,
  };
  // Scope and lifecycle first, exactly as for a VM.
  const scoped = assessVm(asVm, { ...policy, mode: 'single-pass' });
  if (scoped.decision === 'skip' && scoped.reason !== 'vm-busy') return scoped;
  if (set.orchestrationMode === 'Flexible')
    return {
      decision: 'skip',
      reason: 'scale-set-flexible',
      detail: `Scale set ${set.name}; ${set.capacity} instance(s), each assessed by the VM pipeline.`,
    };
  // The operator chose encryption at host (ADE retires); the app does not put a scale set on ADE against that choice.
  if (policy.mode === 'encryption-at-host')
    return {
      decision: 'unsupported',
      reason: 'scale-set-encryption-at-host-mode',
      detail:
        `Scale set ${set.name}: ADE_ENCRYPTION_MODE=encryption-at-host and the app enables it on VMs only; ` +
        'set securityProfile.encryptionAtHost on the scale set model.',
    };
  const extension = findAdeExtension(asVm);
  if (extension && adeModeOfVersion(asVm.osType, extension.typeHandlerVersion) === 'dual-pass')
    return {
      decision: 'unsupported',
      reason: 'scale-set-dual-pass',
      detail: `Extension "${extension.name}" version ${extension.typeHandlerVersion} on the model.`,
    };
  if (!set.managedDisks) return { decision: 'unsupported', reason: 'scale-set-unmanaged-disks', detail: `Scale set ${set.name}.` };
  return scoped;
}

/**
 * ADE_ENCRYPTION_MODE=encryption-at-host, after scope and lifecycle: already at host; any trace of ADE refuses (the two
 * cannot be combined, and a VM that ever had ADE cannot get encryption at host); busy waits. A stopped or deallocated VM
 * is eligible: enabling needs it deallocated anyway. The subscription's feature registration and the size's capability
 * need Azure reads and are checked by the run
 * (https://learn.microsoft.com/azure/virtual-machines/disks-enable-host-based-encryption-portal#restrictions).
 */
function assessAtHost(vm: VmSnapshot): Assessment {
  if (vm.securityProfile?.encryptionAtHost === true)
    return { decision: 'already-encrypted', mode: 'encryption-at-host', evidence: 'encryption-at-host' };
  const ade = adeEvidence(vm);
  if (ade) return { decision: 'unsupported', reason: 'ade-encrypted', detail: `Evidence: ${ade}.` };
  if (BUSY_STATES.includes(vm.provisioningState.toLowerCase()))
    return { decision: 'skip', reason: 'vm-busy', detail: `Provisioning state ${vm.provisioningState}.` };
  return { decision: 'encrypt', mode: 'encryption-at-host' };
}

/** What shows that Azure Disk Encryption is or was on the VM, or undefined. */
export function adeEvidence(vm: VmSnapshot): string | undefined {
  const extension = findAdeExtension(vm);
  if (extension) return `ADE extension "${extension.name}" (${extension.typeHandlerVersion})`;
  if (vm.osDisk.encryptionSettings !== undefined) return 'storageProfile.osDisk.encryptionSettings in the VM model';
  if (diskShowsEncrypted(vm)) return 'a disk reports EncryptionState/encrypted';
  const stamped = (vm.instanceView?.disks ?? []).find((d) => (d.encryptionSettings ?? []).length > 0);
  if (stamped) return `disk "${stamped.name ?? '?'}" carries ADE encryption settings`;
  return undefined;
}

/**
 * Tag the app writes with the dual-pass second pass: the LUNs of the data disks that run encrypted (comma-separated,
 * possibly empty). Dual-pass leaves no per-disk trace in Azure, so this is how a later VM write tells a data disk attached
 * afterwards. Absent on VMs the app did not encrypt dual-pass: their data disks are not judged.
 */
export const DUAL_PASS_DATA_LUNS_TAG = 'ade-autopilot/encrypted-data-luns';

/** The tag's value for these data disks. */
export function dualPassDataLunsTag(luns: readonly number[]): string {
  return [...new Set(luns)].sort((a, b) => a - b).join(',');
}

/** Dual-pass: model data disks at a LUN the app's run did not cover (DUAL_PASS_DATA_LUNS_TAG); none without the tag. */
function uncoveredDataDisks(vm: VmSnapshot): string[] {
  const tag = tagValue(vm.tags, DUAL_PASS_DATA_LUNS_TAG);
  if (tag === undefined) return [];
  const covered = new Set(
    tag
      .split(',')
      .map((part) => part.trim())
      .filter((part) => /^\d+$/.test(part))
      .map(Number),
  );
  return vm.dataDisks.filter((d) => !covered.has(d.lun)).map((d) => d.name);
}

/** Model data disks whose instance view shows neither an enabled encryption stamp nor `EncryptionState/encrypted`. */
function unstampedDataDisks(vm: VmSnapshot): string[] {
  const views = vm.instanceView?.disks;
  if (!views) return [];
  return vm.dataDisks
    .filter((d) => {
      const view = views.find((v) => v.name?.toLowerCase() === d.name.toLowerCase());
      if (!view) return false;
      const stamped = (view.encryptionSettings ?? []).some((s) => s.enabled === true);
      const last = (view.statuses ?? [])
        .map((s) => s.code ?? '')
        .filter((c) => c.toLowerCase().startsWith('encryptionstate/'))
        .at(-1);
      return !stamped && last?.toLowerCase() !== 'encryptionstate/encrypted';
    })
    .map((d) => d.name);
}

/** Any instance-view disk whose last `EncryptionState/*` status is `encrypted` (docs/ade-behaviour.md#reading-the-status). */
function diskShowsEncrypted(vm: VmSnapshot): boolean {
  return (vm.instanceView?.disks ?? []).some((disk) => {
    const last = (disk.statuses ?? [])
      .map((s) => s.code ?? '')
      .filter((c) => c.toLowerCase().startsWith('encryptionstate/'))
      .at(-1);
    return last?.toLowerCase() === 'encryptionstate/encrypted';
  });
}
