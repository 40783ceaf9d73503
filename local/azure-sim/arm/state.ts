/**
 * Resource Manager state: plain JSON records keyed by lower-cased resource id, so the whole
 * state snapshots with structuredClone and persists as JSON under --state.
 */
import type { AccessPolicyEntry, VaultRecord } from '../contract';

export interface SubscriptionRecord {
  subscriptionId: string;
  displayName: string;
  tenantId: string;
  state: 'Enabled' | 'Disabled';
}

export interface ResourceGroupRecord {
  id: string;
  name: string;
  subscriptionId: string;
  location: string;
  tags: Record<string, string>;
  provisioningState: 'Succeeded' | 'Deleting';
}

export interface InstanceViewStatus {
  code: string;
  level: 'Info' | 'Warning' | 'Error';
  displayStatus?: string;
  message?: string;
  time?: string;
}

export interface DiskEncryptionSettingsModel {
  enabled?: boolean;
  diskEncryptionKey?: { secretUrl: string; sourceVault: { id: string } };
  keyEncryptionKey?: { keyUrl: string; sourceVault: { id: string } };
}

export interface DiskRecord {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  osType?: 'Windows' | 'Linux';
  diskSizeGB: number;
  sku: string;
  managedBy?: string;
  timeCreated: string;
  encryptionSettingsCollection?: {
    enabled: boolean;
    encryptionSettings: DiskEncryptionSettingsModel[];
    encryptionSettingsVersion: '1.0' | '1.1';
  };
  /** Guest-side truth: is the volume actually encrypted (stamped is not encrypted). */
  encryptionState: 'notEncrypted' | 'encrypted' | 'encryptionInProgress';
}

export interface ExtensionRecord {
  id: string;
  name: string;
  location: string;
  publisher: string;
  type: string;
  typeHandlerVersion: string;
  autoUpgradeMinorVersion: boolean;
  forceUpdateTag?: string;
  settings: unknown;
  /** Kept to run the extension; never returned by GET (as in Azure). */
  protectedSettings?: unknown;
  provisioningState: 'Creating' | 'Updating' | 'Succeeded' | 'Failed' | 'Deleting';
  statuses: InstanceViewStatus[];
  substatuses: InstanceViewStatus[];
  tags: Record<string, string>;
}

/** What the guest OS keeps: BEK volume files (Windows) / passphrase file (Linux), boot state. */
export interface GuestState {
  bekFiles: { name: string; secretUrl: string }[];
  boot: 'ok' | 'BitLockerRecovery' | 'PassphrasePrompt';
  /** Last SequenceVersion / settings fingerprint the ADE extension ran with (re-run semantics). */
  adeFingerprint?: string;
  adeSequence?: string;
}

export interface VmRecord {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  zones?: string[];
  vmId: string;
  vmSize: string;
  osType: 'Windows' | 'Linux';
  computerName: string;
  adminUsername: string;
  imageReference: unknown;
  osDiskId: string;
  dataDisks: { lun: number; diskId: string; caching: string; createOption: string }[];
  osDiskEncryptionSettings?: DiskEncryptionSettingsModel;
  networkInterfaces: { id: string; primary?: boolean }[];
  /** `virtualMachineScaleSet.id`: the Flexible scale set the VM was created in. */
  virtualMachineScaleSetId?: string;
  identity?: unknown;
  securityProfile?: unknown;
  provisioningState: 'Creating' | 'Updating' | 'Succeeded' | 'Failed' | 'Deleting';
  powerState: 'running' | 'stopped' | 'deallocated' | 'starting' | 'stopping' | 'deallocating';
  timeCreated: string;
  extensions: Record<string, ExtensionRecord>;
  guest: GuestState;
  memoryGB: number;
  /** Set once an Azure Disk Encryption extension was deployed: encryption at host stays refused afterwards. */
  adeEver?: boolean;
}

/** A preview feature's registration in one subscription (Microsoft.Features). */
export interface FeatureRecord {
  subscriptionId: string;
  /** `{namespace}/{name}`, e.g. Microsoft.Compute/EncryptionAtHost. */
  feature: string;
  state: 'NotRegistered' | 'Registering' | 'Registered' | 'Unregistering' | 'Unregistered';
}

/** A virtual machine scale set (https://learn.microsoft.com/rest/api/compute/virtual-machine-scale-sets). */
export interface ScaleSetRecord {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  uniqueId: string;
  orchestrationMode: 'Uniform' | 'Flexible';
  upgradeMode: 'Automatic' | 'Rolling' | 'Manual';
  skuName?: string;
  capacity: number;
  singlePlacementGroup?: boolean;
  platformFaultDomainCount?: number;
  /** `virtualMachineProfile` as sent (minus extensions), absent for a Flexible set created without one. */
  profile?: {
    osType: 'Windows' | 'Linux';
    computerNamePrefix: string;
    adminUsername: string;
    imageReference: unknown;
    osDisk: { storageAccountType: string; managed: boolean; ephemeral: boolean; diskSizeGB?: number };
    dataDisks: { lun: number; diskSizeGB: number; storageAccountType: string }[];
    securityProfile?: unknown;
  };
  /** `virtualMachineProfile.extensionProfile.extensions` (protected settings kept to run them, never returned). */
  extensions: Record<string, ExtensionRecord>;
  /** Bumped by every model change; an instance with a lower version has `latestModelApplied: false`. */
  modelVersion: number;
  provisioningState: 'Creating' | 'Updating' | 'Succeeded' | 'Failed' | 'Deleting';
  timeCreated: string;
}

/** A Uniform scale set instance: a VM record (guest, disks, extensions) plus its place in the set. */
export interface ScaleSetInstanceRecord extends VmRecord {
  scaleSetId: string;
  instanceId: string;
  modelVersion: number;
}

export interface DeletedVaultRecord {
  id: string;
  name: string;
  location: string;
  vaultId: string;
  deletionDate: string;
  scheduledPurgeDate: string;
  purgeProtectionEnabled: boolean;
  tags: Record<string, string>;
  vault: VaultRecord;
}

export interface EventSubscriptionRecord {
  id: string;
  name: string;
  /** ARM id of the topic resource (system topic or custom topic). */
  topicId: string;
  /** The source whose events this subscription receives (system topic source or custom topic id). */
  source: string;
  properties: Record<string, any>;
  provisioningState: 'Creating' | 'Succeeded' | 'Failed' | 'AwaitingManualAction' | 'Deleting';
}

export interface SystemTopicRecord {
  id: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  source: string;
  topicType: string;
  metricResourceId: string;
  /** `SystemAssigned`, `UserAssigned` or both, with the user-assigned identities' resource ids; absent = none. */
  identity?: { type: string; userAssignedIdentities: string[] };
}

export interface CustomTopicRecord {
  id: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  endpoint: string;
  inputSchema: string;
  key1: string;
  key2: string;
  disableLocalAuth: boolean;
}

export interface RoleAssignmentRecord {
  id: string;
  name: string;
  scope: string;
  roleDefinitionId: string;
  principalId: string;
  principalType: string;
  createdOn: string;
}

/** A custom role (`Microsoft.Authorization/roleDefinitions` PUT); built-in roles live in roles.ts. */
export interface CustomRoleRecord {
  /** GUID, lower case. */
  name: string;
  roleName: string;
  description: string;
  roleType: 'CustomRole';
  permissions: { actions: string[]; notActions: string[]; dataActions: string[]; notDataActions: string[] }[];
  assignableScopes: string[];
  /** Scope it was created at (`/subscriptions/{id}`). */
  scope: string;
  createdOn: string;
  updatedOn: string;
}

/** A long-running operation as the Azure-AsyncOperation / Location endpoints report it. */
export interface OperationRecord {
  id: string;
  name: string;
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';
  startTime: string;
  endTime?: string;
  /** Simulated time at which the operation is expected to finish (for Retry-After). */
  expectedEnd: number;
  error?: { code: string; message: string; details?: unknown[] };
  /** Resource the Location header resolves to once done (200 with it, or 204 when absent). */
  resourceId?: string;
  /** Body the Location poll returns when done (for actions that return content). */
  result?: unknown;
}

/** An Azure Policy compliance state of one resource for one assignment / definition (Policy Insights). */
export interface PolicyStateRecord {
  resourceId: string;
  policyAssignmentId: string;
  policyDefinitionId: string;
  policyDefinitionReferenceId: string;
  complianceState: string;
  complianceReasonCode: string;
  subscriptionId: string;
  /** Time of the evaluation (event data `timestamp`). */
  timestamp: string;
}

/** A management group: its parent (none: under the tenant root group) and the subscriptions directly in it. */
export interface ManagementGroupRecord {
  name: string;
  displayName: string;
  parent?: string;
  subscriptions: string[];
}

export interface ArmState {
  subscriptions: Record<string, SubscriptionRecord>;
  /** Keyed by lower-cased group name; optional so older snapshots restore. */
  managementGroups?: Record<string, ManagementGroupRecord>;
  resourceGroups: Record<string, ResourceGroupRecord>;
  vms: Record<string, VmRecord>;
  disks: Record<string, DiskRecord>;
  /**
   * Scale sets, their Uniform instances and those instances' disks (not listed as Microsoft.Compute/disks); optional
   * so older snapshots restore.
   */
  scaleSets?: Record<string, ScaleSetRecord>;
  scaleSetVms?: Record<string, ScaleSetInstanceRecord>;
  scaleSetDisks?: Record<string, DiskRecord>;
  vaults: Record<string, VaultRecord>;
  /** Keyed by lower-cased vault name (names are global). */
  deletedVaults: Record<string, DeletedVaultRecord>;
  systemTopics: Record<string, SystemTopicRecord>;
  customTopics: Record<string, CustomTopicRecord>;
  eventSubscriptions: Record<string, EventSubscriptionRecord>;
  roleAssignments: Record<string, RoleAssignmentRecord>;
  /** Custom role definitions keyed by lower-cased GUID; optional so older snapshots restore. */
  roleDefinitions?: Record<string, CustomRoleRecord>;
  operations: Record<string, OperationRecord>;
  /** Keyed by lower-cased `resourceId|assignment|definition|referenceId`; optional so older snapshots restore. */
  policyStates?: Record<string, PolicyStateRecord>;
  /** Keyed by lower-cased `subscriptionId|namespace/name`; optional so older snapshots restore. */
  features?: Record<string, FeatureRecord>;
  /** Microsoft.Insights/diagnosticSettings keyed by lower-cased setting id; optional so older snapshots restore. */
  diagnosticSettings?: Record<string, import('./insights').DiagnosticSettingRecord>;
  /** Per-size capability overrides (control API), keyed by lower-cased size name. */
  skuCapabilities?: Record<string, { encryptionAtHostSupported?: boolean }>;
}

export function emptyState(): ArmState {
  return {
    subscriptions: {},
    managementGroups: {},
    resourceGroups: {},
    vms: {},
    disks: {},
    scaleSets: {},
    scaleSetVms: {},
    scaleSetDisks: {},
    vaults: {},
    deletedVaults: {},
    systemTopics: {},
    customTopics: {},
    eventSubscriptions: {},
    roleAssignments: {},
    roleDefinitions: {},
    operations: {},
    policyStates: {},
    features: {},
    skuCapabilities: {},
    diagnosticSettings: {},
  };
}

export type { AccessPolicyEntry, VaultRecord };
