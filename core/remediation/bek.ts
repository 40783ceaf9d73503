/**
 * BEK health: which Key Vault secrets a VM depends on, and whether the guest reports its BEK
 * (Windows `.BEK` file on the BEK volume, Linux passphrase file) missing.
 *
 * Secrets are mapped to a VM by the URLs the VM references (docs/ade-behaviour.md#secrets-keys-and-vaults), never by the `MachineName`
 * tag: dual-pass from the model's `osDisk.encryptionSettings`, single-pass from the instance-view
 * disks' `encryptionSettings` or the disk resources' `encryptionSettingsCollection`.
 */
import { readVmEncryption, type EncryptionState } from '../encryption-state';
import { parseKeyVaultObjectId } from '../resource-ids';
import { findAdeExtension, type VmSnapshot } from '../vm';

export type SecretSource = 'vm-model' | 'disk-instance-view' | 'disk-resource';

/** One BEK secret (and its KEK, when wrapped) a VM needs to unlock its disks. No values, only names. */
export interface BekSecretRef {
  /** Versioned secret URL as the VM references it. */
  secretUrl: string;
  vaultUrl: string;
  vaultName: string;
  secretName: string;
  secretVersion?: string;
  /** ARM id of the vault (`sourceVault.id`), when given. */
  vaultResourceId?: string;
  /** Versioned KEK URL, when the BEK is wrapped. */
  keyUrl?: string;
  keyVaultResourceId?: string;
  /** Disks that reference this secret. */
  disks: string[];
  source: SecretSource;
}

/** The shape of a disk resource's encryption settings (azure/ports DiskEncryptionInfo fits it). */
export interface DiskEncryptionLike {
  name: string;
  encryptionSettingsCollection?: {
    enabled: boolean;
    encryptionSettings: Array<{
      diskEncryptionKey?: { secretUrl: string; sourceVaultId?: string };
      keyEncryptionKey?: { keyUrl: string; sourceVaultId?: string };
    }>;
  };
}

interface RawRef {
  secretUrl?: string;
  vaultId?: string;
  keyUrl?: string;
  keyVaultId?: string;
  disk: string;
  source: SecretSource;
}

/**
 * Every BEK secret the VM references, de-duplicated by secret URL (case-insensitive), in the order
 * model → instance view → disk resources. Malformed URLs are skipped (they cannot be checked).
 */
export function expectedBekSecrets(
  vm: Pick<VmSnapshot, 'osDisk' | 'instanceView'>,
  diskResources: readonly DiskEncryptionLike[] = [],
): BekSecretRef[] {
  const raw: RawRef[] = [];
  const model = vm.osDisk.encryptionSettings;
  if (model?.diskEncryptionKey?.secretUrl) {
    raw.push({
      secretUrl: model.diskEncryptionKey.secretUrl,
      vaultId: model.diskEncryptionKey.sourceVault?.id,
      keyUrl: model.keyEncryptionKey?.keyUrl,
      keyVaultId: model.keyEncryptionKey?.sourceVault?.id,
      disk: vm.osDisk.name,
      source: 'vm-model',
    });
  }
  for (const disk of vm.instanceView?.disks ?? []) {
    for (const s of disk.encryptionSettings ?? []) {
      if (s.enabled === false) continue;
      raw.push({
        secretUrl: s.diskEncryptionKey?.secretUrl,
        vaultId: s.diskEncryptionKey?.sourceVault?.id,
        keyUrl: s.keyEncryptionKey?.keyUrl,
        keyVaultId: s.keyEncryptionKey?.sourceVault?.id,
        disk: disk.name ?? '',
        source: 'disk-instance-view',
      });
    }
  }
  for (const disk of diskResources) {
    const collection = disk.encryptionSettingsCollection;
    if (!collection?.enabled) continue;
    for (const s of collection.encryptionSettings) {
      raw.push({
        secretUrl: s.diskEncryptionKey?.secretUrl,
        vaultId: s.diskEncryptionKey?.sourceVaultId,
        keyUrl: s.keyEncryptionKey?.keyUrl,
        keyVaultId: s.keyEncryptionKey?.sourceVaultId,
        disk: disk.name,
        source: 'disk-resource',
      });
    }
  }
  const byUrl = new Map<string, BekSecretRef>();
  for (const r of raw) {
    if (!r.secretUrl) continue;
    const key = r.secretUrl.toLowerCase();
    const known = byUrl.get(key);
    if (known) {
      if (r.disk && !known.disks.includes(r.disk)) known.disks.push(r.disk);
      known.vaultResourceId ??= r.vaultId;
      known.keyUrl ??= r.keyUrl;
      known.keyVaultResourceId ??= r.keyVaultId;
      continue;
    }
    let parsed;
    try {
      parsed = parseKeyVaultObjectId(r.secretUrl, 'secretUrl');
    } catch {
      continue;
    }
    if (parsed.kind !== 'secrets') continue;
    const ref: BekSecretRef = {
      secretUrl: r.secretUrl,
      vaultUrl: parsed.vaultUrl,
      vaultName: parsed.vaultName,
      secretName: parsed.name,
      disks: r.disk ? [r.disk] : [],
      source: r.source,
    };
    if (parsed.version) ref.secretVersion = parsed.version;
    if (r.vaultId) ref.vaultResourceId = r.vaultId;
    if (r.keyUrl) ref.keyUrl = r.keyUrl;
    if (r.keyVaultId) ref.keyVaultResourceId = r.keyVaultId;
    byUrl.set(key, ref);
  }
  return [...byUrl.values()];
}

export type BekHealth =
  | { status: 'healthy'; state: EncryptionState['kind'] }
  | { status: 'bek-missing'; message: string }
  | { status: 'no-ade'; why: string }
  | { status: 'not-assessable'; why: string };

/**
 * Reads the ADE extension's instance view (found by publisher + type) and the disk views.
 * `not-assessable` when there is no instance view to read (a sweep over list results must fetch it).
 */
export function bekHealthOf(vm: Pick<VmSnapshot, 'osType' | 'extensions' | 'instanceView' | 'osDisk'>): BekHealth {
  const extension = findAdeExtension(vm);
  if (
    !extension &&
    vm.osDisk.encryptionSettings === undefined &&
    !(vm.instanceView?.disks ?? []).some((d) => (d.encryptionSettings ?? []).some((s) => s.enabled))
  ) {
    return { status: 'no-ade', why: 'the VM has no ADE extension and no disk encryption settings' };
  }
  if (!vm.instanceView) return { status: 'not-assessable', why: 'the VM was read without its instance view' };
  const { state } = readVmEncryption(vm);
  if (state.kind === 'bek-missing') return { status: 'bek-missing', message: state.message };
  return { status: 'healthy', state: state.kind };
}

/** True when the VM model shows any sign of ADE, so a BEK sweep should read its instance view. */
export function isBekSweepCandidate(vm: Pick<VmSnapshot, 'osType' | 'extensions' | 'osDisk'>): boolean {
  return findAdeExtension(vm) !== undefined || vm.osDisk.encryptionSettings !== undefined;
}
