/**
 * Scale set progress, judged per instance: after ADE is on a Uniform scale set's model, each instance must have the
 * latest model applied, its ADE extension succeeded and its volumes reported encrypted
 * (https://learn.microsoft.com/azure/virtual-machine-scale-sets/disk-encryption-overview). Pure.
 */
import type { EncryptionPolicy } from './policy';
import type { ScaleSetUpgradeMode } from './vm';

/** What one instance reports (`virtualMachineScaleSetVMs` list + instance view). */
export interface ScaleSetInstanceStatus {
  instanceId: string;
  latestModelApplied: boolean;
  /** The ADE extension's first status code, e.g. `ProvisioningState/succeeded`; undefined before it ran. */
  adeStatusCode?: string;
  adeStatusMessage?: string;
  /** Last `EncryptionState/*` code of each disk, OS disk first (`none` when the disk reports none). */
  diskStates: string[];
}

export type InstanceVerdict = 'encrypted' | 'pending' | 'stale' | 'failed';

export interface ScaleSetProgress {
  /** Every instance encrypted (an empty set counts as done: nothing to encrypt). */
  done: boolean;
  byInstance: Record<string, InstanceVerdict>;
  /** Instances still on an older model: the ones `updateInstances` must name under a Manual upgrade policy. */
  stale: string[];
  failed: Array<{ instanceId: string; message: string }>;
}

/**
 * One instance's verdict. With `volumeType` Data (Linux scale sets: data volumes only) the OS disk is not expected to
 * be encrypted; otherwise every disk is.
 */
export function instanceVerdict(i: ScaleSetInstanceStatus, volumeType: 'All' | 'OS' | 'Data'): InstanceVerdict {
  const code = i.adeStatusCode?.toLowerCase();
  if (code === 'provisioningstate/failed') return 'failed';
  if (!i.latestModelApplied) return 'stale';
  if (code !== 'provisioningstate/succeeded') return 'pending';
  const expected = volumeType === 'Data' ? i.diskStates.slice(1) : volumeType === 'OS' ? i.diskStates.slice(0, 1) : i.diskStates;
  return expected.every((s) => s.toLowerCase() === 'encryptionstate/encrypted') ? 'encrypted' : 'pending';
}

export function scaleSetProgress(instances: readonly ScaleSetInstanceStatus[], volumeType: 'All' | 'OS' | 'Data'): ScaleSetProgress {
  const byInstance: Record<string, InstanceVerdict> = {};
  const stale: string[] = [];
  const failed: ScaleSetProgress['failed'] = [];
  for (const i of instances) {
    const verdict = instanceVerdict(i, volumeType);
    byInstance[i.instanceId] = verdict;
    if (verdict === 'stale') stale.push(i.instanceId);
    if (verdict === 'failed') failed.push({ instanceId: i.instanceId, message: i.adeStatusMessage ?? 'The ADE extension failed.' });
  }
  return { done: Object.values(byInstance).every((v) => v === 'encrypted'), byInstance, stale, failed };
}

/**
 * Whether the app must call `updateInstances` for stale instances: only under a Manual upgrade policy; Automatic and
 * Rolling sets bring instances to the model themselves
 * (https://learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-upgrade-policy).
 */
export function needsManualUpgrade(mode: ScaleSetUpgradeMode, progress: ScaleSetProgress): boolean {
  return mode === 'Manual' && progress.stale.length > 0;
}

/**
 * The volume type ADE gets on a scale set: Linux scale sets support data volumes only, so `All` (every volume ADE can
 * encrypt) means the data volumes there; `OS` stays `OS` (and eligibility reports it unsupported). Windows: unchanged.
 */
export function scaleSetVolumeType(os: 'Windows' | 'Linux' | undefined, volumeType: 'All' | 'OS' | 'Data'): 'All' | 'OS' | 'Data' {
  return os === 'Linux' && volumeType === 'All' ? 'Data' : volumeType;
}

/** The app's policy as it applies to a scale set (Linux sets: `All` means the data volumes). */
export function scaleSetPolicy(policy: EncryptionPolicy, set: { osType?: 'Windows' | 'Linux' }): EncryptionPolicy {
  return { ...policy, volumeType: scaleSetVolumeType(set.osType, policy.volumeType) };
}
