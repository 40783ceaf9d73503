/**
 * Reads the ADE extension instance view and the VM's disk instance views into one typed
 * EncryptionState (docs/ade-behaviour.md#reading-the-status, #a-missing-bek). Rules that matter:
 * - `ProvisioningState/succeeded` only means the ARM operation finished, not that disks are
 *   encrypted: Linux reports volume progress in a JSON substatus `{"os":…,"data":…}`,
 *   and disks report `EncryptionState/*` codes (the last such code wins).
 * - A stamped disk is not necessarily encrypted; the substatus is authoritative on Linux.
 * - BEK-missing is its own state: it needs a repair (deallocate/start, secret recovery), not a retry.
 *
 * Inputs are SDK-free but shaped like @azure/arm-compute's VirtualMachineExtensionInstanceView,
 * DiskInstanceView and DiskEncryptionSettings, so adapter objects can be passed as they are.
 */
import { adeModeOfVersion, normaliseVolumeType, type AdeOs, type AdeVolumeType } from './extension-settings';
import { findAdeExtension, findExtensionInstanceView, type ExtensionInstanceView, type VmExtensionSnapshot, type VmSnapshot } from './vm';

export interface InstanceViewStatusLike {
  code?: string;
  level?: string;
  displayStatus?: string;
  message?: string;
  time?: Date | string;
}

export interface ExtensionInstanceViewLike {
  name?: string;
  type?: string;
  typeHandlerVersion?: string;
  statuses?: InstanceViewStatusLike[];
  substatuses?: InstanceViewStatusLike[];
}

export interface DiskEncryptionSettingsLike {
  enabled?: boolean;
  diskEncryptionKey?: { secretUrl?: string; sourceVault?: { id?: string } };
  keyEncryptionKey?: { keyUrl?: string; sourceVault?: { id?: string } };
}

export interface DiskInstanceViewLike {
  name?: string;
  encryptionSettings?: DiskEncryptionSettingsLike[];
  statuses?: InstanceViewStatusLike[];
}

export interface EncryptionStateInput {
  os: AdeOs;
  /** The ADE extension's instance view; undefined when the VM has no ADE extension. */
  extension?: ExtensionInstanceViewLike;
  /** The extension resource's provisioningState, when the instance view has no status yet. */
  provisioningState?: string;
  /** VM instance view `disks[]`. */
  disks?: DiskInstanceViewLike[];
  /** `storageProfile.osDisk.name`; without it the first instance-view disk is taken as the OS disk. */
  osDiskName?: string;
  /** What was asked for; decides which volumes must be encrypted. Defaults to `All`. */
  volumeType?: AdeVolumeType;
  /** Dual-pass only: `storageProfile.osDisk.encryptionSettings` from the VM model. */
  modelEncryptionSettings?: DiskEncryptionSettingsLike;
}

export type VolumeStatus =
  'encrypted' | 'not-encrypted' | 'in-progress' | 'restart-pending' | 'decryption-in-progress' | 'not-mounted' | 'unknown';

export interface DiskEncryptionDetail {
  name: string;
  role: 'os' | 'data';
  encryption: 'encrypted' | 'not-encrypted' | 'unknown';
  /** Has encryption settings with `enabled: true` (stamped; not proof of encryption). */
  stamped: boolean;
  /** The last `EncryptionState/*` code, when present. */
  statusCode?: string;
  secretUrls: string[];
  keyUrls: string[];
}

export interface EncryptionDetail {
  os: VolumeStatus;
  data: VolumeStatus;
  disks: DiskEncryptionDetail[];
  mode?: 'single-pass' | 'dual-pass';
  typeHandlerVersion?: string;
  /** The extension's main status message without the `[2.2.0.36] ` build prefix. */
  message?: string;
  /** Linux reported VMRestartPending: the VM must be restarted for encryption to finish. */
  restartPending: boolean;
  /** Dual-pass: the versioned BEK secret URL reported as the status message. */
  secretUrl?: string;
}

export type FailureReason =
  | 'key-vault-write-failed'
  | 'invalid-configuration'
  | 'prerequisites-not-met'
  | 'unsupported-os'
  | 'unmount-failed'
  | 'timeout'
  | 'extension-unreachable'
  | 'extension-error';

export type InProgressPhase =
  | 'provisioning'
  | 'busy'
  | 'encrypting-os'
  | 'encrypting-data'
  | 'restart-pending'
  | 'decrypting'
  | 'awaiting-stamp'
  | 'awaiting-second-pass';

export type EncryptionState =
  | { kind: 'not-started'; detail: EncryptionDetail }
  | { kind: 'in-progress'; phase: InProgressPhase; detail: EncryptionDetail }
  | { kind: 'encrypted'; detail: EncryptionDetail }
  | { kind: 'partially-encrypted'; missing: string[]; detail: EncryptionDetail }
  | { kind: 'failed'; reason: FailureReason; retryable: boolean; message: string; detail: EncryptionDetail }
  | { kind: 'bek-missing'; message: string; detail: EncryptionDetail }
  | { kind: 'unknown'; why: string; detail: EncryptionDetail };

export type EncryptionStateKind = EncryptionState['kind'];

// --- Message catalogue: the extensions' status texts (troubleshooting pages in docs/ade-behaviour.md) ---

const BEK_MISSING = [
  /BEK disk is missing or not initialized/i,
  /Cannot find current passphrase file/i,
  /Did not find BEK volume/i,
  /LinuxPassPhrase(FileName)? file is missing/i,
  /BEK (volume|file) (was )?not found/i,
];

/** First match wins; more specific causes come before generic ones. */
const FAILURES: Array<[FailureReason, RegExp, boolean]> = [
  [
    'invalid-configuration',
    new RegExp(
      [
        'KEK KeyVault ID was specified but the KEK URL was missing',
        'Moving from volume type .+ is not allowed',
        'Invalid (volume type|key ?vault|KEK)',
      ].join('|'),
      'i',
    ),
    false,
  ],
  [
    'key-vault-write-failed',
    new RegExp(
      [
        'Failed to send DiskEncryptionData',
        'Encryption settings (post|update) request was not accepted',
        'RUNTIME_E_KEYVAULT',
        'not enabled for disk encryption',
      ].join('|'),
      'i',
    ),
    false,
  ],
  [
    'prerequisites-not-met',
    /Not enough memory|LVM OS disk layout does not satisfy prerequisites|prerequisite .*(not found|missing)|Incompatible system/i,
    false,
  ],
  ['unsupported-os', /is not supported for OS encryption|Kernel version .* is not supported|not supported/i, false],
  ['unmount-failed', /failed to unmount/i, true],
  ['timeout', /timed out|VMExtensionProvisioningTimeout/i, true],
  ['extension-unreachable', /Extension status not available/i, true],
];

const BUSY = /An operation is already in progress/i;
const DISABLED = /Disable Encryption completed|Decryption (completed|succeeded)/i;
const VERSIONED_SECRET_URL = /^https:\/\/[a-z0-9-]+\.[a-z0-9.-]+\/secrets\/[^/\s]+\/[0-9a-f]{32}$/i;

const LINUX_OS_VALUES: Record<string, VolumeStatus> = {
  notencrypted: 'not-encrypted',
  encrypted: 'encrypted',
  encryptioninprogress: 'in-progress',
  vmrestartpending: 'restart-pending',
};
const LINUX_DATA_VALUES: Record<string, VolumeStatus> = {
  notencrypted: 'not-encrypted',
  notmounted: 'not-mounted',
  encrypted: 'encrypted',
  encryptioninprogress: 'in-progress',
  decryptioninprogress: 'decryption-in-progress',
};

/** Strips the Windows build prefix (`[2.2.0.36] …`), which Linux messages may carry too. */
export function stripBuildPrefix(message: string): string {
  return message.replace(/^\s*\[\d+(?:\.\d+)+\]\s*/, '').trim();
}

/** Parses the Linux substatus JSON `{"os": …, "data": …}`; undefined when the message is not that. */
export function parseLinuxSubstatus(
  message: string | undefined,
): { os: VolumeStatus; data: VolumeStatus; raw: { os?: string; data?: string } } | undefined {
  if (!message) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const os = typeof record.os === 'string' ? record.os : undefined;
  const data = typeof record.data === 'string' ? record.data : undefined;
  if (os === undefined && data === undefined) return undefined;
  return {
    os: os === undefined ? 'unknown' : (LINUX_OS_VALUES[os.toLowerCase()] ?? 'unknown'),
    data: data === undefined ? 'unknown' : (LINUX_DATA_VALUES[data.toLowerCase()] ?? 'unknown'),
    raw: { ...(os !== undefined ? { os } : {}), ...(data !== undefined ? { data } : {}) },
  };
}

export function interpretDisks(disks: readonly DiskInstanceViewLike[] | undefined, osDiskName?: string): DiskEncryptionDetail[] {
  const list = disks ?? [];
  const osIndex = osDiskName ? list.findIndex((d) => d.name?.toLowerCase() === osDiskName.toLowerCase()) : 0;
  return list.map((disk, index) => {
    const codes = (disk.statuses ?? []).map((s) => s.code ?? '').filter((c) => c.toLowerCase().startsWith('encryptionstate/'));
    const last = codes[codes.length - 1];
    const state = last?.slice('EncryptionState/'.length).toLowerCase();
    const settings = disk.encryptionSettings ?? [];
    const detail: DiskEncryptionDetail = {
      name: disk.name ?? `disk-${index}`,
      role: index === osIndex ? 'os' : 'data',
      encryption: state === undefined || state === 'notencrypted' ? 'not-encrypted' : state === 'encrypted' ? 'encrypted' : 'unknown',
      stamped: settings.some((s) => s.enabled === true),
      secretUrls: settings.map((s) => s.diskEncryptionKey?.secretUrl).filter((u): u is string => typeof u === 'string' && u !== ''),
      keyUrls: settings.map((s) => s.keyEncryptionKey?.keyUrl).filter((u): u is string => typeof u === 'string' && u !== ''),
    };
    if (last !== undefined) detail.statusCode = last;
    return detail;
  });
}

export function interpretEncryptionState(input: EncryptionStateInput): EncryptionState {
  const volumeType = input.volumeType ?? 'All';
  const disks = interpretDisks(input.disks, input.osDiskName);
  const detail: EncryptionDetail = {
    os: volumeFromDisks(disks, 'os'),
    data: volumeFromDisks(disks, 'data'),
    disks,
    restartPending: false,
  };

  const extension = input.extension;
  if (!extension) {
    if (disks.some((d) => d.encryption === 'encrypted' || d.stamped)) {
      return { kind: 'unknown', why: 'disks report ADE encryption but the VM has no ADE extension (removed before disabling?)', detail };
    }
    return { kind: 'not-started', detail };
  }

  const mode = adeModeOfVersion(input.os, extension.typeHandlerVersion);
  if (mode) detail.mode = mode;
  if (extension.typeHandlerVersion) detail.typeHandlerVersion = extension.typeHandlerVersion;
  const main = mainStatus(extension.statuses);
  const mainMessage = main?.message ? stripBuildPrefix(main.message) : main?.displayStatus;
  if (mainMessage) detail.message = mainMessage;
  if (mainMessage && VERSIONED_SECRET_URL.test(mainMessage)) detail.secretUrl = mainMessage;

  const substatusTexts = (extension.substatuses ?? []).map((s) => s.message ?? '').filter((m) => m !== '');
  const linux = input.os === 'Linux' ? substatusTexts.map(parseLinuxSubstatus).find((s) => s !== undefined) : undefined;
  if (linux) {
    detail.os = linux.os;
    detail.data = linux.data;
    detail.restartPending = linux.os === 'restart-pending';
  }
  const texts = [mainMessage ?? '', ...substatusTexts.filter((t) => parseLinuxSubstatus(t) === undefined).map(stripBuildPrefix)].filter(
    (t) => t !== '',
  );

  const bek = texts.find((t) => BEK_MISSING.some((re) => re.test(t)));
  if (bek) return { kind: 'bek-missing', message: bek, detail };

  const provisioning = provisioningOf(main, input.provisioningState, extension.statuses);
  if (provisioning === 'failed') {
    const message = texts[0] ?? 'the ADE extension failed without a message';
    for (const [reason, pattern, retryable] of FAILURES) {
      const hit = texts.find((t) => pattern.test(t));
      if (hit) return { kind: 'failed', reason, retryable, message: hit, detail };
    }
    return { kind: 'failed', reason: 'extension-error', retryable: true, message, detail };
  }
  if (texts.some((t) => BUSY.test(t))) return { kind: 'in-progress', phase: 'busy', detail };
  if (provisioning === 'in-progress') return { kind: 'in-progress', phase: 'provisioning', detail };
  if (provisioning === 'unknown') {
    const unreachable = texts.find((t) => /Extension status not available/i.test(t));
    if (unreachable) return { kind: 'failed', reason: 'extension-unreachable', retryable: true, message: unreachable, detail };
    return { kind: 'unknown', why: 'the ADE extension reports no provisioning status yet', detail };
  }

  // Succeeded: decide from volumes, never from provisioning alone.
  if (linux) return fromVolumes(detail, volumeType);
  if (mode === 'dual-pass' && input.os === 'Windows') return fromDualPassWindows(detail, input.modelEncryptionSettings, volumeType);
  if (mainMessage && DISABLED.test(mainMessage) && !disks.some((d) => d.encryption === 'encrypted')) return { kind: 'not-started', detail };
  return fromDisks(detail, volumeType);
}

function mainStatus(statuses: readonly InstanceViewStatusLike[] | undefined): InstanceViewStatusLike | undefined {
  return statuses?.find((s) => s.code?.toLowerCase().startsWith('provisioningstate/')) ?? statuses?.[0];
}

function provisioningOf(
  main: InstanceViewStatusLike | undefined,
  provisioningState: string | undefined,
  statuses: readonly InstanceViewStatusLike[] | undefined,
): 'succeeded' | 'failed' | 'in-progress' | 'unknown' {
  if (statuses?.some((s) => s.level?.toLowerCase() === 'error')) return 'failed';
  const fromCode = main?.code?.toLowerCase().startsWith('provisioningstate/') ? main.code.split('/')[1] : undefined;
  const state = (fromCode ?? provisioningState ?? '').toLowerCase();
  if (state === 'succeeded') return 'succeeded';
  if (state === 'failed' || state === 'canceled') return 'failed';
  if (['transitioning', 'creating', 'updating', 'running'].includes(state)) return 'in-progress';
  return 'unknown';
}

function volumeFromDisks(disks: readonly DiskEncryptionDetail[], role: 'os' | 'data'): VolumeStatus {
  const selected = disks.filter((d) => d.role === role);
  if (selected.length === 0) return role === 'data' ? 'not-mounted' : 'unknown';
  if (selected.every((d) => d.encryption === 'encrypted')) return 'encrypted';
  if (selected.some((d) => d.encryption === 'unknown')) return 'unknown';
  return 'not-encrypted';
}

function required(volumeType: AdeVolumeType): Array<'os' | 'data'> {
  return volumeType === 'All' ? ['os', 'data'] : volumeType === 'OS' ? ['os'] : ['data'];
}

/** Linux: the substatus JSON is authoritative (PowerShell overrides disk views with it, too). */
function fromVolumes(detail: EncryptionDetail, volumeType: AdeVolumeType): EncryptionState {
  const volumes = { os: detail.os, data: detail.data };
  if (volumes.os === 'restart-pending') return { kind: 'in-progress', phase: 'restart-pending', detail };
  if (volumes.data === 'decryption-in-progress') return { kind: 'in-progress', phase: 'decrypting', detail };
  if (volumes.os === 'in-progress') return { kind: 'in-progress', phase: 'encrypting-os', detail };
  if (volumes.data === 'in-progress') return { kind: 'in-progress', phase: 'encrypting-data', detail };
  const needed = required(volumeType);
  // `NotMounted` data means there is no mounted data volume to encrypt (the normal end state without data disks).
  const done = (v: 'os' | 'data') => volumes[v] === 'encrypted' || (v === 'data' && volumes.data === 'not-mounted');
  const unknown = needed.filter((v) => volumes[v] === 'unknown');
  if (unknown.length > 0)
    return { kind: 'unknown', why: `the extension reported an unrecognised ${unknown.join(' and ')} volume status`, detail };
  const missing = needed.filter((v) => !done(v));
  if (missing.length === 0) return { kind: 'encrypted', detail };
  if (missing.length < needed.length || volumes.os === 'encrypted' || volumes.data === 'encrypted')
    return { kind: 'partially-encrypted', missing, detail };
  if (detail.message && DISABLED.test(detail.message)) return { kind: 'not-started', detail };
  return { kind: 'unknown', why: 'the extension succeeded but reports no encrypted volume', detail };
}

/** Windows (and Linux without a substatus): the disks' `EncryptionState/*` codes decide. */
function fromDisks(detail: EncryptionDetail, volumeType: AdeVolumeType): EncryptionState {
  const { disks } = detail;
  if (disks.length === 0) {
    // Without disk views only an explicit success message can vouch for the volumes.
    const message = detail.message ?? '';
    if (
      /Encryption succeeded for all volumes/i.test(message) ||
      (volumeType === 'OS' && /Encryption succeeded for OS volume/i.test(message))
    ) {
      return { kind: 'encrypted', detail };
    }
    return { kind: 'unknown', why: 'the extension succeeded but no disk instance views were given to confirm encryption', detail };
  }
  const needed = disks.filter((d) => (volumeType === 'All' ? true : volumeType === 'OS' ? d.role === 'os' : d.role === 'data'));
  if (needed.length === 0) return { kind: 'encrypted', detail };
  if (needed.some((d) => d.encryption === 'unknown'))
    return { kind: 'unknown', why: 'a disk reports an unrecognised EncryptionState code', detail };
  const missing = needed.filter((d) => d.encryption !== 'encrypted').map((d) => d.name);
  if (missing.length === 0) return { kind: 'encrypted', detail };
  if (missing.length < needed.length) return { kind: 'partially-encrypted', missing, detail };
  // Extension done but no disk stamped yet: the platform stamps shortly after; keep polling.
  return { kind: 'in-progress', phase: 'awaiting-stamp', detail };
}

/** Windows dual-pass: encrypted once the VM model carries the BEK secret (docs/ade-behaviour.md#reading-the-status). */
function fromDualPassWindows(
  detail: EncryptionDetail,
  model: DiskEncryptionSettingsLike | undefined,
  volumeType: AdeVolumeType,
): EncryptionState {
  const modelDone =
    model?.enabled === true && typeof model.diskEncryptionKey?.secretUrl === 'string' && model.diskEncryptionKey.secretUrl !== '';
  if (modelDone) {
    detail.os = 'encrypted';
    if (volumeType !== 'OS') detail.data = 'encrypted';
    return { kind: 'encrypted', detail };
  }
  if (detail.secretUrl) return { kind: 'in-progress', phase: 'awaiting-second-pass', detail };
  return fromDisks(detail, volumeType);
}

/** What the app reads about ADE from one VM snapshot (read with its instance view). */
export interface VmEncryptionReading {
  state: EncryptionState;
  /** The ADE extension resource, found by publisher and type whatever its instance name. */
  extension?: VmExtensionSnapshot;
  /** That extension's instance view, when the VM has one for it. */
  view?: ExtensionInstanceView;
  /** The extension's ARM operation finished (`ProvisioningState/succeeded`); not proof of encryption. */
  provisioned: boolean;
}

/**
 * The one way from a VM snapshot to its encryption state. The volumes that must be encrypted are
 * the ones ADE was asked for: the deployed extension's `VolumeType` setting, else `volumeType`
 * (what the caller is about to ask for), else all of them.
 */
export function readVmEncryption(
  vm: Pick<VmSnapshot, 'osType' | 'extensions' | 'instanceView' | 'osDisk'>,
  volumeType?: AdeVolumeType,
): VmEncryptionReading {
  const extension = findAdeExtension(vm);
  const view = extension ? findExtensionInstanceView(vm, extension.name) : undefined;
  const extensionView = view ?? (extension ? { name: extension.name, typeHandlerVersion: extension.typeHandlerVersion } : undefined);
  const asked = normaliseVolumeType(extension?.settings?.VolumeType) ?? volumeType;
  const state = interpretEncryptionState({
    os: vm.osType,
    ...(extensionView ? { extension: extensionView } : {}),
    ...(extension?.provisioningState ? { provisioningState: extension.provisioningState } : {}),
    disks: vm.instanceView?.disks ?? [],
    osDiskName: vm.osDisk.name,
    ...(asked ? { volumeType: asked } : {}),
    ...(vm.osDisk.encryptionSettings ? { modelEncryptionSettings: vm.osDisk.encryptionSettings } : {}),
  });
  const provisioningCode = view?.statuses?.find((s) => s.code?.toLowerCase().startsWith('provisioningstate/'))?.code?.toLowerCase();
  const provisioned =
    provisioningCode === 'provisioningstate/succeeded' ||
    (provisioningCode === undefined && extension?.provisioningState?.toLowerCase() === 'succeeded');
  return { state, provisioned, ...(extension ? { extension } : {}), ...(view ? { view } : {}) };
}
