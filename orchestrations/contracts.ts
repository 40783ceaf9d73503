/**
 * Names and plain-JSON shapes shared by the orchestrator, its activities, its entities and the
 * functions that start or signal it. Nothing here does I/O, and nothing here may ever hold a
 * secret: every value in these types ends up in durable history.
 */
import type { Assessment } from '../core/eligibility';
import type { ErrorInfo } from '../core/errors';
import type { AdeExtension } from '../core/extension-settings';
import type { EncryptionMode, EncryptionPolicy } from '../core/policy';
import type { HealAction } from '../core/remediation/settings';
import type { MaintenanceWindow } from '../core/remediation/maintenance-window';
import type { RemediationAction } from '../core/remediation/decision';
import type { SweepProgress } from '../core/remediation/sweep';
import type { OsType } from '../core/vm';

export const ENCRYPT_VM_ORCHESTRATOR = 'encryptVm';
export const RESTORE_BEK_ORCHESTRATOR = 'restoreBek';
export const REMEDIATE_VM_ORCHESTRATOR = 'remediateVm';
export const SWEEP_ORCHESTRATOR = 'sweep';
/** ADE_ENCRYPTION_MODE=encryption-at-host: enables encryption at host on one VM (orchestrations/encrypt-at-host.ts). */
export const ENCRYPT_AT_HOST_ORCHESTRATOR = 'encryptAtHost';

/**
 * The orchestration that encrypts a VM the assessment says to encrypt, by the assessment's mode: encryption at host has
 * its own orchestration, ADE (aad, single-pass) is encryptVm. Both run under the VM's one instance id, so a VM never
 * has two encryption runs at once.
 */
export function encryptionOrchestratorFor(mode: EncryptionMode): typeof ENCRYPT_VM_ORCHESTRATOR | typeof ENCRYPT_AT_HOST_ORCHESTRATOR {
  return mode === 'encryption-at-host' ? ENCRYPT_AT_HOST_ORCHESTRATOR : ENCRYPT_VM_ORCHESTRATOR;
}

/** Activities of encryptAtHost (orchestrations/encrypt-at-host-activities.ts). */
export const EAH_ACTIVITY = {
  inspect: 'encryptAtHostInspect',
  enable: 'encryptAtHostEnable',
  read: 'encryptAtHostRead',
} as const;

export const ACTIVITY = {
  inspectVm: 'inspectVm',
  resolveAutomationIdentity: 'resolveAutomationIdentity',
  ensureEntraApp: 'ensureEntraApp',
  ensureDiskEncryptionVault: 'ensureDiskEncryptionVault',
  ensureKek: 'ensureKek',
  ensureSecretEventSubscription: 'ensureSecretEventSubscription',
  deploySinglePassExtension: 'deploySinglePassExtension',
  deployExtensionWithShortLivedCredential: 'deployExtensionWithShortLivedCredential',
  checkEncryptionStatus: 'checkEncryptionStatus',
  updateVmEncryptionSettings: 'updateVmEncryptionSettings',
  removeCredential: 'removeCredential',
  tagVm: 'tagVm',
} as const;

/** Activity names of the remediation orchestrations (restoreBek, remediateVm, sweep). */
export const REMEDIATION_ACTIVITY = {
  inspect: 'remediationInspectVm',
  checkSecrets: 'remediationCheckBekSecrets',
  checkVault: 'remediationCheckVault',
  repairVault: 'remediationRepairVault',
  recoverSecret: 'remediationRecoverSecret',
  recoverKek: 'remediationRecoverKek',
  deallocate: 'remediationDeallocateVm',
  start: 'remediationStartVm',
  redeployExtension: 'remediationRedeployExtension',
  applyModelSettings: 'remediationApplyModelSettings',
  bekHealth: 'remediationBekHealth',
  listSweepPage: 'remediationListSweepPage',
  listBekPage: 'remediationListBekPage',
  startOrchestrations: 'remediationStartOrchestrations',
  orchestrationStatuses: 'remediationOrchestrationStatuses',
  publishOutcome: 'remediationPublishOutcome',
} as const;

/** Activities that start or watch other orchestrations, so they are registered with a Durable client input. */
export const CLIENT_ACTIVITIES: readonly string[] = [
  REMEDIATION_ACTIVITY.startOrchestrations,
  REMEDIATION_ACTIVITY.orchestrationStatuses,
  'scaleSetSweep',
];

export const ENTITY = {
  /** Keyed by vault name: the vault's ready state and its provisioning lease (see entities.ts). */
  vault: 'vault',
  /** Keyed by vault name: orchestrations waiting for a secret in that vault. */
  vaultWaiters: 'vaultWaiters',
} as const;

/** External event raised by `secretEvents`; a wake-up hint, never trusted as state. */
export const SECRET_STORED_EVENT = 'SecretStored';

/** Tags written when the policy records outcomes on the VM. */
export const OUTCOME_TAG = { state: 'ade-autopilot/state', updated: 'ade-autopilot/updated' } as const;

export interface EncryptVmInput {
  vmId: string;
  policy: EncryptionPolicy;
  /**
   * Publish `AdeAutopilot.VmEncrypted` / `.EncryptionFailed` when the run ends. Starters set it when
   * an outcome topic is configured (ADE_OUTCOME_TOPIC_ENDPOINT); the publishing activity knows where.
   * Absent = false: no publish call at all.
   */
  publishOutcome?: boolean;
  /**
   * ISO time of the VM write whose event started the run (Event Grid `eventTime`): inspectVm reuses the app's own read of
   * the VM only when it was sent after it. Absent (HTTP starter, sweep): inspectVm reads afresh.
   */
  readSince?: string;
}

export type EncryptVmOutcome = 'encrypted' | 'skipped' | 'already-encrypted' | 'action-required' | 'failed';

export interface EncryptVmOutput {
  vmId: string;
  outcome: EncryptVmOutcome;
  reason?: string;
  /** With `action-required`: what the operator does next (also in the ActionRequired outcome event). */
  operatorAction?: string;
  mode?: 'aad' | 'single-pass';
  /** The VM's OS, once inspected (the status API filters on it). */
  osType?: OsType;
  vaultName?: string;
  /** How the wait ended: the Key Vault event, or the fallback status poll. */
  completedBy?: 'event' | 'polling';
  /** Secret URL the disks reference (a URL, never a value). */
  secretUrl?: string;
  disks?: Array<{ name: string; role: 'os' | 'data'; encryption: string }>;
  /** The outcome event this run sent (publishOutcome set, run encrypted, failed or action-required); false = publishing failed. */
  outcomeEvent?: { eventType: string; published: boolean };
  /** What went wrong without changing the outcome, e.g. a short-lived credential the run could not remove (the janitor will). */
  warnings?: string[];
}

export type Phase =
  | 'inspecting'
  | 'preparing-vault'
  | 'deploying-extension'
  | 'waiting-for-secret'
  | 'updating-vm-model'
  | 'verifying'
  | 'tagging'
  | 'done'
  | 'failed';

export interface EncryptVmStatus {
  orchestration: typeof ENCRYPT_VM_ORCHESTRATOR;
  phase: Phase;
  vmId: string;
  /** The VM's OS, once inspected. */
  osType?: OsType;
  vaultName?: string;
  mode?: 'aad' | 'single-pass';
  detail?: string;
  polls?: number;
  secretSeen?: boolean;
}

export interface RestoreBekStatus {
  orchestration: typeof RESTORE_BEK_ORCHESTRATOR;
  phase: 'inspecting' | 'checking-secrets' | 'recovering' | 'waiting-for-window' | 're-provisioning' | 'verifying' | 'done';
  vmId: string;
  detail?: string;
  windowOpensAt?: string;
}

export type RemediationTarget = { kind: 'vm'; vmId: string } | { kind: 'vault'; vaultId: string };

export interface RemediateVmStatus {
  orchestration: typeof REMEDIATE_VM_ORCHESTRATOR;
  phase: 'assessing' | RemediationAction | 'done';
  target: RemediationTarget;
  detail?: string;
}

export interface SweepStatus extends SweepProgress {
  orchestration: typeof SWEEP_ORCHESTRATOR;
  kind: 'backfill' | 'bek-health';
  dryRun: boolean;
  queued: number;
}

/** The custom status every orchestration of the app sets: one union, told apart by `orchestration`. */
export type OrchestrationStatus = EncryptVmStatus | RestoreBekStatus | RemediateVmStatus | SweepStatus | EncryptAtHostStatus;

/** What the orchestration needs to know about the VM (no secrets, small). */
export interface VmFacts {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  osType: OsType;
  /** ARM's `osProfile.computerName` (the guest hostname, ADE's `MachineName` tag); absent without an OS profile. */
  computerName?: string;
  osDiskName: string;
  /** LUNs of the model's data disks when inspected (the dual-pass run records them: DUAL_PASS_DATA_LUNS_TAG). */
  dataDiskLuns?: number[];
}

export interface InspectVmResult {
  vm: VmFacts;
  assessment: Assessment;
  /** One human-readable line. */
  summary: string;
  /**
   * The app's own loaded policy, which the run follows from here on (dry run, vault naming, KEK,
   * timeouts) instead of the policy in its input: anyone holding the Durable system key can forge that.
   */
  policy?: EncryptionPolicy;
}

export interface AutomationIdentity {
  tenantId: string;
  objectId: string;
}

export interface EntraAppInfo {
  appObjectId: string;
  appId: string;
  servicePrincipalObjectId: string;
}

export interface VaultRef {
  id: string;
  name: string;
  /** Base URL without a trailing slash, e.g. https://name.vault.azure.net */
  url: string;
}

/** State of the `vault` entity once the vault is ready for ADE. */
export interface VaultReady {
  vault: VaultRef;
  /** Versioned KEK URL when a KEK is used. */
  kekUrl?: string;
  /** aad mode: the vault's Entra app. */
  app?: EntraAppInfo;
  /** The Event Grid subscription for secret events exists (created or read back); false → the next run tries again. */
  secretEvents?: boolean;
}

export interface Waiter {
  instanceId: string;
  vmId: string;
  /** The hostname a secret's `MachineName` tag is matched against. */
  computerName: string;
  /**
   * Where `computerName` came from: ARM's `osProfile.computerName` (matched exactly), or derived from
   * the VM name because ARM did not know it (matched on the first 15 characters, Windows' NetBIOS
   * cut). Absent (waiters registered before this field existed) = `vm-name`.
   */
  hostnameSource?: 'os-profile' | 'vm-name';
  /** The VM's OS: only Linux guests write ADE secrets without a `MachineName` tag. Absent = unknown. */
  osType?: 'Windows' | 'Linux';
}

export interface WaitersState {
  waiters: Waiter[];
}

export interface SecretStoredEvent {
  secretUrl: string;
  vaultName: string;
}

export interface EnsureVaultInput {
  /** The VM the vault is for: its names are computed from it and the app's own vault settings. */
  vmId: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  softDeleteRetentionDays: number;
  purgeProtection: boolean;
  automation: AutomationIdentity;
  /** aad mode: the Entra app's service principal, granted keys/wrapKey and secrets/set only. */
  servicePrincipalObjectId?: string;
  appId?: string;
}

export interface EnsureKekInput {
  /** The vault's ARM id (checked to be a managed vault) and its URL. */
  vaultId: string;
  vaultUrl: string;
  keyName: string;
  keySize: 2048 | 3072 | 4096;
}

export interface EnsureSecretEventSubscriptionInput {
  vault: VaultRef & { subscriptionId: string; resourceGroup: string; location: string };
}

export interface DeployExtensionInput {
  vmId: string;
  location: string;
  extension: AdeExtension;
}

export interface DeployWithCredentialInput extends DeployExtensionInput {
  appObjectId: string;
  /** Lifetime of the password credential; keep it short. */
  credentialLifetimeMs: number;
  /** The orchestration instance that holds the credential: named in its display name, so the janitor can tell a live one. */
  runId?: string;
}

export interface DeployWithCredentialResult {
  extensionId: string;
  /** Credential key id (not the secret) so the orchestrator can remove it later. */
  keyId: string;
  endDateTime: string;
}

export interface CheckStatusInput {
  vmId: string;
  /** What this run asked ADE to encrypt (the deployed extension's own setting wins when it has one). */
  volumeType: EncryptionPolicy['volumeType'];
}

export interface StatusCheck {
  kind: 'not-started' | 'in-progress' | 'encrypted' | 'partially-encrypted' | 'failed' | 'bek-missing' | 'unknown';
  /** Extension provisioning succeeded (the ARM operation finished). */
  provisioned: boolean;
  phase?: string;
  /** Dual-pass: the versioned secret URL the extension reported. */
  secretUrl?: string;
  reason?: string;
  message?: string;
  extensionName?: string;
  /** The VM's own provisioningState (`Updating` while a model change runs, `Failed` when one failed). */
  vmProvisioningState?: string;
  disks: Array<{ name: string; role: 'os' | 'data'; encryption: string; secretUrls: string[] }>;
}

export interface UpdateVmEncryptionInput {
  vmId: string;
  /** The VM's region (the vault's names are computed from it). */
  location: string;
  secretUrl: string;
  vault: { url: string; resourceId: string };
  kek?: { url: string; vaultResourceId: string };
  tags?: Record<string, string>;
}

export interface RemoveCredentialInput {
  appObjectId: string;
  keyId: string;
}

export interface TagVmInput {
  vmId: string;
  tags: Record<string, string>;
}

/**
 * What every activity returns: its value, or a non-retryable failure as data. Retryable failures
 * are thrown instead (with `toActivityError`), so that callActivityWithRetry retries exactly those.
 */
export type ActivityResult<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo };

// ---------------------------------------------------------------------------------------------
// encryptAtHost

export interface EncryptAtHostInput extends EncryptVmInput {
  /**
   * How to get the deallocation encryption at host needs (ADE_HEAL_ACTION / ADE_MAINTENANCE_WINDOW); the inspecting
   * activity answers with the app's own settings, which win. Absent: notify-only.
   */
  heal?: { action: HealAction; window?: MaintenanceWindow };
}

export interface EncryptAtHostInspection {
  vm: VmFacts & { vmSize: string; powerState: string };
  assessment: Assessment;
  summary: string;
  /** Read only when the assessment says encrypt: the subscription's feature and the size's capability. */
  readiness?: { featureState: string; sizeSupported: boolean | undefined };
  /** The heal settings to follow: the app's configuration when the activity knows it, else the input's. */
  heal: { action: HealAction; window?: MaintenanceWindow };
}

export interface EncryptionAtHostState {
  encryptionAtHost: boolean;
  powerState: string;
}

export type EncryptAtHostOutcome = 'encrypted' | 'skipped' | 'already-encrypted' | 'action-required' | 'failed';

export interface EncryptAtHostOutput {
  vmId: string;
  outcome: EncryptAtHostOutcome;
  reason: string;
  /** What the run did, in order (deallocated, enabled, started, verified). */
  steps: string[];
  /** The VM's power state when the run ended, when the run changed it or read it last. */
  powerState?: string;
  /** ADE_DRY_RUN: what a real run would do. */
  wouldDo?: string;
  outcomeEvent?: { eventType: string; published: boolean };
}

export interface EncryptAtHostStatus {
  orchestration: typeof ENCRYPT_AT_HOST_ORCHESTRATOR;
  phase: 'inspecting' | 'waiting-for-window' | 'deallocating' | 'enabling' | 'starting' | 'verifying' | 'done' | 'failed';
  vmId: string;
  detail?: string;
  windowOpensAt?: string;
}
