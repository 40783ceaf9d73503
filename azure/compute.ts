/**
 * ComputePort over @azure/arm-compute. One ComputeManagementClient per subscription (the client is
 * bound to a subscription id), created lazily and reused.
 */
import {
  ComputeManagementClient,
  type ComputeManagementClientOptionalParams,
  type VirtualMachineExtension,
  type VirtualMachineUpdate,
} from '@azure/arm-compute';
import { FeatureClient, type FeatureClientOptionalParams } from '@azure/arm-features';
import type { TokenCredential } from '@azure/core-auth';
import { ValidationError } from '../core/errors';
import { parseResourceId, parseVmId } from '../core/resource-ids';
import type { DiskEncryptionSettings, VmSnapshot } from '../core/vm';
import { mergeTags, toDiskEncryptionInfo, toExtensionStatus, toSdkEncryptionSettings, toVmSnapshot } from './compute-mapping';
import { ClientsBySubscription, pollOptionsOf } from './arm-clients';
import { callAzure, callAzureOrUndefined } from './errors';
import type {
  ComputePort,
  DeploymentStarted,
  DiskEncryptionInfo,
  ExtensionSpec,
  GetVmOptions,
  ExtensionStatus,
  ProtectedSettings,
  UpdateOsDiskEncryptionOptions,
  VmPage,
} from './ports';
import { isSecretValue } from './secret-value';

export interface ComputeAdapterOptions {
  /** Extra client options (tests inject an httpClient or endpoint here). */
  clientOptions?: ComputeManagementClientOptionalParams;
  /** Poll interval for the short LROs we do wait for (VM PATCH, deallocate, start). */
  pollIntervalMs?: number;
  /** Extra options of the Features client (the subscription's feature registrations). */
  featureClientOptions?: FeatureClientOptionalParams;
}

/** How old the adapter's own VM read may be to give the current tags a PATCH merges into (UpdateOsDiskEncryptionOptions). */
const MERGE_TAGS_READ_MAX_AGE_MS = 60_000;
/** How many recent VM reads the adapter keeps for GetVmOptions.maxAgeMs (oldest dropped first). */
const RECENT_READS_KEPT = 5_000;
const SKU_CACHE_MS = 60 * 60_000;

export class ComputeAdapter implements ComputePort {
  private readonly clients = new ClientsBySubscription(
    (subscriptionId, defaults) =>
      new ComputeManagementClient(this.credential, subscriptionId, { ...defaults, ...this.options.clientOptions }),
  );

  private readonly features = new ClientsBySubscription(
    (subscriptionId, defaults) => new FeatureClient(this.credential, subscriptionId, { ...defaults, ...this.options.featureClientOptions }),
  );

  /** VM sizes → EncryptionAtHostSupported, per subscription and region, with the time the list expires. */
  private readonly skuCache = new Map<string, { sizes: Map<string, boolean>; until: number }>();

  constructor(
    private readonly credential: TokenCredential,
    private readonly options: ComputeAdapterOptions = {},
  ) {}

  /** The adapter's own recent VM reads with instance view, for callers that accept one (GetVmOptions.maxAgeMs). */
  private readonly recent = new Map<string, { at: number; vm: VmSnapshot; etag?: string }>();

  /** `at`: when the read was sent, so that a read answered after a write but served before it never counts as newer. */
  private remember(vm: VmSnapshot, at: number, etag: string | undefined): void {
    const key = vm.id.toLowerCase();
    this.recent.delete(key);
    this.recent.set(key, { at, vm: structuredClone(vm), ...(etag ? { etag } : {}) });
    if (this.recent.size > RECENT_READS_KEPT) this.recent.delete(this.recent.keys().next().value!);
  }

  private forget(vmId: string): void {
    this.recent.delete(vmId.replace(/\/+$/, '').toLowerCase());
  }

  private client(subscriptionId: string): ComputeManagementClient {
    return this.clients.get(subscriptionId);
  }

  private get pollOptions(): { updateIntervalInMs?: number } {
    return pollOptionsOf(this.options.pollIntervalMs);
  }

  async getVm(vmId: string, options: GetVmOptions = {}): Promise<VmSnapshot> {
    const id = parseVmId(vmId);
    if (options.instanceView && options.maxAgeMs && options.maxAgeMs > 0) {
      const hit = this.recent.get(vmId.replace(/\/+$/, '').toLowerCase());
      if (hit && Date.now() - hit.at <= options.maxAgeMs) return structuredClone(hit.vm);
    }
    const sentAt = Date.now();
    const vm = await callAzure(`Read VM ${vmId}`, () =>
      this.client(id.subscriptionId).virtualMachines.get(id.resourceGroup, id.name, options.instanceView ? { expand: 'instanceView' } : {}),
    );
    const snapshot = toVmSnapshot(vm);
    if (options.instanceView) this.remember(snapshot, sentAt, vm.etag);
    return snapshot;
  }

  async listVms(subscriptionId: string, continuationToken?: string): Promise<VmPage> {
    return callAzure(`List VMs in subscription ${subscriptionId}`, async () => {
      const pages = this.client(subscriptionId)
        .virtualMachines.listAll()
        .byPage(continuationToken ? { continuationToken } : undefined);
      const next = await pages.next();
      if (next.done) return { vms: [] };
      const page = next.value;
      const result: VmPage = { vms: page.map(toVmSnapshot) };
      if (page.continuationToken) result.continuationToken = page.continuationToken;
      return result;
    });
  }

  async getExtensionInstanceView(vmId: string, extensionName: string): Promise<ExtensionStatus | undefined> {
    const id = parseVmId(vmId);
    const extension = await callAzureOrUndefined(`Read extension ${extensionName} of VM ${vmId}`, () =>
      this.client(id.subscriptionId).virtualMachineExtensions.get(id.resourceGroup, id.name, extensionName, { expand: 'instanceView' }),
    );
    return extension ? toExtensionStatus(extension, extensionName) : undefined;
  }

  async beginDeployExtension(
    vmId: string,
    extensionName: string,
    extension: ExtensionSpec,
    protectedSettings?: ProtectedSettings,
  ): Promise<DeploymentStarted> {
    const id = parseVmId(vmId);
    if (!extensionName) throw new ValidationError('Extension name is empty', { field: 'extensionName' });
    this.forget(vmId);
    const location = extension.location ?? (await this.getVm(vmId)).location;
    const body: VirtualMachineExtension = {
      location,
      publisher: extension.publisher,
      typePropertiesType: extension.type,
      typeHandlerVersion: extension.typeHandlerVersion,
      autoUpgradeMinorVersion: extension.autoUpgradeMinorVersion ?? true,
      settings: extension.settings ? structuredClone(extension.settings) : undefined,
    };
    if (extension.forceUpdateTag !== undefined) body.forceUpdateTag = extension.forceUpdateTag;
    if (protectedSettings) body.protectedSettings = revealAll(protectedSettings);

    return callAzure(
      `Start deploying extension ${extensionName} on VM ${vmId}`,
      async () => {
        // The poller sends the PUT as soon as it is created; `submitted()` resolves once ARM has
        // accepted it. We deliberately do not poll to completion (docs/ade-behaviour.md#reading-the-status: ADE can run for
        // hours and the ARM-side timeout is ~90 min); callers poll the instance view instead.
        const poller = this.client(id.subscriptionId).virtualMachineExtensions.createOrUpdate(
          id.resourceGroup,
          id.name,
          extensionName,
          body,
        );
        await poller.submitted();
        const started: DeploymentStarted = { extensionId: `${vmId.replace(/\/+$/, '')}/extensions/${extensionName}` };
        const state = poller.result?.provisioningState ?? statusToProvisioningState(poller.operationState?.status);
        if (state) started.provisioningState = state;
        return started;
      },
      { keepCause: protectedSettings === undefined },
    );
  }

  async updateOsDiskEncryptionSettings(
    vmId: string,
    settings: DiskEncryptionSettings,
    options: UpdateOsDiskEncryptionOptions = {},
  ): Promise<VmSnapshot | undefined> {
    const id = parseVmId(vmId);
    const client = this.client(id.subscriptionId);
    // The caller's status read moments ago (waiting for the secret) has the tags to merge into: no read of its own.
    const recent = this.recent.get(vmId.replace(/\/+$/, '').toLowerCase());
    const recentTags = recent && Date.now() - recent.at <= MERGE_TAGS_READ_MAX_AGE_MS ? recent : undefined;
    this.forget(vmId);
    const patch: VirtualMachineUpdate = {
      // Only the encryption settings: a rebuilt VM body would drop identity, zones, securityProfile
      // (see docs/ade-behaviour.md). `createOption` is required by the SDK type but not by a PATCH.
      storageProfile: { osDisk: { encryptionSettings: toSdkEncryptionSettings(settings) } as never },
    };
    let ifMatch: string | undefined;
    if (options.mergeTags && Object.keys(options.mergeTags).length > 0) {
      const current = recentTags
        ? { tags: recentTags.vm.tags, etag: recentTags.etag }
        : await callAzure(`Read VM ${vmId}`, () => client.virtualMachines.get(id.resourceGroup, id.name));
      patch.tags = mergeTags(current.tags ?? {}, options.mergeTags);
      // Guard against a concurrent tag change between that read and this write (412 → retryable conflict; the retry reads,
      // the recent read being forgotten).
      ifMatch = current.etag;
    }
    const update = () =>
      client.virtualMachines.update(id.resourceGroup, id.name, patch, { ...this.pollOptions, ...(ifMatch ? { ifMatch } : {}) });
    if (options.acceptedOnly) {
      // Accepted is enough: the model carries the settings from the PATCH on, and the caller's next VM read shows a failed
      // update in the VM's provisioningState. No operation-status polls.
      const accepted = await callAzure(`Update OS disk encryption settings of VM ${vmId}`, async () => {
        const poller = update();
        await poller.submitted();
        return poller.result;
      });
      return accepted ? toVmSnapshot(accepted) : undefined;
    }
    const updated = await callAzure(`Update OS disk encryption settings of VM ${vmId}`, () => update().pollUntilDone());
    return toVmSnapshot(updated);
  }

  async setTags(
    vmId: string,
    tags: Readonly<Record<string, string>>,
    options: { replace?: boolean } = {},
  ): Promise<Record<string, string>> {
    const id = parseVmId(vmId);
    const client = this.client(id.subscriptionId);
    this.forget(vmId);
    let next: Record<string, string> = { ...tags };
    let ifMatch: string | undefined;
    if (!options.replace) {
      const current = await callAzure(`Read VM ${vmId}`, () => client.virtualMachines.get(id.resourceGroup, id.name));
      next = mergeTags(current.tags ?? {}, tags);
      ifMatch = current.etag;
    }
    const updated = await callAzure(`Set tags on VM ${vmId}`, () =>
      client.virtualMachines
        .update(id.resourceGroup, id.name, { tags: next }, { ...this.pollOptions, ...(ifMatch ? { ifMatch } : {}) })
        .pollUntilDone(),
    );
    return { ...(updated.tags ?? next) };
  }

  async deallocate(vmId: string): Promise<void> {
    const id = parseVmId(vmId);
    this.forget(vmId);
    await callAzure(`Deallocate VM ${vmId}`, () =>
      this.client(id.subscriptionId).virtualMachines.deallocate(id.resourceGroup, id.name, this.pollOptions).pollUntilDone(),
    );
  }

  async start(vmId: string): Promise<void> {
    const id = parseVmId(vmId);
    this.forget(vmId);
    await callAzure(`Start VM ${vmId}`, () =>
      this.client(id.subscriptionId).virtualMachines.start(id.resourceGroup, id.name, this.pollOptions).pollUntilDone(),
    );
  }

  async encryptionAtHostFeatureState(subscriptionId: string): Promise<string> {
    const feature = await callAzure(`Read feature Microsoft.Compute/EncryptionAtHost of subscription ${subscriptionId}`, () =>
      this.features.get(subscriptionId).features.get('Microsoft.Compute', 'EncryptionAtHost'),
    );
    return feature.properties?.state ?? 'NotRegistered';
  }

  async sizeSupportsEncryptionAtHost(subscriptionId: string, location: string, vmSize: string): Promise<boolean | undefined> {
    const region = location.replace(/\s+/g, '').toLowerCase();
    const cacheKey = `${subscriptionId.toLowerCase()}|${region}`;
    const cached = this.skuCache.get(cacheKey);
    let sizes = cached && cached.until > Date.now() ? cached.sizes : undefined;
    if (!sizes) {
      // One list per subscription and region, kept for an hour: a region lists thousands of SKUs.
      sizes = await callAzure(`List resource SKUs in ${region} (subscription ${subscriptionId})`, async () => {
        const found = new Map<string, boolean>();
        for await (const sku of this.client(subscriptionId).resourceSkus.list({ filter: `location eq '${region}'` })) {
          if (sku.resourceType?.toLowerCase() !== 'virtualmachines' || !sku.name) continue;
          const capability = sku.capabilities?.find((c) => c.name?.toLowerCase() === 'encryptionathostsupported');
          found.set(sku.name.toLowerCase(), capability?.value?.toLowerCase() === 'true');
        }
        return found;
      });
      this.skuCache.set(cacheKey, { sizes, until: Date.now() + SKU_CACHE_MS });
    }
    return sizes.get(vmSize.toLowerCase());
  }

  async setEncryptionAtHost(vmId: string, enabled: boolean): Promise<VmSnapshot> {
    const id = parseVmId(vmId);
    const updated = await callAzure(`Set securityProfile.encryptionAtHost=${enabled} on VM ${vmId}`, () =>
      this.client(id.subscriptionId)
        .virtualMachines.update(id.resourceGroup, id.name, { securityProfile: { encryptionAtHost: enabled } }, this.pollOptions)
        .pollUntilDone(),
    );
    return toVmSnapshot(updated);
  }

  async getDiskEncryption(diskId: string): Promise<DiskEncryptionInfo> {
    const id = parseResourceId(diskId, 'diskId');
    if (!id.resourceGroup || id.provider?.toLowerCase() !== 'microsoft.compute' || id.resourceTypes[0]?.toLowerCase() !== 'disks') {
      throw new ValidationError(`diskId is not a managed disk id (Microsoft.Compute/disks): ${diskId}`, { field: 'diskId' });
    }
    const disk = await callAzure(`Read disk ${diskId}`, () => this.client(id.subscriptionId).disks.get(id.resourceGroup!, id.names[0]!));
    return toDiskEncryptionInfo(disk);
  }
}

function revealAll(settings: ProtectedSettings): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(settings)) {
    // Refuse plain strings: a secret that is not wrapped could already have been logged.
    if (!isSecretValue(value))
      throw new ValidationError(`Protected setting ${key} must be a SecretValue`, { field: `protectedSettings.${key}` });
    out[key] = value.reveal();
  }
  return out;
}

function statusToProvisioningState(status: string | undefined): string | undefined {
  switch (status) {
    case 'running':
      return 'Updating';
    case 'succeeded':
      return 'Succeeded';
    case 'failed':
      return 'Failed';
    case 'canceled':
      return 'Canceled';
    default:
      return undefined;
  }
}
