/**
 * Ports: the narrow, SDK-free interfaces the app uses to talk to Azure, one per concern.
 *
 * Activities and tests depend on these types only; the implementations beside this file wrap the
 * official SDKs. Every method names the permission it needs, so the infra template can grant
 * exactly that and nothing more:
 *  - ARM: an RBAC action (e.g. `Microsoft.Compute/virtualMachines/read`);
 *  - Key Vault data plane: an access-policy permission (e.g. keys `create`), vaults use the
 *    access-policy model;
 *  - Microsoft Graph: an application permission (e.g. `Application.ReadWrite.OwnedBy`).
 *
 * All methods throw core AdeErrors (see azure/errors.ts) with `retryable` set; getters documented
 * as "or undefined" turn a 404 into `undefined` instead.
 */
import type { PlannedEventSubscription } from '../core/events/subscription-wiring';
import type { DiskEncryptionSettings, ExtensionInstanceView, ScaleSetSnapshot, VmSnapshot } from '../core/vm';
import type { SecretValue } from './secret-value';
import type { ScaleSetPort } from './scale-sets';

export type { DiskEncryptionSettings, ExtensionInstanceView, VmSnapshot } from '../core/vm';
export type { SecretValue } from './secret-value';

// ---------------------------------------------------------------------------------------------
// Compute

export interface VmPage {
  vms: VmSnapshot[];
  /** Pass to the next call to continue; absent on the last page. */
  continuationToken?: string;
}

/** The public part of a VM extension resource (core's AdeExtension fits this shape). */
export interface ExtensionSpec {
  publisher: string;
  /** Extension type, e.g. `AzureDiskEncryption` (`typePropertiesType` in the SDK). */
  type: string;
  typeHandlerVersion: string;
  autoUpgradeMinorVersion?: boolean;
  /** Public settings: must not contain secrets (they are readable by anyone with VM read). */
  settings?: object;
  forceUpdateTag?: string;
  /** The VM's region (ARM requires it on the extension PUT); read from the VM when omitted (one extra read). */
  location?: string;
}

/** Protected settings: every value is a SecretValue, so they cannot be logged by accident. */
export type ProtectedSettings = Readonly<Record<string, SecretValue>>;

export interface ExtensionStatus {
  /** Instance name the extension actually has. */
  name: string;
  publisher?: string;
  type?: string;
  typeHandlerVersion?: string;
  /** ARM provisioning state of the last PUT: `Creating`, `Updating`, `Succeeded`, `Failed`, … */
  provisioningState?: string;
  /** Public settings as ARM reports them (never protected settings). */
  settings?: Record<string, unknown>;
  instanceView?: ExtensionInstanceView;
}

export interface DeploymentStarted {
  /** ARM id of the extension resource. */
  extensionId: string;
  /** Provisioning state right after the PUT was accepted (usually `Creating` or `Updating`). */
  provisioningState?: string;
}

export interface UpdateOsDiskEncryptionOptions {
  /**
   * Tags merged into the VM's current tags in the same PATCH (no extra write). The current tags come from the adapter's
   * own read of the VM in the last minute when there is one (the caller's status read), else from a read; the PATCH
   * carries that read's ETag as If-Match.
   */
  mergeTags?: Readonly<Record<string, string>>;
  /**
   * Return once Resource Manager accepted the PATCH (the model carries the settings from then on) instead of polling the
   * operation to its end; the caller then reads the VM anyway (its provisioningState tells a failed update). Default false.
   */
  acceptedOnly?: boolean;
}

export interface GetVmOptions {
  instanceView?: boolean;
  /**
   * Accept a snapshot (with instance view) this adapter itself read at most this many milliseconds ago (counted from when
   * the read was sent), instead of a new ARM read. A write through the adapter to the VM forgets it. Default 0: always
   * read.
   */
  maxAgeMs?: number;
}

export interface DiskEncryptionInfo {
  id: string;
  name: string;
  /** `encryptionSettingsCollection` of the managed disk (single-pass ADE stamps it). */
  encryptionSettingsCollection?: {
    enabled: boolean;
    /** `1.0` = ADE with an Entra app, `1.1` = single-pass ADE. */
    encryptionSettingsVersion?: string;
    encryptionSettings: Array<{
      diskEncryptionKey?: { secretUrl: string; sourceVaultId?: string };
      keyEncryptionKey?: { keyUrl: string; sourceVaultId?: string };
    }>;
  };
  /** Server-side encryption type (`EncryptionAtRestWithPlatformKey`, …). */
  encryptionType?: string;
}

export interface ComputePort {
  /**
   * Reads a VM (optionally with its instance view). Throws NotFoundError when it does not exist.
   * Permission: `Microsoft.Compute/virtualMachines/read`.
   */
  getVm(vmId: string, options?: GetVmOptions): Promise<VmSnapshot>;

  /**
   * One page of the subscription's VMs (model only, no instance view).
   * Permission: `Microsoft.Compute/virtualMachines/read` at subscription scope.
   */
  listVms(subscriptionId: string, continuationToken?: string): Promise<VmPage>;

  /**
   * The extension with its instance view (`$expand=instanceView`), or undefined when the VM has no
   * extension of that name. Permission: `Microsoft.Compute/virtualMachines/extensions/read`.
   */
  getExtensionInstanceView(vmId: string, extensionName: string): Promise<ExtensionStatus | undefined>;

  /**
   * Starts the extension PUT and returns once ARM accepted it; does not wait for the extension to
   * finish (ADE can run for hours; poll {@link getExtensionInstanceView} instead).
   * Permission: `Microsoft.Compute/virtualMachines/extensions/write`.
   */
  beginDeployExtension(
    vmId: string,
    extensionName: string,
    extension: ExtensionSpec,
    protectedSettings?: ProtectedSettings,
  ): Promise<DeploymentStarted>;

  /**
   * Targeted PATCH of `storageProfile.osDisk.encryptionSettings` (dual-pass second pass), with
   * optional tags merged into the same write; waits for the update to finish (with `acceptedOnly`: returns once ARM
   * accepted it, with the VM ARM answered, or undefined when it answered none). Exactly one ARM
   * write (plus one read when tags are merged, guarded by the VM's ETag).
   * Permissions: `Microsoft.Compute/virtualMachines/write` (and `/read` with mergeTags).
   */
  updateOsDiskEncryptionSettings(
    vmId: string,
    settings: DiskEncryptionSettings,
    options?: UpdateOsDiskEncryptionOptions,
  ): Promise<VmSnapshot | undefined>;

  /**
   * Sets tags on the VM: merged into the current tags (default) or replacing them. One write.
   * Permissions: `Microsoft.Compute/virtualMachines/write` (and `/read` when merging).
   */
  setTags(vmId: string, tags: Readonly<Record<string, string>>, options?: { replace?: boolean }): Promise<Record<string, string>>;

  /** Deallocates the VM and waits. Permission: `Microsoft.Compute/virtualMachines/deallocate/action`. */
  deallocate(vmId: string): Promise<void>;

  /** Starts the VM and waits. Permission: `Microsoft.Compute/virtualMachines/start/action`. */
  start(vmId: string): Promise<void>;

  /** Encryption settings of a managed disk. Permission: `Microsoft.Compute/disks/read`. */
  getDiskEncryption(diskId: string): Promise<DiskEncryptionInfo>;

  /**
   * Registration state of the subscription's `Microsoft.Compute/EncryptionAtHost` feature (`Registered`,
   * `NotRegistered`, `Registering`, …; Features API). Permission: `Microsoft.Features/providers/features/read`.
   */
  encryptionAtHostFeatureState(subscriptionId: string): Promise<string>;

  /**
   * The size's `EncryptionAtHostSupported` capability in the region (resource SKUs); undefined when the region does not
   * list the size. Permission: `Microsoft.Compute/skus/read`.
   */
  sizeSupportsEncryptionAtHost(subscriptionId: string, location: string, vmSize: string): Promise<boolean | undefined>;

  /**
   * PATCHes only `securityProfile.encryptionAtHost` and waits; Azure needs the VM deallocated.
   * Permission: `Microsoft.Compute/virtualMachines/write`.
   */
  setEncryptionAtHost(vmId: string, enabled: boolean): Promise<VmSnapshot>;
}

// ---------------------------------------------------------------------------------------------
// Key Vault management plane

export interface AccessPolicyPermissions {
  keys?: string[];
  secrets?: string[];
  certificates?: string[];
}

export interface AccessPolicy {
  tenantId: string;
  objectId: string;
  applicationId?: string;
  permissions: AccessPolicyPermissions;
}

export interface VaultInfo {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tenantId: string;
  /** `https://<name>.vault.azure.net/` as ARM reports it. */
  vaultUri: string;
  skuName: string;
  enabledForDiskEncryption: boolean;
  enableSoftDelete: boolean;
  softDeleteRetentionInDays?: number;
  enablePurgeProtection: boolean;
  enableRbacAuthorization: boolean;
  accessPolicies: AccessPolicy[];
  tags: Record<string, string>;
  provisioningState?: string;
}

export interface VaultSpec {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  tenantId: string;
  softDeleteRetentionInDays: number;
  enablePurgeProtection: boolean;
  tags?: Readonly<Record<string, string>>;
  /** Entries the vault must have (added, never removed, when the vault already exists). */
  accessPolicies?: readonly AccessPolicy[];
  /**
   * Network rules of a NEW vault (an existing vault's rules are left as they are): the default action and allowed IPv4
   * ranges; trusted Azure services (Azure Disk Encryption, Azure Backup) always bypass them. Absent: Azure's default, Allow.
   */
  networkRules?: { defaultAction: 'Allow' | 'Deny'; ipRules: readonly string[] };
}

export interface EnsureVaultResult {
  vault: VaultInfo;
  /** What ensureVault had to do. */
  action: 'created' | 'recovered' | 'updated' | 'unchanged';
}

export interface NameAvailability {
  available: boolean;
  /** `AlreadyExists` / `AccountNameInvalid` when not available. */
  reason?: string;
  message?: string;
}

export interface DeletedVaultInfo {
  id?: string;
  name: string;
  location?: string;
  /** Resource id of the vault before deletion. */
  vaultId?: string;
  deletionDate?: string;
  scheduledPurgeDate?: string;
  purgeProtectionEnabled?: boolean;
  tags?: Record<string, string>;
}

export interface VaultManagementPort {
  /** The vault, or undefined when it does not exist. Permission: `Microsoft.KeyVault/vaults/read`. */
  getVault(vaultId: string): Promise<VaultInfo | undefined>;

  /**
   * Idempotent: creates the vault (standard SKU, access-policy model, enabledForDiskEncryption,
   * soft delete with the given retention, purge protection) or, when a soft-deleted vault of that
   * name exists in the location, recovers it; for an existing vault, patches only the flags that
   * differ and adds missing access policies (never removes entries others added). Fails with
   * ConflictError when the existing vault is in another location or uses the RBAC model.
   * Permissions: `Microsoft.KeyVault/vaults/read`, `/write`, `Microsoft.KeyVault/locations/deletedVaults/read`,
   * `Microsoft.KeyVault/vaults/accessPolicies/write`.
   */
  ensureVault(spec: VaultSpec): Promise<EnsureVaultResult>;

  /**
   * `add`: merges permissions into one principal's entry. `replace`: makes that principal's entry
   * exactly these permissions, leaving every other principal's entry untouched.
   * Permissions: `Microsoft.KeyVault/vaults/accessPolicies/write` (and `/read` for replace).
   */
  setAccessPolicy(vaultId: string, policy: AccessPolicy, kind?: 'add' | 'replace'): Promise<void>;

  /** Removes one principal's entry (missing is fine). Permissions: `Microsoft.KeyVault/vaults/read`, `/accessPolicies/write`. */
  removeAccessPolicy(vaultId: string, policy: Pick<AccessPolicy, 'tenantId' | 'objectId' | 'applicationId'>): Promise<void>;

  /**
   * Global name check, made in `subscriptionId` (default: the app's subscription).
   * Permission: `Microsoft.KeyVault/checkNameAvailability/read`.
   */
  checkNameAvailability(name: string, subscriptionId?: string): Promise<NameAvailability>;

  /**
   * The soft-deleted vault, or undefined. Permission: `Microsoft.KeyVault/locations/deletedVaults/read`.
   */
  getDeletedVault(name: string, location: string, subscriptionId?: string): Promise<DeletedVaultInfo | undefined>;

  /**
   * Recovers a soft-deleted vault (PUT with `createMode: recover`) and waits.
   * Permission: `Microsoft.KeyVault/vaults/write`.
   */
  recoverVault(spec: Pick<VaultSpec, 'subscriptionId' | 'resourceGroup' | 'name' | 'location' | 'tenantId'>): Promise<VaultInfo>;
}

// ---------------------------------------------------------------------------------------------
// Key Vault data plane (keys and secret metadata; never secret values)

export interface KeyInfo {
  /** Versioned key id: `https://<vault>.vault.azure.net/keys/<name>/<version>` (a valid ADE KEK URL). */
  versionedId: string;
  name: string;
  version: string;
  keyType?: string;
  enabled?: boolean;
}

export interface EnsureKekResult extends KeyInfo {
  created: boolean;
  /** True when the key had been soft-deleted and was recovered. */
  recovered: boolean;
}

/**
 * What the automation may know about a secret version: its metadata, from list-level access.
 * Deliberately has no `value`: nothing in this port can return one.
 */
export interface SecretVersionProperties {
  /** Versioned secret URL. */
  id: string;
  vaultUrl: string;
  name: string;
  version: string;
  enabled?: boolean;
  contentType?: string;
  tags: Record<string, string>;
  createdOn?: string;
  updatedOn?: string;
}

export interface DeletedObjectInfo {
  /** Recovery id (`https://<vault>/deletedsecrets|deletedkeys/<name>`). */
  recoveryId?: string;
  name: string;
  deletedOn?: string;
  scheduledPurgeDate?: string;
  tags: Record<string, string>;
}

export interface KeyVaultDataPort {
  /**
   * Returns the named RSA key, creating it with the given size when missing (recovering it first
   * when it is soft-deleted). Permissions: keys `get`, `create` (and `recover` for the deleted case).
   */
  ensureKek(vaultUrl: string, keyName: string, options: { keySize: 2048 | 3072 | 4096 }): Promise<EnsureKekResult>;

  /** Latest version's versioned id, or undefined. Permission: keys `get`. */
  getKeyVersionedId(vaultUrl: string, keyName: string): Promise<string | undefined>;

  /**
   * Properties (tags, content type, enabled) of the secret version a versioned secret URL names,
   * or undefined when no such version exists. Uses list only (`listPropertiesOfSecretVersions`),
   * never a get of the secret. Permission: secrets `list`.
   */
  findSecretVersionProperties(secretUrl: string): Promise<SecretVersionProperties | undefined>;

  /** The soft-deleted secret's metadata, or undefined. Permission: secrets `list`. */
  getDeletedSecret(vaultUrl: string, secretName: string): Promise<DeletedObjectInfo | undefined>;

  /** Recovers a soft-deleted secret and waits until it is usable. Permission: secrets `recover`. */
  recoverDeletedSecret(vaultUrl: string, secretName: string): Promise<void>;

  /** The soft-deleted key's metadata, or undefined. Permission: keys `get` (public key material only). */
  getDeletedKey(vaultUrl: string, keyName: string): Promise<DeletedObjectInfo | undefined>;

  /** Recovers a soft-deleted key and waits. Permission: keys `recover`. */
  recoverDeletedKey(vaultUrl: string, keyName: string): Promise<KeyInfo>;
}

// ---------------------------------------------------------------------------------------------
// Microsoft Entra ID (Graph v1.0)

export interface ApplicationInfo {
  /** Directory object id (used for addPassword / delete). */
  objectId: string;
  /** Application (client) id (ADE's `AADClientID`). */
  appId: string;
  displayName: string;
}

export interface EnsureApplicationResult extends ApplicationInfo {
  created: boolean;
}

export interface ServicePrincipalInfo {
  objectId: string;
  appId: string;
  displayName?: string;
}

export interface PasswordCredential {
  keyId: string;
  /** ISO date the credential stops working. */
  endDateTime: string;
  /** The client secret itself, redacted whenever printed. */
  secret: SecretValue;
}

export interface AppPasswordInfo {
  appObjectId: string;
  appDisplayName: string;
  keyId: string;
  displayName?: string;
  startDateTime?: string;
  endDateTime?: string;
}

export interface DirectoryPort {
  /**
   * The application with this display name that the automation owns, created when missing (the
   * creator becomes its owner). Permission: Graph `Application.ReadWrite.OwnedBy`.
   */
  ensureApplication(displayName: string, options?: { notes?: string }): Promise<EnsureApplicationResult>;

  /**
   * Whether the automation's own principal owns the application with this object id and client id (tagged by the app).
   * Permission: Graph `Application.ReadWrite.OwnedBy` (its own `ownedObjects`).
   */
  ownsApplication(appObjectId: string, appId: string): Promise<boolean>;
  /** Whether the application object exists (false only on 404; an application the automation may not read exists). */
  applicationExists(appObjectId: string): Promise<boolean>;

  /**
   * The service principal for the app, created when missing.
   * Permission: Graph `Application.ReadWrite.OwnedBy` (owner of the app).
   */
  ensureServicePrincipal(appId: string): Promise<ServicePrincipalInfo>;

  /**
   * A new password credential valid for `lifetimeMs` (Graph `addPassword`). The secret exists only
   * in the returned SecretValue. Permission: Graph `Application.ReadWrite.OwnedBy`.
   */
  addPassword(appObjectId: string, options: { lifetimeMs: number; displayName?: string }): Promise<PasswordCredential>;

  /**
   * The password credentials (metadata only: Graph never returns a secret after creation) of the applications this
   * automation owns whose display name starts with `displayNamePrefix`. Permission: `Application.ReadWrite.OwnedBy`.
   */
  listOwnedAppPasswords(displayNamePrefix: string): Promise<AppPasswordInfo[]>;

  /** Removes a password credential; a missing one is not an error. Permission: `Application.ReadWrite.OwnedBy`. */
  removePassword(appObjectId: string, keyId: string): Promise<void>;

  /** Deletes the application (soft delete in Entra); missing is not an error. Permission: `Application.ReadWrite.OwnedBy`. */
  deleteApplication(appObjectId: string): Promise<void>;

  /** Deletes the service principal; missing is not an error. Permission: `Application.ReadWrite.OwnedBy`. */
  deleteServicePrincipal(servicePrincipalObjectId: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Event Grid

export interface SystemTopicInfo {
  id: string;
  name: string;
  resourceGroup: string;
  subscriptionId: string;
  location: string;
  /** ARM id of the source resource (the vault). */
  source: string;
  topicType: string;
}

export type EventDestination =
  | { kind: 'webhook'; endpointUrl: string; maxEventsPerBatch?: number }
  | { kind: 'azure-function'; resourceId: string; maxEventsPerBatch?: number };

export interface EventSubscriptionSpec {
  name: string;
  destination: EventDestination;
  includedEventTypes: string[];
  subjectBeginsWith?: string;
  subjectEndsWith?: string;
  /**
   * Blob container for events Event Grid could not deliver. Written with Event Grid's own identity
   * (`deadLetterDestination`), so the topic needs no managed identity.
   */
  deadLetter?: { storageAccountId: string; containerName: string };
}

export interface EventSubscriptionInfo {
  id: string;
  name: string;
  provisioningState?: string;
  includedEventTypes: string[];
  destinationKind?: 'webhook' | 'azure-function' | 'other';
  action: 'created' | 'updated' | 'unchanged';
}

export interface EventSubscriptionPort {
  /**
   * The vault's Event Grid system topic (type `Microsoft.KeyVault.vaults`), created when missing,
   * in the vault's resource group and location. Permissions: `Microsoft.EventGrid/systemTopics/read`,
   * `/write`.
   */
  ensureVaultSystemTopic(vault: Pick<VaultInfo, 'id' | 'name' | 'location' | 'subscriptionId' | 'resourceGroup'>): Promise<SystemTopicInfo>;

  /**
   * Creates or updates the subscription only when its destination, event types or filters differ.
   * Permissions: `Microsoft.EventGrid/systemTopics/eventSubscriptions/read`, `/write`; for an Azure
   * Function destination also `Microsoft.Web/sites/functions/read` (ARM checks it).
   */
  ensureEventSubscription(
    topic: Pick<SystemTopicInfo, 'name' | 'resourceGroup' | 'subscriptionId'>,
    spec: EventSubscriptionSpec,
  ): Promise<EventSubscriptionInfo>;
}

// ---------------------------------------------------------------------------------------------
// Azure Monitor diagnostic settings (Microsoft.Insights/diagnosticSettings on a resource)

export interface DiagnosticSettingInfo {
  id: string;
  name: string;
  /** Log Analytics workspace resource id, when the setting sends there. */
  workspaceId?: string;
  /** `Dedicated` (resource-specific tables) or absent (AzureDiagnostics). */
  logAnalyticsDestinationType?: string;
  logs: Array<{ category?: string; categoryGroup?: string; enabled: boolean }>;
  metrics: Array<{ category?: string; enabled: boolean }>;
}

export interface EnsureDiagnosticSettingResult {
  setting: DiagnosticSettingInfo;
  action: 'created' | 'updated' | 'unchanged';
}

export interface DiagnosticSettingsPort {
  /** The resource's setting of that name, or undefined. Permission: `Microsoft.Insights/diagnosticSettings/read` on the resource. */
  getDiagnosticSetting(resourceId: string, name: string): Promise<DiagnosticSettingInfo | undefined>;

  /**
   * Idempotent: the vault's setting `name` sends the audit category group to the workspace (resource-specific table);
   * written only when missing or different (core/vault-diagnostics.ts). Permissions: `Microsoft.Insights/diagnosticSettings/read`
   * and `/write` on the vault, and `Microsoft.OperationalInsights/workspaces/sharedKeys/action` on the workspace (ARM's
   * linked access check on the destination).
   */
  ensureVaultAuditLogs(resourceId: string, name: string, workspaceId: string): Promise<EnsureDiagnosticSettingResult>;
}

/** Everything azure/clients.ts builds. */
/** Where the next Resource Graph page starts: the service's token, with the row offset that overrides its own. */
export interface GraphCursor {
  skipToken: string;
  skip: number;
}

export interface GraphVmPage {
  vms: VmSnapshot[];
  /** Absent on the last page. */
  cursor?: GraphCursor;
}

export interface ResourceGraphPort {
  /**
   * One page (up to 1,000 rows) of the VMs in the subscriptions, each with its model, power state and ADE extension, from
   * Azure Resource Graph (its own quota; no ARM read). Permission: read on the VMs (Reader on the subscriptions).
   */
  vmPage(subscriptionIds: readonly string[], cursor?: GraphCursor): Promise<GraphVmPage>;

  /**
   * The subscriptions under the management groups and their descendants (lower-case ids) that the identity can see:
   * Resource Graph's `ResourceContainers` with the groups as the query's scope.
   */
  subscriptionsInManagementGroups(managementGroupIds: readonly string[]): Promise<string[]>;

  /** Every scale set's model in the subscriptions (Resource Graph's Resources table). Optional: fakes may leave it out. */
  scaleSets?(subscriptionIds: readonly string[]): Promise<ScaleSetSnapshot[]>;
}

/** One subscription's Resource Manager (and Policy Insights) event wiring (azure/subscription-event-wiring.ts). */
export interface WiringRequest {
  subscriptionId: string;
  /** Where a new topic goes (ADE_VAULT_RESOURCE_GROUP), created in `location` when missing. */
  resourceGroup: string;
  location: string;
  /** User-assigned identity put on the topic; it writes the dead letters. */
  identityResourceId: string;
  subscriptions: PlannedEventSubscription[];
  /** Event subscriptions on the `Microsoft.PolicyInsights.PolicyStates` topic; empty or absent: that topic is left alone. */
  policySubscriptions?: PlannedEventSubscription[];
  /** Report what would be written; write nothing. */
  dryRun: boolean;
}

export type WiringAction = 'unchanged' | 'created' | 'updated' | 'would-create' | 'would-update';

export interface TopicWiringReport {
  topic: { action: 'reused' | 'created' | 'would-create'; id?: string; identity?: 'added' | 'would-add' };
  subscriptions: Array<{ name: string; action: WiringAction }>;
}

/** `topic` / `subscriptions`: the Resource Manager topic; `policy`: the Policy Insights topic, when requested. */
export interface WiringReport extends TopicWiringReport {
  subscriptionId: string;
  dryRun: boolean;
  resourceGroup?: 'exists' | 'created' | 'would-create';
  policy?: TopicWiringReport;
}

export interface SubscriptionEventWiringPort {
  ensureResourceEventWiring(request: WiringRequest): Promise<WiringReport>;
}

export interface AzurePorts {
  /** Azure Resource Graph; optional so that fakes without it fall back to ARM listing. */
  resourceGraph?: ResourceGraphPort;
  /** Virtual machine scale sets (encryptVmss); optional so that fakes without scale sets need not provide it. */
  scaleSets?: ScaleSetPort;
  compute: ComputePort;
  vaults: VaultManagementPort;
  keyVault: KeyVaultDataPort;
  directory: DirectoryPort;
  eventSubscriptions: EventSubscriptionPort;
  /** Azure Monitor diagnostic settings (ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID); optional so that fakes need not provide it. */
  diagnostics?: DiagnosticSettingsPort;
  /** Resource Manager event wiring of discovered subscriptions (ADE_EVENT_WIRING=auto); optional for fakes. */
  subscriptionEvents?: SubscriptionEventWiringPort;
}
