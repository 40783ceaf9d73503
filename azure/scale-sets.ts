/**
 * Scale sets over @azure/arm-compute (virtualMachineScaleSets, virtualMachineScaleSetExtensions,
 * virtualMachineScaleSetVMs): read a scale set's model, put the ADE extension on the model, upgrade instances, and read
 * every instance's status in one paged list (`$expand=instanceView`) rather than one read per instance.
 * ADE on scale sets: https://learn.microsoft.com/azure/virtual-machine-scale-sets/disk-encryption-overview.
 */
import {
  ComputeManagementClient,
  type ComputeManagementClientOptionalParams,
  type VirtualMachineScaleSet,
  type VirtualMachineScaleSetExtension,
  type VirtualMachineScaleSetVM,
} from '@azure/arm-compute';
import type { TokenCredential } from '@azure/core-auth';
import { ValidationError } from '../core/errors';
import { isAdeExtension } from '../core/extension-settings';
import { parseResourceId } from '../core/resource-ids';
import type { ScaleSetInstanceStatus } from '../core/scale-set';
import type { OsType, ScaleSetSnapshot, ScaleSetUpgradeMode } from '../core/vm';
import { ClientsBySubscription } from './arm-clients';
import { callAzure } from './errors';
import type { DeploymentStarted, ExtensionSpec, ProtectedSettings } from './ports';

export interface ScaleSetPort {
  /** The scale set's model. Permission: `Microsoft.Compute/virtualMachineScaleSets/read`. */
  getScaleSet(scaleSetId: string): Promise<ScaleSetSnapshot>;
  /**
   * Puts an extension on the model (`virtualMachineScaleSets/extensions` PUT) and returns once ARM accepted it.
   * Permission: `Microsoft.Compute/virtualMachineScaleSets/extensions/write`.
   */
  beginPutModelExtension(
    scaleSetId: string,
    extensionName: string,
    extension: ExtensionSpec,
    protectedSettings?: ProtectedSettings,
  ): Promise<DeploymentStarted>;
  /**
   * Brings the named instances to the latest model (`manualUpgrade`); returns once ARM accepted it.
   * Permission: `Microsoft.Compute/virtualMachineScaleSets/manualUpgrade/action`.
   */
  beginUpdateInstances(scaleSetId: string, instanceIds: readonly string[]): Promise<void>;
  /**
   * Every instance's model version and ADE status, from one paged list with instance views.
   * Permission: `Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read`.
   */
  instanceStatuses(scaleSetId: string): Promise<ScaleSetInstanceStatus[]>;
}

export interface ScaleSetAdapterOptions {
  clientOptions?: ComputeManagementClientOptionalParams;
}

function parseScaleSetId(scaleSetId: string): { subscriptionId: string; resourceGroup: string; name: string } {
  const id = parseResourceId(scaleSetId, 'scaleSetId');
  if (
    !id.resourceGroup ||
    id.provider?.toLowerCase() !== 'microsoft.compute' ||
    id.resourceTypes.length !== 1 ||
    id.resourceTypes[0]!.toLowerCase() !== 'virtualmachinescalesets'
  )
    throw new ValidationError(`scaleSetId is not a virtual machine scale set id: ${scaleSetId.slice(0, 200)}`, { field: 'scaleSetId' });
  return { subscriptionId: id.subscriptionId, resourceGroup: id.resourceGroup, name: id.names[0]! };
}

export class ScaleSetAdapter implements ScaleSetPort {
  private readonly clients = new ClientsBySubscription(
    (subscriptionId, defaults) =>
      new ComputeManagementClient(this.credential, subscriptionId, { ...defaults, ...this.options.clientOptions }),
  );

  constructor(
    private readonly credential: TokenCredential,
    private readonly options: ScaleSetAdapterOptions = {},
  ) {}

  async getScaleSet(scaleSetId: string): Promise<ScaleSetSnapshot> {
    const id = parseScaleSetId(scaleSetId);
    const set = await callAzure(`Read scale set ${scaleSetId}`, () =>
      this.clients.get(id.subscriptionId).virtualMachineScaleSets.get(id.resourceGroup, id.name),
    );
    return toScaleSetSnapshot(set, id);
  }

  async beginPutModelExtension(
    scaleSetId: string,
    extensionName: string,
    extension: ExtensionSpec,
    protectedSettings?: ProtectedSettings,
  ): Promise<DeploymentStarted> {
    const id = parseScaleSetId(scaleSetId);
    if (!extensionName) throw new ValidationError('Extension name is empty', { field: 'extensionName' });
    const body: VirtualMachineScaleSetExtension = {
      publisher: extension.publisher,
      typePropertiesType: extension.type,
      typeHandlerVersion: extension.typeHandlerVersion,
      autoUpgradeMinorVersion: extension.autoUpgradeMinorVersion ?? true,
      settings: extension.settings ? structuredClone(extension.settings) : undefined,
    };
    if (extension.forceUpdateTag !== undefined) body.forceUpdateTag = extension.forceUpdateTag;
    if (protectedSettings) body.protectedSettings = Object.fromEntries(Object.entries(protectedSettings).map(([k, v]) => [k, v.reveal()]));
    return callAzure(
      `Put extension ${extensionName} on the model of scale set ${scaleSetId}`,
      async () => {
        const poller = await this.clients
          .get(id.subscriptionId)
          .virtualMachineScaleSetExtensions.beginCreateOrUpdate(id.resourceGroup, id.name, extensionName, body);
        const started: DeploymentStarted = { extensionId: `${scaleSetId.replace(/\/+$/, '')}/extensions/${extensionName}` };
        const state = poller.getOperationState().result?.provisioningState;
        if (state) started.provisioningState = state;
        return started;
      },
      { keepCause: protectedSettings === undefined },
    );
  }

  async beginUpdateInstances(scaleSetId: string, instanceIds: readonly string[]): Promise<void> {
    const id = parseScaleSetId(scaleSetId);
    if (instanceIds.length === 0) throw new ValidationError('No instance ids to update', { field: 'instanceIds' });
    await callAzure(`Update instances ${instanceIds.join(', ')} of scale set ${scaleSetId}`, () =>
      this.clients.get(id.subscriptionId).virtualMachineScaleSets.beginUpdateInstances(id.resourceGroup, id.name, {
        instanceIds: [...instanceIds],
      }),
    );
  }

  async instanceStatuses(scaleSetId: string): Promise<ScaleSetInstanceStatus[]> {
    const id = parseScaleSetId(scaleSetId);
    return callAzure(`List instances of scale set ${scaleSetId}`, async () => {
      const out: ScaleSetInstanceStatus[] = [];
      const pages = this.clients
        .get(id.subscriptionId)
        .virtualMachineScaleSetVMs.list(id.resourceGroup, id.name, { expand: 'instanceView' });
      for await (const vm of pages) out.push(toInstanceStatus(vm));
      return out;
    });
  }
}

export function toScaleSetSnapshot(
  set: VirtualMachineScaleSet,
  id: { subscriptionId: string; resourceGroup: string; name: string },
): ScaleSetSnapshot {
  const profile = set.virtualMachineProfile;
  const storage = profile?.storageProfile;
  const osDisk = storage?.osDisk;
  const osTypeRaw =
    osDisk?.osType ?? (profile?.osProfile?.windowsConfiguration ? 'Windows' : profile?.osProfile?.linuxConfiguration ? 'Linux' : undefined);
  const snapshot: ScaleSetSnapshot = {
    id: set.id ?? '',
    name: set.name ?? id.name,
    resourceGroup: id.resourceGroup,
    subscriptionId: id.subscriptionId,
    location: set.location,
    orchestrationMode: set.orchestrationMode?.toLowerCase() === 'flexible' ? 'Flexible' : 'Uniform',
    upgradeMode: (['Automatic', 'Rolling', 'Manual'].find((m) => m.toLowerCase() === set.upgradePolicy?.mode?.toLowerCase()) ??
      'Manual') as ScaleSetUpgradeMode,
    capacity: set.sku?.capacity ?? 0,
    provisioningState: set.provisioningState ?? '',
    tags: { ...(set.tags ?? {}) },
    vmSize: set.sku?.name ?? '',
    managedDisks: !osDisk?.vhdContainers?.length,
    osDisk: {
      name: '',
      ...(osDisk?.managedDisk?.storageAccountType ? { storageAccountType: osDisk.managedDisk.storageAccountType } : {}),
      ...(osDisk?.managedDisk?.diskEncryptionSet?.id ? { diskEncryptionSetId: osDisk.managedDisk.diskEncryptionSet.id } : {}),
      ...(osDisk?.diffDiskSettings?.option?.toLowerCase() === 'local' ? { ephemeral: true } : {}),
    },
    dataDisks: (storage?.dataDisks ?? []).map((d) => ({
      lun: d.lun,
      name: d.name ?? '',
      ...(d.managedDisk?.storageAccountType ? { storageAccountType: d.managedDisk.storageAccountType } : {}),
      ...(d.managedDisk?.diskEncryptionSet?.id ? { diskEncryptionSetId: d.managedDisk.diskEncryptionSet.id } : {}),
    })),
    extensions: (profile?.extensionProfile?.extensions ?? []).map((e) => ({
      name: e.name ?? '',
      publisher: e.publisher ?? '',
      type: e.typePropertiesType ?? '',
      typeHandlerVersion: e.typeHandlerVersion ?? '',
      ...(e.provisioningState ? { provisioningState: e.provisioningState } : {}),
      ...(e.settings ? { settings: e.settings as Record<string, unknown> } : {}),
    })),
  };
  if (osTypeRaw) snapshot.osType = (osTypeRaw.toLowerCase() === 'windows' ? 'Windows' : 'Linux') as OsType;
  if (profile?.securityProfile) {
    snapshot.securityProfile = {
      ...(profile.securityProfile.encryptionAtHost !== undefined ? { encryptionAtHost: profile.securityProfile.encryptionAtHost } : {}),
      ...(profile.securityProfile.securityType ? { securityType: profile.securityProfile.securityType } : {}),
    };
  }
  const image = storage?.imageReference;
  if (image) {
    snapshot.imageReference = {
      ...(image.publisher ? { publisher: image.publisher } : {}),
      ...(image.offer ? { offer: image.offer } : {}),
      ...(image.sku ? { sku: image.sku } : {}),
      ...(image.version ? { version: image.version } : {}),
      ...(image.id ? { id: image.id } : {}),
    };
  }
  return snapshot;
}

export function toInstanceStatus(vm: VirtualMachineScaleSetVM): ScaleSetInstanceStatus {
  const view = vm.instanceView;
  const ade = (view?.extensions ?? []).find((e) =>
    isAdeExtension({ publisher: e.type?.split('.').slice(0, -1).join('.') ?? '', type: e.type?.split('.').pop() ?? '' }),
  );
  const status: ScaleSetInstanceStatus = {
    instanceId: vm.instanceId ?? '',
    latestModelApplied: vm.latestModelApplied ?? false,
    diskStates: (view?.disks ?? []).map(
      (d) =>
        (d.statuses ?? [])
          .map((s) => s.code ?? '')
          .filter((c) => c.toLowerCase().startsWith('encryptionstate/'))
          .at(-1) ?? 'none',
    ),
  };
  const first = ade?.statuses?.[0];
  if (first?.code) status.adeStatusCode = first.code;
  if (first?.message) status.adeStatusMessage = first.message;
  return status;
}
