/**
 * The VM guest: the Azure Disk Encryption extension as it runs inside the VM, driven by the extension PUT.
 *
 *  - dual-pass (Windows 1.x, Linux 0.x): the guest signs in with AADClientID/AADClientSecret (ctx.dispatch to
 *    login), wraps the key with the KEK through Key Vault /wrapkey when KeyEncryptionKeyURL is given, PUTs the
 *    secret with ADE's tags and content type, and reports the secret URL as the status message
 *    (https://github.com/Azure/azure-linux-extensions/tree/ade-dualpass-master/VMEncryption);
 *  - single-pass (Windows 2.x, Linux 1.x): the platform writes the secret (ctx.keyVaultPlatform, which requires
 *    enabledForDiskEncryption) and stamps the disks with encryptionSettingsVersion 1.1
 *    (https://github.com/Azure/azure-linux-extensions/tree/ade-singlepass-dev/VMEncryption).
 * Statuses: Windows messages; Linux JSON substatus with `os` / `data`, as the Linux extension reports them
 * (https://learn.microsoft.com/azure/virtual-machines/linux/how-to-verify-encryption-status).
 * Nothing secret (client secret, BEK, passphrase) is ever logged or put into a status message.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { SimContext, VaultRecord } from '../contract';
import type { Durations } from '../arm/core';
import type { DiskRecord, ExtensionRecord, InstanceViewStatus, VmRecord } from '../arm/state';

export interface GuestHost {
  ctx: SimContext;
  durations(): Durations;
  vm(id: string): VmRecord | undefined;
  disk(id: string): DiskRecord | undefined;
  vaultById(id: string): VaultRecord | undefined;
  vaultByName(name: string): VaultRecord | undefined;
  sleep(ms: number, generation: number): Promise<void>;
  now(): string;
  background(name: string, work: () => Promise<void>): void;
}

export type AdeKind = 'windows' | 'linux';

export function adeKindOf(publisher: string, type: string): AdeKind | undefined {
  if (publisher.toLowerCase() !== 'microsoft.azure.security') return undefined;
  if (type.toLowerCase() === 'azurediskencryption') return 'windows';
  if (type.toLowerCase() === 'azurediskencryptionforlinux') return 'linux';
  return undefined;
}

const WINDOWS_BUILD: Record<'single' | 'dual', string> = { single: '2.2.0.36', dual: '1.1.0.15' };
const ALGORITHMS = ['RSA-OAEP', 'RSA-OAEP-256', 'RSA1_5'];
const KV_API = '7.4';

/** A failure the extension reports: message is what the extension writes into its status. */
class AdeFailure extends Error {}

interface Volume {
  disk: DiskRecord;
  isOs: boolean;
  lun?: number;
}

interface AdeSettings {
  operation: string;
  keyVaultUrl: string;
  keyVaultResourceId?: string;
  kekUrl?: string;
  kekVaultResourceId?: string;
  algorithm: string;
  /** Whether KeyEncryptionAlgorithm was in the settings (Linux dual-pass tags the secret with it only then). */
  algorithmGiven: boolean;
  volumeType: 'OS' | 'Data' | 'All';
  sequence?: string;
  aadClientId?: string;
  aadClientSecret?: string;
  aadClientCertThumbprint?: string;
}

/** Runs the ADE extension for one PUT; resolves when the ARM operation should complete. */
export async function runAdeExtension(
  host: GuestHost,
  vmId: string,
  extKey: string,
  generation: number,
): Promise<{ error?: { code: string; message: string } }> {
  const vm = host.vm(vmId);
  const ext = vm?.extensions[extKey];
  if (!vm || !ext)
    return { error: { code: 'ResourceNotFound', message: 'The VM or extension was deleted while the extension was running.' } };
  const kind = adeKindOf(ext.publisher, ext.type)!;
  const mode = modeOf(kind, ext.typeHandlerVersion);
  const durations = host.durations();
  const total = kind === 'windows' ? durations.adeWindows : durations.adeLinuxData;
  setStatuses(
    ext,
    kind,
    [status('ProvisioningState/transitioning', 'Info', 'Transitioning', 'Encryption in progress', host.now())],
    kind === 'linux' ? linuxSubstatus(host, vm, 'transitioning') : [],
  );
  try {
    if ((kind === 'windows') !== (vm.osType === 'Windows')) {
      throw new AdeFailure(`The extension '${ext.publisher}.${ext.type}' is not supported on a ${vm.osType} VM.`);
    }
    if (!mode) throw new AdeFailure(`Extension version '${ext.typeHandlerVersion}' is not a supported version of ${ext.type}.`);
    const settings = parseSettings(ext, mode);
    if (kind === 'linux' && mode === 'single' && vm.memoryGB < 2) {
      throw new AdeFailure('Not enough memory for enabling encryption on OS volume. 8 GB memory is recommended.');
    }
    await host.sleep(total / 10, generation);
    if (settings.operation === 'QueryEncryptionStatus') {
      await host.sleep(total / 10, generation);
      finishStatus(host, vm, ext, kind, mode, undefined);
      return {};
    }
    if (settings.operation === 'DisableEncryption') {
      await disable(host, vm, ext, kind, settings, generation, total);
      return {};
    }
    if (!settings.operation.startsWith('EnableEncryption'))
      throw new AdeFailure(`Unknown EncryptionOperation '${settings.operation.slice(0, 40)}'.`);

    const fingerprint = JSON.stringify({ ...settings, sequence: undefined, aadClientSecret: undefined });
    const volumes = volumesFor(host, vm, settings.volumeType);
    // Linux re-run semantics (the extension's handle.py): same sequence → skipped; same configuration → success
    // without a new secret.
    if (kind === 'linux' && vm.guest.adeFingerprint !== undefined) {
      const sameConfig = vm.guest.adeFingerprint === fingerprint;
      if (
        (settings.sequence !== undefined && settings.sequence === vm.guest.adeSequence) ||
        (sameConfig && volumes.every((v) => v.disk.encryptionState !== 'notEncrypted'))
      ) {
        await host.sleep(total / 10, generation);
        vm.guest.adeSequence = settings.sequence;
        finishStatus(host, vm, ext, kind, mode, undefined);
        return {};
      }
    }
    const vault = resolveVault(host, vm, settings, mode);
    const written =
      mode === 'dual'
        ? await writeDualPass(host, vm, settings, vault, kind, volumes)
        : writeSinglePass(host, vm, settings, vault, kind, volumes);
    await host.sleep(total - (2 * total) / 10, generation);

    const current = host.vm(vmId);
    if (!current) return { error: { code: 'ResourceNotFound', message: 'The VM was deleted while the extension was running.' } };
    current.guest.adeFingerprint = fingerprint;
    current.guest.adeSequence = settings.sequence;
    const fresh = written.map((w) => ({ name: w.fileName, secretUrl: w.secretUrl }));
    // Dual-pass: the model keeps naming the previous secret until the caller's second pass, and the BEK volume keeps its
    // key until the platform rebuilds it at the next start; a re-run (a data disk added) adds to it.
    current.guest.bekFiles =
      mode === 'dual'
        ? [...current.guest.bekFiles.filter((f) => !fresh.some((n) => n.secretUrl.toLowerCase() === f.secretUrl.toLowerCase())), ...fresh]
        : fresh;
    current.guest.boot = 'ok';
    for (const w of written) {
      if (mode === 'single') {
        w.volume.disk.encryptionSettingsCollection = {
          enabled: true,
          encryptionSettings: [
            {
              diskEncryptionKey: { sourceVault: { id: vault.id }, secretUrl: w.secretUrl },
              ...(settings.kekUrl
                ? { keyEncryptionKey: { sourceVault: { id: settings.kekVaultResourceId || vault.id }, keyUrl: settings.kekUrl } }
                : {}),
            },
          ],
          encryptionSettingsVersion: '1.1',
        };
      }
      // Linux encrypts the OS volume after the ARM operation completes (hours); everything else is done now.
      w.volume.disk.encryptionState = kind === 'linux' && w.volume.isOs ? 'encryptionInProgress' : 'encrypted';
    }
    const dualSecretUrl = mode === 'dual' ? written[0]?.secretUrl : undefined;
    finishStatus(host, current, ext, kind, mode, dualSecretUrl);
    const osPending = written.find((w) => w.volume.isOs && kind === 'linux');
    if (osPending) {
      host.background(`linux OS encryption ${vmId}`, async () => {
        await host.sleep(durations.adeLinuxOs, generation);
        const disk = host.disk(osPending.volume.disk.id);
        const again = host.vm(vmId);
        if (!disk || !again || disk.encryptionState !== 'encryptionInProgress') return;
        disk.encryptionState = 'encrypted';
        const currentExt = again.extensions[extKey];
        if (currentExt) finishStatus(host, again, currentExt, kind, mode, dualSecretUrl);
      });
    }
    return {};
  } catch (error) {
    if (!(error instanceof AdeFailure)) throw error;
    const current = host.vm(vmId)?.extensions[extKey];
    if (current) {
      setStatuses(
        current,
        kind,
        [status('ProvisioningState/failed/0', 'Error', 'Provisioning failed', error.message, host.now())],
        kind === 'linux' ? linuxSubstatus(host, vm, 'failed') : [],
      );
    }
    return { error: { code: 'VMExtensionProvisioningError', message: error.message } };
  }
}

function modeOf(kind: AdeKind, version: string): 'single' | 'dual' | undefined {
  const major = version.split('.')[0];
  if (kind === 'windows') return major === '2' ? 'single' : major === '1' ? 'dual' : undefined;
  return major === '1' ? 'single' : major === '0' ? 'dual' : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Settings validation as the Linux extension's check_util.py does it; Windows fails the same inputs. */
function parseSettings(ext: ExtensionRecord, mode: 'single' | 'dual'): AdeSettings {
  const s = (typeof ext.settings === 'object' && ext.settings !== null ? ext.settings : {}) as Record<string, unknown>;
  const p = (typeof ext.protectedSettings === 'object' && ext.protectedSettings !== null ? ext.protectedSettings : {}) as Record<
    string,
    unknown
  >;
  const operation = str(s.EncryptionOperation) ?? 'EnableEncryption';
  const keyVaultUrl = str(s.KeyVaultURL) ?? '';
  if (operation !== 'DisableEncryption' && operation !== 'QueryEncryptionStatus') {
    if (!/^https:\/\/[A-Za-z0-9-]+\.[A-Za-z0-9.-]+\/?$/.test(keyVaultUrl)) {
      throw new AdeFailure(
        `The KeyVaultURL '${keyVaultUrl.slice(0, 100)}' is invalid: expected https://<vault>.vault.azure.net without a port or path.`,
      );
    }
  }
  const keyVaultResourceId = str(s.KeyVaultResourceId);
  if (
    keyVaultResourceId &&
    !/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.KeyVault\/vaults\/[^/]+$/i.test(keyVaultResourceId)
  ) {
    throw new AdeFailure(`The KeyVaultResourceId '${keyVaultResourceId.slice(0, 200)}' is not a valid Key Vault resource id.`);
  }
  if (keyVaultResourceId && keyVaultUrl && vaultNameOfUrl(keyVaultUrl) !== keyVaultResourceId.split('/').pop()!.toLowerCase()) {
    throw new AdeFailure('The vault name in KeyVaultURL does not match the vault name in KeyVaultResourceId.');
  }
  const kekUrl = str(s.KeyEncryptionKeyURL);
  const kekVaultResourceId = str(s.KekVaultResourceId);
  if (kekVaultResourceId && !kekUrl) throw new AdeFailure('The KEK KeyVault ID was specified but the KEK URL was missing');
  if (kekUrl && !/^https:\/\/[A-Za-z0-9-]+\.vault\.azure\.net\/keys\/[^/]+\/[0-9a-fA-F]{32}$/.test(kekUrl)) {
    throw new AdeFailure(
      `The KEK URL '${kekUrl.slice(0, 200)}' is invalid: it must be a versioned key URL ` +
        `https://<vault>.vault.azure.net/keys/<name>/<version> without a port.`,
    );
  }
  const algorithm = str(s.KeyEncryptionAlgorithm) ?? 'RSA-OAEP';
  if (!ALGORITHMS.includes(algorithm))
    throw new AdeFailure(`The KeyEncryptionAlgorithm '${algorithm.slice(0, 30)}' is not supported; use RSA-OAEP, RSA-OAEP-256 or RSA1_5.`);
  const volumeRaw = (str(s.VolumeType) ?? 'All').toLowerCase();
  const volumeType = volumeRaw === 'os' ? 'OS' : volumeRaw === 'data' ? 'Data' : volumeRaw === 'all' ? 'All' : undefined;
  if (!volumeType) throw new AdeFailure(`The VolumeType '${String(s.VolumeType).slice(0, 30)}' is invalid; use OS, Data or All.`);
  const settings: AdeSettings = {
    operation,
    keyVaultUrl,
    keyVaultResourceId,
    kekUrl,
    kekVaultResourceId,
    algorithm,
    algorithmGiven: str(s.KeyEncryptionAlgorithm) !== undefined,
    volumeType,
    sequence: str(s.SequenceVersion),
    aadClientId: str(s.AADClientID),
    aadClientSecret: str(p.AADClientSecret),
    aadClientCertThumbprint: str(s.AADClientCertThumbprint),
  };
  if (mode === 'dual' && operation.startsWith('EnableEncryption')) {
    if (!settings.aadClientId)
      throw new AdeFailure('AADClientID is required for this extension version (encryption with Microsoft Entra ID).');
    if (!settings.aadClientSecret) {
      throw new AdeFailure(
        settings.aadClientCertThumbprint
          ? `The certificate with thumbprint ${settings.aadClientCertThumbprint.slice(0, 40)} was not found on the VM.`
          : 'AADClientSecret is required in the protected settings for this extension version.',
      );
    }
  }
  return settings;
}

function vaultNameOfUrl(url: string): string {
  return new URL(url).hostname.split('.')[0]!.toLowerCase();
}

function resolveVault(host: GuestHost, vm: VmRecord, settings: AdeSettings, mode: 'single' | 'dual'): VaultRecord {
  const vault = settings.keyVaultResourceId
    ? host.vaultById(settings.keyVaultResourceId)
    : host.vaultByName(vaultNameOfUrl(settings.keyVaultUrl));
  const platformPrefix =
    vm.osType === 'Windows'
      ? 'Failed to send DiskEncryptionData to the host. Error: '
      : 'Encryption settings post request was not accepted. Error: ';
  const prefix = mode === 'single' ? platformPrefix : '';
  if (!vault)
    throw new AdeFailure(
      `${prefix}Key Vault '${vaultNameOfUrl(settings.keyVaultUrl || 'https://unknown.vault.azure.net')}' was not found.`,
    );
  if (vault.subscriptionId.toLowerCase() !== vm.subscriptionId.toLowerCase()) {
    throw new AdeFailure(
      `${prefix}Key Vault ${vault.id} is not in the same subscription as the VM (${vm.subscriptionId}). ` +
        `Azure Disk Encryption requires the vault and the VM to be in the same region and subscription.`,
    );
  }
  if (vault.location.replace(/\s+/g, '').toLowerCase() !== vm.location.toLowerCase()) {
    throw new AdeFailure(
      `${prefix}Key Vault ${vault.id} is in region '${vault.location}' but the VM is in '${vm.location}'. ` +
        `Azure Disk Encryption requires the vault and the VM to be in the same region and subscription.`,
    );
  }
  if (mode === 'single' && !vault.enabledForDiskEncryption) {
    throw new AdeFailure(`${prefix}Key Vault ${vault.id} is not enabled for disk encryption (enabledForDiskEncryption is false).`);
  }
  return vault;
}

function volumesFor(host: GuestHost, vm: VmRecord, volumeType: AdeSettings['volumeType']): Volume[] {
  const volumes: Volume[] = [];
  const os = host.disk(vm.osDiskId);
  if (os && volumeType !== 'Data') volumes.push({ disk: os, isOs: true });
  if (volumeType !== 'OS') {
    for (const d of vm.dataDisks) {
      const disk = host.disk(d.diskId);
      if (disk) volumes.push({ disk, isOs: false, lun: d.lun });
    }
  }
  return volumes;
}

interface Written {
  volume: Volume;
  secretUrl: string;
  fileName: string;
}

function tagsFor(
  vm: VmRecord,
  kind: AdeKind,
  volume: Volume,
  secretName: string,
  settings: AdeSettings,
  index: number,
): Record<string, string> {
  const tags: Record<string, string> = {};
  if (kind === 'windows') {
    tags.DiskEncryptionKeyFileName = `${secretName}.BEK`;
    tags.VolumeLetter = volume.isOs ? 'C:\\' : `${String.fromCharCode(70 + index)}:\\`;
    tags.MachineName = vm.computerName;
  } else {
    tags.DiskEncryptionKeyFileName = volume.isOs ? 'LinuxPassPhraseFileName' : `LinuxPassPhraseFileName_1_${volume.lun ?? 0}`;
    tags.MachineName = /^[\w-]+$/.test(vm.computerName) ? vm.computerName : '';
  }
  if (settings.kekUrl) {
    tags.DiskEncryptionKeyEncryptionKeyURL = settings.kekUrl;
    tags.DiskEncryptionKeyEncryptionAlgorithm = settings.algorithm;
  }
  return tags;
}

/**
 * Linux dual-pass (the extension's KeyVaultUtil.py): the guest itself PUTs the secret with `DiskEncryptionKeyFileName`
 * and, when an algorithm was given, `DiskEncryptionKeyEncryptionAlgorithm` — no `MachineName`, no KEK URL (the tag set
 * of https://learn.microsoft.com/azure/virtual-machines/linux/disk-encryption-sample-scripts).
 * https://github.com/Azure/azure-linux-extensions/tree/ade-dualpass-master/VMEncryption
 */
function linuxDualPassTags(settings: AdeSettings): Record<string, string> {
  const tags: Record<string, string> = { DiskEncryptionKeyFileName: 'LinuxPassPhraseFileName' };
  if (settings.algorithmGiven) tags.DiskEncryptionKeyEncryptionAlgorithm = settings.algorithm;
  return tags;
}

function base64url(buffer: Buffer): string {
  return buffer.toString('base64url');
}

function writeSinglePass(
  host: GuestHost,
  vm: VmRecord,
  settings: AdeSettings,
  vault: VaultRecord,
  kind: AdeKind,
  volumes: Volume[],
): Written[] {
  const platform = host.ctx.keyVaultPlatform;
  const prefix =
    kind === 'windows'
      ? 'Failed to send DiskEncryptionData to the host. Error: '
      : 'Encryption settings post request was not accepted. Error: ';
  if (!platform) throw new AdeFailure(`${prefix}the Key Vault platform is not available in this simulator instance.`);
  // Linux uses one passphrase for all volumes; Windows has one BEK per BitLocker volume.
  const linuxPassphrase = randomBytes(32);
  return volumes.map((volume, index) => {
    const key = kind === 'linux' ? linuxPassphrase : randomBytes(32);
    const secretName = randomUUID();
    try {
      let value = key.toString('base64');
      let contentType = 'BEK';
      if (settings.kekUrl) {
        value = base64url(platform.wrapKeyAsPlatform(settings.kekUrl, settings.algorithm, key));
        contentType = 'Wrapped BEK';
      }
      const result = platform.setSecretAsPlatform(
        vault.name,
        secretName,
        value,
        tagsFor(vm, kind, volume, secretName, settings, index),
        contentType,
      );
      const fileName =
        kind === 'windows' ? `${secretName}.BEK` : volume.isOs ? 'LinuxPassPhraseFileName' : `LinuxPassPhraseFileName_1_${volume.lun ?? 0}`;
      return { volume, secretUrl: result.id, fileName };
    } catch (error) {
      throw new AdeFailure(`${prefix}${safeMessage(error)}`);
    }
  });
}

/**
 * Dual-pass: the guest is a Key Vault client with the Entra app's credentials
 * (https://learn.microsoft.com/azure/virtual-machines/windows/disk-encryption-windows-aad).
 */
async function writeDualPass(
  host: GuestHost,
  vm: VmRecord,
  settings: AdeSettings,
  vault: VaultRecord,
  kind: AdeKind,
  volumes: Volume[],
): Promise<Written[]> {
  const token = await signIn(host, vault.tenantId, settings.aadClientId!, settings.aadClientSecret!);
  const key = randomBytes(32);
  let value = key.toString('base64');
  let contentType = 'BEK';
  if (settings.kekUrl) {
    const wrapped = await keyVaultCall(
      host,
      token,
      'POST',
      `${settings.kekUrl}/wrapkey?api-version=${KV_API}`,
      { alg: settings.algorithm, value: base64url(key) },
      'wrap the key with the KEK',
    );
    value = String((wrapped as { value?: string }).value ?? '');
    contentType = 'Wrapped BEK';
  }
  const secretName = randomUUID();
  const osVolume = volumes.find((v) => v.isOs) ?? volumes[0];
  if (!osVolume) throw new AdeFailure('No volumes to encrypt were found on the VM.');
  const tags = kind === 'linux' ? linuxDualPassTags(settings) : tagsFor(vm, kind, osVolume, secretName, settings, 0);
  const base = settings.keyVaultUrl.replace(/\/$/, '');
  const result = await keyVaultCall(
    host,
    token,
    'PUT',
    `${base}/secrets/${secretName}?api-version=${KV_API}`,
    { value, contentType, tags, attributes: { enabled: true } },
    'set the disk encryption secret',
  );
  const secretUrl = String((result as { id?: string }).id ?? '');
  const fileName = kind === 'windows' ? `${secretName}.BEK` : 'LinuxPassPhraseFileName';
  return volumes.map((volume) => ({ volume, secretUrl, fileName }));
}

async function signIn(host: GuestHost, tenantId: string, clientId: string, clientSecret: string): Promise<string> {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: clientSecret,
    scope: 'https://vault.azure.net/.default',
  }).toString();
  const response = await host.ctx.dispatch({
    method: 'POST',
    url: `https://login.microsoftonline.com/${tenantId}/oauth2/v2.0/token`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const parsed = (response.json ?? safeJson(response.body)) as
    { access_token?: string; error?: string; error_description?: string } | undefined;
  if (response.status !== 200 || !parsed?.access_token) {
    const description = (parsed?.error_description ?? parsed?.error ?? `HTTP ${response.status}`).split(/\r?\n/)[0]!.slice(0, 300);
    throw new AdeFailure(`Failed to acquire an access token for Key Vault with AADClientID ${clientId}: ${description}`);
  }
  return parsed.access_token;
}

async function keyVaultCall(host: GuestHost, token: string, method: string, url: string, body: unknown, what: string): Promise<unknown> {
  const response = await host.ctx.dispatch({
    method,
    url,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const parsed = response.json ?? safeJson(response.body);
  if (response.status < 200 || response.status > 299) {
    const error = (parsed as { error?: { code?: string; message?: string; innererror?: { code?: string } } } | undefined)?.error;
    const detail = error
      ? `${error.code ?? 'Error'}${error.innererror?.code ? `/${error.innererror.code}` : ''}: ${(error.message ?? '').slice(0, 300)}`
      : `HTTP ${response.status}`;
    throw new AdeFailure(
      `RUNTIME_E_KEYVAULT_${method === 'PUT' ? 'SET_SECRET' : 'WRAP_KEY'}_FAILED: failed to ${what} (${new URL(url).host}): ${detail}`,
    );
  }
  return parsed;
}

function safeJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function safeMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.slice(0, 300);
}

async function disable(
  host: GuestHost,
  vm: VmRecord,
  ext: ExtensionRecord,
  kind: AdeKind,
  settings: AdeSettings,
  generation: number,
  total: number,
): Promise<void> {
  if (kind === 'linux' && settings.volumeType !== 'Data') {
    throw new AdeFailure('Disabling encryption is only allowed on Data volumes for Linux VMs.');
  }
  const volumes = volumesFor(host, vm, settings.volumeType);
  await host.sleep(total - total / 10, generation);
  for (const v of volumes) {
    v.disk.encryptionState = 'notEncrypted';
    if (v.disk.encryptionSettingsCollection?.encryptionSettingsVersion === '1.1')
      v.disk.encryptionSettingsCollection = { ...v.disk.encryptionSettingsCollection, enabled: false };
  }
  vm.guest.adeFingerprint = undefined;
  const message =
    kind === 'windows' ? `[${WINDOWS_BUILD.single}] Disable Encryption completed successfully` : 'Decryption succeeded for data volumes';
  setStatuses(
    ext,
    kind,
    [status('ProvisioningState/succeeded', 'Info', 'Provisioning succeeded', message, host.now())],
    kind === 'linux' ? linuxSubstatus(host, vm, 'succeeded') : [],
  );
}

function finishStatus(
  host: GuestHost,
  vm: VmRecord,
  ext: ExtensionRecord,
  kind: AdeKind,
  mode: 'single' | 'dual',
  dualSecretUrl: string | undefined,
): void {
  const now = host.now();
  if (kind === 'windows') {
    const message = dualSecretUrl ?? `[${WINDOWS_BUILD[mode]}] Encryption succeeded for all volumes`;
    setStatuses(ext, kind, [status('ProvisioningState/succeeded', 'Info', 'Provisioning succeeded', message, now)], []);
    return;
  }
  const os = host.disk(vm.osDiskId);
  const dataEncrypted = vm.dataDisks.some((d) => host.disk(d.diskId)?.encryptionState === 'encrypted');
  const message =
    dualSecretUrl ??
    (os?.encryptionState === 'encryptionInProgress'
      ? 'OS disk encryption started'
      : os?.encryptionState === 'encrypted'
        ? dataEncrypted
          ? 'Encryption succeeded for all volumes'
          : 'Encryption succeeded for OS volume'
        : 'Encryption succeeded for data volumes');
  setStatuses(
    ext,
    kind,
    [status('ProvisioningState/succeeded', 'Info', 'Provisioning succeeded', message, now)],
    linuxSubstatus(host, vm, 'succeeded'),
  );
}

/** Linux substatus: a JSON string with `os` and `data` (DiskUtil.get_encryption_status). */
function linuxSubstatus(host: GuestHost, vm: VmRecord, state: 'transitioning' | 'succeeded' | 'failed'): InstanceViewStatus[] {
  const stateOf = (disk: DiskRecord | undefined) =>
    disk?.encryptionState === 'encrypted'
      ? 'Encrypted'
      : disk?.encryptionState === 'encryptionInProgress'
        ? 'EncryptionInProgress'
        : 'NotEncrypted';
  const os = stateOf(host.disk(vm.osDiskId));
  const dataDisks = vm.dataDisks.map((d) => host.disk(d.diskId));
  const data =
    dataDisks.length === 0 ? 'NotMounted' : dataDisks.some((d) => d?.encryptionState === 'encrypted') ? 'Encrypted' : 'NotEncrypted';
  const code =
    state === 'failed'
      ? 'ProvisioningState/failed'
      : state === 'transitioning'
        ? 'ProvisioningState/transitioning'
        : 'ProvisioningState/succeeded';
  const display = state === 'failed' ? 'Provisioning failed' : state === 'transitioning' ? 'Transitioning' : 'Provisioning succeeded';
  return [status(code, state === 'failed' ? 'Error' : 'Info', display, JSON.stringify({ os, data }), host.now())];
}

function setStatuses(ext: ExtensionRecord, _kind: AdeKind, statuses: InstanceViewStatus[], substatuses: InstanceViewStatus[]): void {
  ext.statuses = statuses;
  ext.substatuses = substatuses;
}

function status(
  code: string,
  level: InstanceViewStatus['level'],
  displayStatus: string,
  message: string,
  time: string,
): InstanceViewStatus {
  return { code, level, displayStatus, message, time };
}

/**
 * Boot after start: the platform re-reads each disk's key from Key Vault to rebuild the BEK volume / passphrase
 * file. A missing secret, a vault without enabledForDiskEncryption or an unusable KEK leaves the guest at the
 * BitLocker recovery screen (Windows) or the passphrase prompt (Linux).
 */
export function bootGuest(host: GuestHost, vm: VmRecord): void {
  const refs = diskKeyRefs(host, vm);
  if (refs.length === 0) {
    vm.guest.boot = 'ok';
    return;
  }
  const platform = host.ctx.keyVaultPlatform;
  const files: GuestHostFile[] = [];
  let failed = false;
  for (const ref of refs) {
    try {
      if (!platform) throw new Error('Key Vault platform not mounted');
      const secret = platform.getSecretAsPlatform(ref.secretUrl);
      const algorithm = secret.tags.DiskEncryptionKeyEncryptionAlgorithm ?? ref.algorithm;
      if (ref.keyUrl) platform.unwrapKeyAsPlatform(ref.keyUrl, algorithm, Buffer.from(secret.value, 'base64url'));
      files.push({ name: secret.tags.DiskEncryptionKeyFileName ?? `${ref.secretUrl.split('/')[4]}.BEK`, secretUrl: ref.secretUrl });
    } catch (error) {
      failed = true;
      host.ctx.log('warn', 'guest boot could not restore a disk key', { vm: vm.id, secretUrl: ref.secretUrl, error: safeMessage(error) });
    }
  }
  vm.guest.bekFiles = files;
  vm.guest.boot = failed ? (vm.osType === 'Windows' ? 'BitLockerRecovery' : 'PassphrasePrompt') : 'ok';
}

type GuestHostFile = VmRecord['guest']['bekFiles'][number];

/** The disk keys the guest needs at boot: every secret the VM's encrypted disks reference. */
function diskKeyRefs(host: GuestHost, vm: VmRecord): { secretUrl: string; keyUrl?: string; algorithm: string }[] {
  const refs: { secretUrl: string; keyUrl?: string; algorithm: string }[] = [];
  const disks = [vm.osDiskId, ...vm.dataDisks.map((d) => d.diskId)]
    .map((id) => host.disk(id))
    .filter((d): d is DiskRecord => d !== undefined);
  for (const disk of disks) {
    const collection = disk.encryptionSettingsCollection;
    if (!collection?.enabled || disk.encryptionState === 'notEncrypted') continue;
    for (const s of collection.encryptionSettings) {
      if (s.diskEncryptionKey && !refs.some((r) => r.secretUrl === s.diskEncryptionKey!.secretUrl)) {
        refs.push({ secretUrl: s.diskEncryptionKey.secretUrl, keyUrl: s.keyEncryptionKey?.keyUrl, algorithm: 'RSA-OAEP' });
      }
    }
  }
  return refs;
}

/**
 * Reboot in place (restart): the BEK volume is not re-attached from Key Vault (only a deallocate + start does that:
 * https://learn.microsoft.com/troubleshoot/azure/virtual-machines/windows/troubleshoot-bitlocker-boot-error), so a
 * guest whose key files are gone cannot unlock its encrypted volumes and waits at BitLocker recovery (Windows) / the
 * passphrase prompt (Linux).
 */
export function rebootGuest(host: GuestHost, vm: VmRecord): void {
  const missing = diskKeyRefs(host, vm).some(
    (r) => !vm.guest.bekFiles.some((f) => f.secretUrl.toLowerCase() === r.secretUrl.toLowerCase()),
  );
  vm.guest.boot = missing ? (vm.osType === 'Windows' ? 'BitLockerRecovery' : 'PassphrasePrompt') : 'ok';
}

/**
 * Linux: what the extension writes when the passphrase file is gone (exit code 52, missing_dependency;
 * https://learn.microsoft.com/azure/virtual-machines/linux/disk-encryption-troubleshooting).
 */
export const LINUX_BEK_MISSING = {
  status: 'BEK disk is missing or not initialized.',
  substatus:
    'Cannot find current passphrase file. This could happen if BEK volume is not mounted or ' +
    'LinuxPassPhrase file is missing from BEK volume.',
};

/**
 * What the ADE extension reports while the guest lacks key material its encrypted disks need (the BEK
 * volume's `.BEK` file on Windows, `LinuxPassPhraseFileName` on Linux): the guest agent re-reports the
 * handler's status, so it shows in every instance-view read of a running, booted VM. `undefined` when
 * the guest has every key it needs, the extension is still running, or the VM is not up (deallocated,
 * or stuck at BitLocker recovery / the passphrase prompt, where no agent reports anything).
 * The report clears once a start re-attaches the BEK volume from Key Vault (bootGuest).
 */
export function bekMissingReport(
  host: GuestHost,
  vm: VmRecord,
  ext: ExtensionRecord,
): { statuses: InstanceViewStatus[]; substatuses: InstanceViewStatus[] } | undefined {
  const kind = adeKindOf(ext.publisher, ext.type);
  if (!kind || ext.provisioningState !== 'Succeeded' || vm.powerState !== 'running' || vm.guest.boot !== 'ok') return undefined;
  const missing = diskKeyRefs(host, vm).filter(
    (r) => !vm.guest.bekFiles.some((f) => f.secretUrl.toLowerCase() === r.secretUrl.toLowerCase()),
  );
  if (missing.length === 0) return undefined;
  const now = host.now();
  if (kind === 'linux') {
    return {
      statuses: [status('ProvisioningState/failed/52', 'Error', 'Provisioning failed', LINUX_BEK_MISSING.status, now)],
      substatuses: [status('ProvisioningState/failed/52', 'Error', 'Provisioning failed', LINUX_BEK_MISSING.substatus, now)],
    };
  }
  // Windows (closed source): the BEK file named by the secret's DiskEncryptionKeyFileName tag, `<secret name>.BEK`.
  const files = missing.map((r) => `${r.secretUrl.split('/')[4] ?? 'unknown'}.BEK`).join(', ');
  const build = WINDOWS_BUILD[modeOf(kind, ext.typeHandlerVersion) ?? 'single'];
  return {
    statuses: [
      status(
        'ProvisioningState/failed',
        'Error',
        'Provisioning failed',
        `[${build}] BEK file not found on the BEK volume (${files}). The encrypted volumes cannot be ` +
          `unlocked at the next boot; stop (deallocate) and start the VM to re-attach the BEK volume from Key ` +
          `Vault.`,
        now,
      ),
    ],
    substatuses: [],
  };
}
