/**
 * The way off Azure Disk Encryption before it retires (2028-09-15): for each ADE VM, which migration path Microsoft
 * documents for it (https://learn.microsoft.com/azure/virtual-machines/disk-encryption-migrate). Pure.
 *
 * What the paths rest on (same page, and the encryption-at-host restrictions,
 * https://learn.microsoft.com/azure/virtual-machines/disks-enable-host-based-encryption-portal#restrictions):
 * - there is no in-place conversion: a VM that ever had ADE cannot get encryption at host, and ADE-encrypted disks keep
 *   their ADE flag after decryption, in snapshots and in disk copies; new disks are created by upload and the data
 *   copied, then a new VM with encryption at host is created from them;
 * - Windows decrypts all volumes (VolumeType All); Linux can decrypt data volumes only, never the OS volume: a Linux VM
 *   whose OS volume is encrypted needs a new VM (re-image) and its data moved;
 * - the new VM's size must support encryption at host.
 */
import { adeModeOfVersion } from './extension-settings';
import { findAdeExtension, type VmSnapshot } from './vm';

/** ADE retires on this day (UTC): after it, ADE-encrypted disks are not guaranteed to unlock after a reboot. */
export const ADE_RETIREMENT_DATE = '2028-09-15';

export type MigrationPath = 'windows' | 'linux-data' | 'linux-os-rebuild' | 'unsupported-size';

export const MIGRATION_PATHS: Readonly<Record<MigrationPath, string>> = {
  windows:
    'Disable ADE (VolumeType All), wait until every volume is fully decrypted, remove the extension; then copy the disks to ' +
    'new disks created by upload (snapshots and disk copies keep the ADE flag) and create a VM with encryption at host from ' +
    'them. Azure does not enable encryption at host in place on a VM that ever had ADE.',
  'linux-data':
    'Disable ADE on the data volumes (VolumeType Data), wait until they are decrypted, remove the extension; then copy the ' +
    'disks to new disks created by upload and create a VM with encryption at host from them, as for Windows.',
  'linux-os-rebuild':
    'The Linux OS volume is ADE-encrypted and cannot be decrypted: create a new VM with encryption at host (re-image) and ' +
    'move the data to it.',
  'unsupported-size':
    "The VM's size does not support encryption at host: choose a size that does for the new VM, then follow the Windows or " +
    'Linux data-volume path.',
};

export interface MigrationRow {
  vmId: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  os: VmSnapshot['osType'];
  vmSize: string;
  /** ADE mode: dual-pass (Entra app) or single-pass. */
  mode: 'single-pass' | 'dual-pass';
  /** `VolumeType` ADE ran with (`All`, `OS`, `Data`), or `unknown` when neither the extension nor the model says. */
  volumeType: 'All' | 'OS' | 'Data' | 'unknown';
  /** ADE is enabled, or was disabled (the VM still cannot get encryption at host in place). */
  adeState: 'enabled' | 'disabled';
  /** The key encryption key URL, or null without a KEK. */
  kek: string | null;
  /** The size's EncryptionAtHostSupported capability; null when the region does not list the size. */
  sizeSupportsEncryptionAtHost: boolean | null;
  path: MigrationPath;
  reason: string;
}

const DAY_MS = 86_400_000;

/** Whole days from `now` to the retirement date (00:00 UTC), never negative. */
export function daysUntilRetirement(now: Date): number {
  return Math.max(0, Math.ceil((Date.parse(`${ADE_RETIREMENT_DATE}T00:00:00Z`) - now.getTime()) / DAY_MS));
}

function volumeTypeOf(value: unknown): MigrationRow['volumeType'] {
  if (typeof value !== 'string') return 'unknown';
  const v = value.trim().toLowerCase();
  return v === 'all' ? 'All' : v === 'os' ? 'OS' : v === 'data' ? 'Data' : 'unknown';
}

/**
 * The row for an ADE VM, or undefined for a VM without ADE (no extension, no model encryption settings).
 * `sizeSupported` is the size's EncryptionAtHostSupported capability in the VM's region (undefined: not listed).
 */
export function migrationRowOf(vm: VmSnapshot, sizeSupported: boolean | undefined): MigrationRow | undefined {
  const extension = findAdeExtension(vm);
  const model = vm.osDisk.encryptionSettings;
  if (!extension && !model) return undefined;
  const settings = extension?.settings ?? {};
  const dualPass = model !== undefined || adeModeOfVersion(vm.osType, extension?.typeHandlerVersion) === 'dual-pass';
  const disabled = typeof settings.EncryptionOperation === 'string' && settings.EncryptionOperation.toLowerCase() === 'disableencryption';
  // A dual-pass model with enabled settings covers the OS volume; the extension's VolumeType says the rest.
  let volumeType = volumeTypeOf(settings.VolumeType);
  if (volumeType === 'unknown' && model?.enabled === true) volumeType = 'OS';
  const kekSetting = settings.KeyEncryptionKeyURL ?? model?.keyEncryptionKey?.keyUrl;
  const osEncrypted = !disabled && volumeType !== 'Data';
  let path: MigrationPath;
  let reason: string;
  if (vm.osType === 'Linux' && osEncrypted) {
    path = 'linux-os-rebuild';
    reason =
      volumeType === 'unknown'
        ? `${MIGRATION_PATHS[path]} (VolumeType unknown: treated as OS encrypted)`
        : `${MIGRATION_PATHS[path]} (VolumeType ${volumeType})`;
  } else if (sizeSupported !== true) {
    path = 'unsupported-size';
    reason =
      sizeSupported === false
        ? `${MIGRATION_PATHS[path]} (${vm.vmSize} lacks EncryptionAtHostSupported)`
        : `${MIGRATION_PATHS[path]} (${vm.vmSize} is not listed in ${vm.location}'s resource SKUs)`;
  } else {
    path = vm.osType === 'Windows' ? 'windows' : 'linux-data';
    reason = disabled ? `${MIGRATION_PATHS[path]} ADE is already disabled: skip that step.` : MIGRATION_PATHS[path];
  }
  return {
    vmId: vm.id,
    name: vm.name,
    subscriptionId: vm.subscriptionId,
    resourceGroup: vm.resourceGroup,
    location: vm.location,
    os: vm.osType,
    vmSize: vm.vmSize,
    mode: dualPass ? 'dual-pass' : 'single-pass',
    volumeType,
    adeState: disabled ? 'disabled' : 'enabled',
    kek: typeof kekSetting === 'string' && kekSetting !== '' ? kekSetting : null,
    sizeSupportsEncryptionAtHost: sizeSupported ?? null,
    path,
    reason,
  };
}

export const MIGRATION_CSV_COLUMNS = [
  'vmId',
  'name',
  'subscriptionId',
  'resourceGroup',
  'location',
  'os',
  'vmSize',
  'mode',
  'volumeType',
  'adeState',
  'kek',
  'sizeSupportsEncryptionAtHost',
  'path',
  'daysLeft',
  'reason',
] as const;

/** RFC 4180 CSV with a header; a cell that could start a spreadsheet formula is prefixed with `'`. */
export function migrationCsv(rows: readonly MigrationRow[], daysLeft: number): string {
  const cell = (value: unknown): string => {
    let text = value === null || value === undefined ? '' : String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [MIGRATION_CSV_COLUMNS.join(',')];
  for (const row of rows) {
    const record: Record<string, unknown> = { ...row, daysLeft };
    lines.push(MIGRATION_CSV_COLUMNS.map((c) => cell(record[c])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
