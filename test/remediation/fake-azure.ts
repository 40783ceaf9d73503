/**
 * A small in-memory Azure for the orchestration tests: VMs, disks, vaults, secrets and keys with
 * soft delete, and the one platform behaviour restores depend on — starting a deallocated VM
 * re-attaches the BEK volume from Key Vault when the secret exists, is enabled and the vault allows
 * disk encryption (https://learn.microsoft.com/troubleshoot/azure/virtual-machines/windows/troubleshoot-bitlocker-boot-error).
 * Every call is counted; secret values live only here.
 */
import { randomBytes } from 'node:crypto';
import type {
  ComputePort,
  DeploymentStarted,
  DiskEncryptionInfo,
  EnsureVaultResult,
  ExtensionSpec,
  KeyVaultDataPort,
  VaultInfo,
  VaultManagementPort,
  VaultSpec,
  VmPage,
} from '../../azure/ports';
import { NotFoundError } from '../../core/errors';
import { normaliseResourceId, parseKeyVaultObjectId } from '../../core/resource-ids';
import type { VmSnapshot } from '../../core/vm';

interface SecretRecord {
  versions: Map<string, { enabled: boolean; value: string }>;
  deleted: boolean;
  purged: boolean;
}
interface KeyRecord {
  version: string;
  deleted: boolean;
  purged: boolean;
}

export class FakeAzure {
  readonly vms = new Map<string, VmSnapshot>();
  readonly vaults = new Map<string, VaultInfo>();
  readonly secrets = new Map<string, SecretRecord>();
  readonly keys = new Map<string, KeyRecord>();
  /** Secret values ever created, for the no-leak scans. */
  readonly secretValues: string[] = [];
  readonly calls: Array<{ op: string; target: string }> = [];
  pageSize = 100;

  private note(op: string, target: string): void {
    this.calls.push({ op, target });
  }

  count(op: string): number {
    return this.calls.filter((c) => c.op === op).length;
  }

  addVm(vm: VmSnapshot): void {
    this.vms.set(normaliseResourceId(vm.id), structuredClone(vm));
  }

  vm(id: string): VmSnapshot {
    const vm = this.vms.get(normaliseResourceId(id));
    if (!vm) throw new NotFoundError(`VM ${id} not found`);
    return vm;
  }

  addVault(vault: Partial<VaultInfo> & { id: string; name: string }): void {
    this.vaults.set(normaliseResourceId(vault.id), {
      subscriptionId: '0b1f6471-1bf0-4dda-aec3-111122223333',
      resourceGroup: 'rg-ade-autopilot-vaults',
      location: 'westeurope',
      tenantId: 'tenant-1',
      vaultUri: `https://${vault.name}.vault.azure.net/`,
      skuName: 'standard',
      enabledForDiskEncryption: true,
      enableSoftDelete: true,
      softDeleteRetentionInDays: 90,
      enablePurgeProtection: true,
      enableRbacAuthorization: false,
      accessPolicies: [
        { tenantId: 'tenant-1', objectId: 'automation', permissions: { keys: ['get', 'create', 'recover'], secrets: ['list', 'recover'] } },
      ],
      tags: {},
      ...vault,
    });
  }

  /** Creates the secret version a URL names, with a random value (the BEK) only this fake holds. */
  addSecret(secretUrl: string): void {
    const id = parseKeyVaultObjectId(secretUrl);
    const value = randomBytes(24).toString('base64');
    this.secretValues.push(value);
    this.secrets.set(`${id.vaultUrl}|${id.name.toLowerCase()}`, {
      versions: new Map([[id.version ?? 'v1', { enabled: true, value }]]),
      deleted: false,
      purged: false,
    });
  }

  addKey(keyUrl: string): void {
    const id = parseKeyVaultObjectId(keyUrl);
    this.keys.set(`${id.vaultUrl}|${id.name.toLowerCase()}`, { version: id.version ?? 'k1', deleted: false, purged: false });
  }

  secret(secretUrl: string): SecretRecord {
    const id = parseKeyVaultObjectId(secretUrl);
    return this.secrets.get(`${id.vaultUrl}|${id.name.toLowerCase()}`)!;
  }

  key(keyUrl: string): KeyRecord {
    const id = parseKeyVaultObjectId(keyUrl);
    return this.keys.get(`${id.vaultUrl}|${id.name.toLowerCase()}`)!;
  }

  /** Guest-side: the BEK files vanish; the extension reports it the way each OS does. */
  loseBek(vmId: string): void {
    const vm = this.vm(vmId);
    const view = vm.instanceView!.extensions![0];
    view.statuses = [
      {
        code: 'ProvisioningState/failed/52',
        level: 'Error',
        displayStatus: 'Provisioning failed',
        message:
          vm.osType === 'Windows'
            ? '[2.2.0.48] BEK file not found on the BEK volume'
            : 'BEK disk is missing or not initialized. Please make sure the VM has a BEK volume attached.',
      },
    ];
    delete view.substatuses;
  }

  private bekAvailable(vm: VmSnapshot): boolean {
    return (vm.instanceView?.disks ?? [])
      .flatMap((d) => d.encryptionSettings ?? [])
      .every((s) => {
        const url = s.diskEncryptionKey?.secretUrl;
        if (!url) return true;
        const id = parseKeyVaultObjectId(url);
        const record = this.secrets.get(`${id.vaultUrl}|${id.name.toLowerCase()}`);
        const vault = [...this.vaults.values()].find((v) => v.name === id.vaultName);
        return (
          !!record &&
          !record.deleted &&
          !record.purged &&
          record.versions.get(id.version ?? '')?.enabled === true &&
          vault?.enabledForDiskEncryption === true
        );
      });
  }

  readonly compute: ComputePort = {
    getVm: async (vmId) => {
      this.note('getVm', vmId);
      return structuredClone(this.vm(vmId));
    },
    listVms: async (subscriptionId, token): Promise<VmPage> => {
      this.note('listVms', subscriptionId);
      const all = [...this.vms.values()].filter((v) => v.subscriptionId.toLowerCase() === subscriptionId.toLowerCase());
      const start = token ? Number(token) : 0;
      const page = all.slice(start, start + this.pageSize).map((v) => {
        const copy = structuredClone(v);
        delete copy.instanceView;
        copy.powerState = 'unknown';
        return copy;
      });
      return { vms: page, ...(start + this.pageSize < all.length ? { continuationToken: String(start + this.pageSize) } : {}) };
    },
    getExtensionInstanceView: async () => undefined,
    beginDeployExtension: async (vmId, name, spec: ExtensionSpec): Promise<DeploymentStarted> => {
      this.note('beginDeployExtension', vmId);
      const vm = this.vm(vmId);
      vm.extensions = vm.extensions.filter((e) => e.name !== name);
      vm.extensions.push({
        name,
        publisher: spec.publisher,
        type: spec.type,
        typeHandlerVersion: spec.typeHandlerVersion,
        provisioningState: 'Succeeded',
        settings: { ...(spec.settings ?? {}) },
      });
      vm.instanceView!.extensions = [
        ...(vm.instanceView!.extensions ?? []).filter((e) => e.name !== name),
        {
          name,
          type: `${spec.publisher}.${spec.type}`,
          statuses: [{ code: 'ProvisioningState/succeeded', level: 'Info', message: 'Encryption succeeded for all volumes' }],
        },
      ];
      return { extensionId: `${vm.id}/extensions/${name}`, provisioningState: 'Succeeded' };
    },
    updateOsDiskEncryptionSettings: async () => {
      throw new Error('not used');
    },
    setTags: async () => ({}),
    deallocate: async (vmId) => {
      this.note('deallocate', vmId);
      const vm = this.vm(vmId);
      vm.powerState = 'deallocated';
      vm.instanceView!.statuses = [{ code: 'PowerState/deallocated' }];
    },
    start: async (vmId) => {
      this.note('start', vmId);
      const vm = this.vm(vmId);
      vm.powerState = 'running';
      vm.instanceView!.statuses = [{ code: 'PowerState/running' }];
      // The platform re-attaches the BEK volume from Key Vault; the extension then reports success again.
      if (this.bekAvailable(vm)) {
        for (const view of vm.instanceView!.extensions ?? [])
          view.statuses = [{ code: 'ProvisioningState/succeeded', level: 'Info', message: 'Encryption succeeded for all volumes' }];
      }
    },
    getDiskEncryption: async (diskId): Promise<DiskEncryptionInfo> => {
      this.note('getDiskEncryption', diskId);
      return { id: diskId, name: diskId.split('/').at(-1)! };
    },
    encryptionAtHostFeatureState: async () => 'Registered',
    sizeSupportsEncryptionAtHost: async () => true,
    setEncryptionAtHost: async () => {
      throw new Error('not used');
    },
  };

  readonly vaultManagement: VaultManagementPort = {
    getVault: async (vaultId) => {
      this.note('getVault', vaultId);
      const v = this.vaults.get(normaliseResourceId(vaultId));
      return v ? structuredClone(v) : undefined;
    },
    ensureVault: async (spec: VaultSpec): Promise<EnsureVaultResult> => {
      this.note('ensureVault', spec.name);
      const vault = [...this.vaults.values()].find((v) => v.name === spec.name)!;
      vault.enabledForDiskEncryption = true;
      vault.enableSoftDelete = true;
      vault.enablePurgeProtection = vault.enablePurgeProtection || spec.enablePurgeProtection;
      for (const p of spec.accessPolicies ?? []) {
        const existing = vault.accessPolicies.find((a) => a.objectId === p.objectId);
        if (!existing) vault.accessPolicies.push(structuredClone(p));
        else
          for (const k of ['keys', 'secrets'] as const)
            existing.permissions[k] = [...new Set([...(existing.permissions[k] ?? []), ...(p.permissions[k] ?? [])])];
      }
      return { vault: structuredClone(vault), action: 'updated' };
    },
    setAccessPolicy: async () => undefined,
    removeAccessPolicy: async () => undefined,
    checkNameAvailability: async () => ({ available: true }),
    getDeletedVault: async () => undefined,
    recoverVault: async () => {
      throw new Error('not used');
    },
  };

  readonly keyVault: KeyVaultDataPort = {
    ensureKek: async () => {
      throw new Error('not used');
    },
    getKeyVersionedId: async (vaultUrl, keyName) => {
      this.note('getKey', keyName);
      const k = this.keys.get(`${vaultUrl.toLowerCase()}|${keyName.toLowerCase()}`);
      return k && !k.deleted && !k.purged ? `${vaultUrl}/keys/${keyName}/${k.version}` : undefined;
    },
    findSecretVersionProperties: async (secretUrl) => {
      this.note('listSecretVersions', secretUrl);
      const id = parseKeyVaultObjectId(secretUrl);
      const record = this.secrets.get(`${id.vaultUrl}|${id.name.toLowerCase()}`);
      const version = record && !record.deleted && !record.purged ? record.versions.get(id.version ?? '') : undefined;
      // Metadata only: the port has no way to return a value.
      return version
        ? {
            id: secretUrl,
            vaultUrl: id.vaultUrl,
            name: id.name,
            version: id.version ?? '',
            enabled: version.enabled,
            contentType: 'Wrapped BEK',
            tags: {},
          }
        : undefined;
    },
    getDeletedSecret: async (vaultUrl, name) => {
      this.note('getDeletedSecret', name);
      const record = this.secrets.get(`${vaultUrl.toLowerCase()}|${name.toLowerCase()}`);
      return record?.deleted && !record.purged ? { name, tags: {}, scheduledPurgeDate: '2027-02-25T00:00:00Z' } : undefined;
    },
    recoverDeletedSecret: async (vaultUrl, name) => {
      this.note('recoverSecret', name);
      const record = this.secrets.get(`${vaultUrl.toLowerCase()}|${name.toLowerCase()}`);
      if (!record?.deleted || record.purged) throw new NotFoundError(`deleted secret ${name} not found`);
      record.deleted = false;
    },
    getDeletedKey: async (vaultUrl, name) => {
      const k = this.keys.get(`${vaultUrl.toLowerCase()}|${name.toLowerCase()}`);
      return k?.deleted && !k.purged ? { name, tags: {} } : undefined;
    },
    recoverDeletedKey: async (vaultUrl, name) => {
      this.note('recoverKey', name);
      const k = this.keys.get(`${vaultUrl.toLowerCase()}|${name.toLowerCase()}`)!;
      k.deleted = false;
      return { versionedId: `${vaultUrl}/keys/${name}/${k.version}`, name, version: k.version };
    },
  };
}
