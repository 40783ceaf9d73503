/**
 * The encryptVm activities as plain async functions over the Azure ports (a Temporal-style
 * factory): functions/durable.ts registers each one with durable-functions, tests can call them
 * directly with fake or simulator-backed ports.
 *
 * Rules every activity follows:
 *  - idempotent: a re-run after a crash or a retry converges on the same Azure state;
 *  - never takes or returns a secret (the one activity that creates a password uses it and drops it);
 *  - non-retryable failures come back as data (`{ ok: false, error }`), retryable ones are thrown with
 *    `toActivityError` so that only they are retried by callActivityWithRetry.
 */
import type { AzurePorts, EventDestination, EventSubscriptionSpec } from '../azure/ports';
import { assessVm, describeAssessment } from '../core/eligibility';
import { readVmEncryption } from '../core/encryption-state';
import { AdeError, ConflictError, NotFoundError, toActivityError, toErrorInfo, ValidationError } from '../core/errors';
import { adeExtensionSpec, buildDualPassEncryptionSettings } from '../core/extension-settings';
import type { VmSnapshot } from '../core/vm';
import type { EncryptionPolicy } from '../core/policy';
import { keyVaultUrlOf, parseEncryptionTargetId, parseResourceId, parseVmId } from '../core/resource-ids';
import { credentialDisplayName, entraAppDisplayName, secretEventSubscriptionName, VAULT_KEY_TAG, vaultNamesFor } from '../core/names';
import { isManagedVault } from '../core/remediation/vault-drift';
import { VAULT_DIAGNOSTIC_SETTING_NAME } from '../core/vault-diagnostics';
import { vaultReadyMismatch } from './entities';
import { EVENT_ROUTES } from '../core/events/routes';
import type {
  ActivityResult,
  AutomationIdentity,
  CheckStatusInput,
  DeployExtensionInput,
  DeployWithCredentialInput,
  DeployWithCredentialResult,
  EncryptVmInput,
  EnsureKekInput,
  EnsureSecretEventSubscriptionInput,
  EnsureVaultInput,
  EntraAppInfo,
  InspectVmResult,
  RemoveCredentialInput,
  StatusCheck,
  TagVmInput,
  UpdateVmEncryptionInput,
  VaultRef,
  VmFacts,
} from './contracts';

export type ActivityLog = (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

export interface ActivityDeps extends AzurePorts {
  /** Tenant and object id of the identity the app runs as (for its own vault access policy). */
  identity: () => Promise<AutomationIdentity>;
  /**
   * Where each vault's Key Vault events go (the secretEvents function). Resolved here, not passed
   * through the orchestration, because a local webhook URL carries a function key that must not
   * land in durable history. Undefined: no subscription, the orchestration's polling alone decides.
   */
  secretEventsDestination?: EventDestination;
  /** Backup Management Service principal that created vaults give Azure Backup's access (ADE_VAULT_BACKUP_PRINCIPAL_ID). */
  backupPrincipalObjectId?: string;
  /** Network rules of the vaults the app creates (ADE_VAULT_NETWORK_*); undefined: Azure's default (Allow). */
  vaultNetwork?: { defaultAction: 'Allow' | 'Deny'; ipRules: readonly string[] };
  /**
   * Log Analytics workspace that every vault the app creates or repairs sends its audit logs to, through the diagnostic
   * setting core/vault-diagnostics.ts describes (ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID); undefined: none (Azure's default).
   */
  vaultDiagnosticsWorkspaceId?: string;
  /** Dead-letter container of every event subscription the app creates (ADE_DEAD_LETTER_CONTAINER_ID). */
  deadLetter?: { storageAccountId: string; containerName: string };
  log: ActivityLog;
  now: () => number;
  /**
   * The app's own loaded policy. inspectVm judges scope, exclusions and mode against it and hands it to the
   * run, and every writing activity re-checks dry run, vault naming and KEK settings against it, never against
   * the orchestration input, which anyone holding the Durable system key could forge.
   */
  policy: EncryptionPolicy;
}

/** Key permissions the automation needs on a dedicated vault: create and read the KEK (recover after soft delete). */
export const AUTOMATION_KEY_PERMISSIONS = ['get', 'create', 'recover'];
/**
 * How old a VM read (with instance view) inspectVm accepts when the app itself made it, typically vmWritten's re-read of
 * the same VM moments before: the same age a status poll at Azure's default fallback interval has. Only a read sent after
 * the VM write that started the run counts (inspectReadMaxAgeMs): an older one, from another run or another event, may
 * predate that write.
 */
export const INSPECT_READ_MAX_AGE_MS = 5 * 60_000;

/**
 * The age of a VM read inspectVm may reuse: none without the triggering write's time (a run started by the HTTP starter,
 * the sweep or remediation reads afresh), else at most INSPECT_READ_MAX_AGE_MS and never sent before that write.
 */
export function inspectReadMaxAgeMs(readSince: string | undefined, now: number): number {
  const since = typeof readSince === 'string' ? Date.parse(readSince) : NaN;
  if (!Number.isFinite(since)) return 0;
  return Math.max(0, Math.min(INSPECT_READ_MAX_AGE_MS, now - since));
}
/** Secret permissions of the automation: list (tags of ADE's secrets) and recover. Never `get`. */
export const AUTOMATION_SECRET_PERMISSIONS = ['list', 'recover'];
/** The dual-pass Entra app: exactly what the ADE guest uses (docs/ade-behaviour.md#extension-versions-and-modes). */
const ADE_APP_KEY_PERMISSIONS = ['wrapKey'];
const ADE_APP_SECRET_PERMISSIONS = ['set'];
/**
 * Azure Backup of encrypted VMs: the Backup Management Service reads and backs up the keys and secrets
 * (https://learn.microsoft.com/azure/backup/backup-azure-vms-encryption#provide-permissions).
 */
export const AZURE_BACKUP_KEY_PERMISSIONS = ['get', 'list', 'backup'];
export const AZURE_BACKUP_SECRET_PERMISSIONS = ['get', 'list', 'backup'];

/**
 * Runs an activity body: value → ok, non-retryable AdeError → data, anything retryable → thrown
 * (so callActivityWithRetry retries exactly those). Shared by every activity factory.
 */
export async function runActivity<T>(log: ActivityLog, name: string, body: () => Promise<T>): Promise<ActivityResult<T>> {
  try {
    return { ok: true, value: await body() };
  } catch (error) {
    const info = toErrorInfo(error);
    log(info.retryable ? 'warn' : 'error', `${name} failed: ${info.message}`, {
      activity: name,
      kind: info.kind,
      retryable: info.retryable,
      code: info.code,
    });
    if (info.retryable) {
      // The service said when to come back (Retry-After, carried in the error): the Durable retry that follows starts
      // its own back-off only after that wait, so the next attempt never comes early. Capped so a hostile or huge
      // value cannot hold an activity slot for long.
      if (info.retryAfterMs !== undefined && info.retryAfterMs > 0)
        await new Promise((resolve) => setTimeout(resolve, Math.min(info.retryAfterMs!, RETRY_AFTER_CAP_MS)));
      throw toActivityError(error);
    }
    return { ok: false, error: info };
  }
}

/**
 * The extension PUT, once per deployment sequence. A re-executed activity (the host died after ARM accepted the PUT but
 * before the activity's result was recorded) sends the same SequenceVersion again and ARM refuses it with 409 while
 * the first one runs ("an operation on the extension is in progress"): that deployment is this run's own, so it is
 * adopted instead of failing the run. Any other conflict stands.
 */
async function deployOrAdopt(
  compute: AzurePorts['compute'],
  input: DeployExtensionInput,
  spec: ReturnType<typeof adeExtensionSpec>,
  protectedSettings?: Parameters<AzurePorts['compute']['beginDeployExtension']>[3],
): Promise<{ extensionId: string }> {
  try {
    return await compute.beginDeployExtension(input.vmId, input.extension.name, spec, protectedSettings);
  } catch (error) {
    const info = toErrorInfo(error);
    if (info.kind !== 'conflict' || !/in progress/i.test(info.message)) throw error;
    const current = await compute.getExtensionInstanceView(input.vmId, input.extension.name);
    const sequence = spec.settings.SequenceVersion;
    if (!current || sequence === undefined || current.settings?.SequenceVersion !== sequence) throw error;
    return { extensionId: `${input.vmId}/extensions/${current.name}` };
  }
}

/** The longest an activity waits out a Retry-After before handing the retry to Durable. */
export const RETRY_AFTER_CAP_MS = 60_000;

function vmFacts(vm: VmSnapshot): VmFacts {
  return {
    id: vm.id,
    name: vm.name,
    subscriptionId: vm.subscriptionId,
    resourceGroup: vm.resourceGroup,
    location: vm.location,
    osType: vm.osType,
    ...(vm.computerName ? { computerName: vm.computerName } : {}),
    osDiskName: vm.osDisk.name,
    dataDiskLuns: vm.dataDisks.map((d) => d.lun),
  };
}

function trimUrl(url: string): string {
  return url.replace(/\/+$/, '');
}

/** Key Vault's answer when a vault name is held by a vault in another subscription or tenant (names are global). */
function nameTakenElsewhere(error: unknown): boolean {
  return error instanceof AdeError && error.kind === 'conflict' && (error.code ?? '').toLowerCase() === 'vaultalreadyexists';
}

export function createActivities(deps: ActivityDeps) {
  const { compute, vaults, keyVault, directory, eventSubscriptions, log } = deps;
  const policy = deps.policy;

  /** Every writing activity: under ADE_DRY_RUN (the app's setting, not the run's input) nothing is written. */
  const refuseDryRun = (what: string): void => {
    if (policy.dryRun)
      throw new ValidationError(`ADE_DRY_RUN is on in the app's configuration: refused to ${what}`, { field: 'ADE_DRY_RUN' });
  };

  /**
   * The vault (and KEK) an extension or VM model is about to reference must be one of the app's own vaults for
   * this VM: a computed name, in the configured vault group of the VM's subscription, URL and KEK inside it.
   */
  const refuseForeignVault = (vmId: string, location: string, vault: { url: string; resourceId: string }, kekUrl?: string): void => {
    const vm = parseVmId(vmId, 'vmId');
    const names = vaultNamesFor(policy.vault, { id: vmId, subscriptionId: vm.subscriptionId, location });
    let name = '';
    try {
      name = parseResourceId(vault.resourceId, 'vault.resourceId').names[0] ?? '';
    } catch {
      // reported below as a mismatch
    }
    const why = vaultReadyMismatch(
      { vault: { id: vault.resourceId, name, url: vault.url }, ...(kekUrl !== undefined ? { kekUrl } : {}) },
      { subscriptionId: vm.subscriptionId, resourceGroup: policy.vault.resourceGroup, names },
    );
    if (why !== undefined)
      throw new ValidationError(`Refused to point VM ${vm.name} at a vault that is not the app's own: ${why}`, { field: 'vault' });
  };

  /**
   * ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID: the vault's audit logs go to the workspace through the app's own diagnostic setting,
   * converged on every vault step (created, recovered or already there). Callers have refused dry run already.
   */
  const ensureVaultDiagnostics = async (vaultId: string, vaultName: string): Promise<void> => {
    const workspaceId = deps.vaultDiagnosticsWorkspaceId;
    if (!workspaceId) return;
    if (!deps.diagnostics)
      throw new ValidationError('ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID is set but this host has no diagnostic settings client', {
        field: 'ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID',
      });
    const result = await deps.diagnostics.ensureVaultAuditLogs(vaultId, VAULT_DIAGNOSTIC_SETTING_NAME, workspaceId);
    log('info', `Key Vault ${vaultName}: diagnostic setting ${result.setting.name} ${result.action}`, {
      vaultId,
      action: result.action,
      workspaceId,
    });
  };

  const refuseForeignExtensionTarget = (input: DeployExtensionInput): void => {
    const settings = input.extension.settings;
    refuseForeignVault(
      input.vmId,
      input.location,
      { url: settings.KeyVaultURL, resourceId: settings.KeyVaultResourceId },
      settings.KeyEncryptionKeyURL,
    );
    if (
      settings.KekVaultResourceId !== undefined &&
      settings.KekVaultResourceId.toLowerCase() !== settings.KeyVaultResourceId.toLowerCase()
    )
      throw new ValidationError('Refused a KEK held in another vault than the disk encryption secret', { field: 'extension' });
    if (settings.VolumeType !== policy.volumeType)
      throw new ValidationError(`Refused volume type ${settings.VolumeType}: the app is configured for ${policy.volumeType}`, {
        field: 'extension',
      });
  };

  return {
    /** Step 1: re-read the VM (with instance view) and decide. Permission: virtualMachines/read. */
    inspectVm: (input: Pick<EncryptVmInput, 'vmId' | 'policy' | 'readSince'>): Promise<ActivityResult<InspectVmResult>> =>
      runActivity(log, 'inspectVm', async () => {
        // The event's re-read (vmWritten) is this read when it is recent and sent after the write that started the run:
        // one ARM read per VM for both, never a decision on state from before that write.
        const vm = await compute.getVm(input.vmId, { instanceView: true, maxAgeMs: inspectReadMaxAgeMs(input.readSince, Date.now()) });
        const assessment = assessVm(vm, policy);
        return { vm: vmFacts(vm), assessment, summary: describeAssessment(assessment), policy };
      }),

    resolveAutomationIdentity: (): Promise<ActivityResult<AutomationIdentity>> =>
      runActivity(log, 'resolveAutomationIdentity', () => deps.identity()),

    /** aad mode: the vault's Entra app and service principal (Graph Application.ReadWrite.OwnedBy). */
    ensureEntraApp: (input: { vaultName: string }): Promise<ActivityResult<EntraAppInfo>> =>
      runActivity(log, 'ensureEntraApp', async () => {
        refuseDryRun(`create the Entra app for vault ${input.vaultName}`);
        const app = await directory.ensureApplication(entraAppDisplayName(input.vaultName), {
          notes:
            `ade-autopilot: dual-pass Azure Disk Encryption for vault ${input.vaultName}. Granted keys/wrapKey and secrets/set on ` +
            `that vault only.`,
        });
        const sp = await directory.ensureServicePrincipal(app.appId);
        log('info', `Entra app for vault ${input.vaultName} ${app.created ? 'created' : 'found'}`, { appId: app.appId });
        return { appObjectId: app.objectId, appId: app.appId, servicePrincipalObjectId: sp.objectId };
      }),

    /**
     * Step 2: the dedicated vault, with the automation's own access policy and, in aad mode, the
     * Entra app's (one ensureVault call, so one ARM write when the vault is new).
     */
    ensureDiskEncryptionVault: (input: EnsureVaultInput): Promise<ActivityResult<VaultRef & { action: string }>> =>
      runActivity(log, 'ensureDiskEncryptionVault', async () => {
        refuseDryRun(`create or repair Key Vault ${input.name}`);
        // A VM, or a scale set (encryptVmss shares the vault flow).
        const vm = parseEncryptionTargetId(input.vmId, 'vmId');
        // The names, group and settings come from the app's configuration; the input only says which VM.
        const names = vaultNamesFor(policy.vault, { id: input.vmId, subscriptionId: vm.subscriptionId, location: input.location });
        if (
          vm.subscriptionId.toLowerCase() !== input.subscriptionId.toLowerCase() ||
          input.name.toLowerCase() !== names[0] ||
          input.resourceGroup.toLowerCase() !== policy.vault.resourceGroup.toLowerCase()
        )
          throw new ValidationError(
            `Vault ${input.resourceGroup}/${input.name} is not the app's vault for VM ${vm.name} (expected ${policy.vault.resourceGroup}/` +
              `${names[0]} in subscription ${vm.subscriptionId})`,
            { field: 'name' },
          );
        const accessPolicies = [
          {
            tenantId: input.automation.tenantId,
            objectId: input.automation.objectId,
            permissions: { keys: AUTOMATION_KEY_PERMISSIONS, secrets: AUTOMATION_SECRET_PERMISSIONS },
          },
        ];
        if (deps.backupPrincipalObjectId) {
          accessPolicies.push({
            tenantId: input.automation.tenantId,
            objectId: deps.backupPrincipalObjectId,
            permissions: { keys: AZURE_BACKUP_KEY_PERMISSIONS, secrets: AZURE_BACKUP_SECRET_PERMISSIONS },
          });
        }
        if (input.servicePrincipalObjectId) {
          accessPolicies.push({
            tenantId: input.automation.tenantId,
            objectId: input.servicePrincipalObjectId,
            permissions: { keys: ADE_APP_KEY_PERMISSIONS, secrets: ADE_APP_SECRET_PERMISSIONS },
          });
        }
        // Key Vault names are global: a name held by a vault elsewhere (another subscription or tenant) is
        // answered 409 VaultAlreadyExists, and the next deterministic name is tried. Every vault records its
        // first-choice name in a tag, so a fallback vault is recognisable as this one's.
        const taken: string[] = [];
        for (const name of names) {
          try {
            const result = await vaults.ensureVault({
              subscriptionId: vm.subscriptionId,
              resourceGroup: policy.vault.resourceGroup,
              name,
              location: input.location,
              tenantId: input.automation.tenantId,
              softDeleteRetentionInDays: policy.vault.softDeleteRetentionDays,
              enablePurgeProtection: policy.vault.purgeProtection,
              tags: { 'ade-autopilot/purpose': 'azure-disk-encryption', [VAULT_KEY_TAG]: names[0]! },
              accessPolicies,
              ...(deps.vaultNetwork ? { networkRules: deps.vaultNetwork } : {}),
            });
            log('info', `Key Vault ${result.vault.name}: ${result.action}`, {
              vaultId: result.vault.id,
              action: result.action,
              ...(taken.length > 0 ? { namesTakenElsewhere: taken } : {}),
            });
            await ensureVaultDiagnostics(result.vault.id, result.vault.name);
            return {
              id: result.vault.id,
              name: result.vault.name,
              url: trimUrl(result.vault.vaultUri || keyVaultUrlOf(result.vault.name)),
              action: result.action,
            };
          } catch (error) {
            if (!nameTakenElsewhere(error)) throw error;
            taken.push(name);
            log('warn', `Key Vault name ${name} is held by a vault outside ${policy.vault.resourceGroup}; trying the next name`, {
              vaultName: name,
            });
          }
        }
        throw new ConflictError(
          `Every vault name for VM ${vm.name}'s region is held by a vault elsewhere (${taken.join(', ')}): set ADE_VAULT_NAME_SALT to a ` +
            `new value (infra/main.json's vaultNameSalt parameter)`,
          { code: 'VaultNamesTaken' },
        );
      }),

    /** The KEK (keys get/create). Returns the versioned key URL ADE needs. */
    ensureKek: (input: EnsureKekInput): Promise<ActivityResult<{ kekUrl: string; created: boolean }>> =>
      runActivity(log, 'ensureKek', async () => {
        refuseDryRun(`create the KEK in ${input.vaultUrl}`);
        const vaultName = parseResourceId(input.vaultId, 'vaultId').names[0] ?? '';
        if (
          !isManagedVault(input.vaultId, policy) ||
          new URL(input.vaultUrl).hostname.split('.')[0]?.toLowerCase() !== vaultName.toLowerCase()
        )
          throw new ValidationError(`Refused to create a KEK in ${input.vaultUrl}: not a vault the app manages`, { field: 'vaultId' });
        const key = await keyVault.ensureKek(input.vaultUrl, input.keyName, { keySize: policy.kek.size });
        return { kekUrl: key.versionedId, created: key.created };
      }),

    /** The vault's system topic and its SecretNewVersionCreated subscription to secretEvents. */
    ensureSecretEventSubscription: (
      input: EnsureSecretEventSubscriptionInput,
    ): Promise<ActivityResult<{ subscribed: boolean; action: string }>> =>
      runActivity(log, 'ensureSecretEventSubscription', async () => {
        refuseDryRun(`subscribe to vault ${input.vault.name}'s events`);
        if (!isManagedVault(input.vault.id, policy))
          throw new ValidationError(`Refused to subscribe to ${input.vault.id}: not a vault the app manages`, { field: 'vault' });
        const destination = deps.secretEventsDestination;
        // Without a destination every run on this vault would fall back to slow status polling, silently.
        if (!destination)
          throw new ValidationError(
            `No secretEvents destination is configured, so vault ${input.vault.name} cannot get its Key Vault event subscription: set ` +
              `ADE_FUNCTION_APP_RESOURCE_ID (infra/main.json does), or ADE_SECRET_EVENTS_WEBHOOK_URL locally`,
            { field: 'ADE_FUNCTION_APP_RESOURCE_ID' },
          );
        const topic = await eventSubscriptions.ensureVaultSystemTopic({
          id: input.vault.id,
          name: input.vault.name,
          location: input.vault.location,
          subscriptionId: input.vault.subscriptionId,
          resourceGroup: input.vault.resourceGroup,
        });
        const spec: EventSubscriptionSpec = {
          name: secretEventSubscriptionName(input.vault.name),
          destination: { ...destination, maxEventsPerBatch: 1 },
          includedEventTypes: [...EVENT_ROUTES.secretEvents.eventTypes],
          ...(deps.deadLetter ? { deadLetter: deps.deadLetter } : {}),
        };
        const sub = await eventSubscriptions.ensureEventSubscription(topic, spec);
        // Wired only when Event Grid reports the subscription in place (read back, or created/updated OK).
        const subscribed = sub.provisioningState === undefined || sub.provisioningState.toLowerCase() === 'succeeded';
        if (!subscribed)
          log(
            'warn',
            `Event subscription ${sub.name} on vault ${input.vault.name} is ${sub.provisioningState}; the vault is not recorded as wired`,
          );
        return { subscribed, action: sub.action };
      }),

    /** Step 4, single-pass: one extension PUT (virtualMachines/extensions/write). */
    deploySinglePassExtension: (input: DeployExtensionInput): Promise<ActivityResult<{ extensionId: string }>> =>
      runActivity(log, 'deploySinglePassExtension', async () => {
        refuseDryRun(`deploy the ADE extension on ${input.vmId}`);
        refuseForeignExtensionTarget(input);
        const started = await deployOrAdopt(compute, input, adeExtensionSpec(input.extension, input.location));
        return { extensionId: started.extensionId };
      }),

    /**
     * Step 4, aad: creates a short-lived password for the vault's app, deploys the extension with
     * it as the protected `AADClientSecret`, and forgets it. Only the credential's key id leaves
     * this function. If the PUT fails, the credential is removed here (it was never used).
     */
    deployExtensionWithShortLivedCredential: (input: DeployWithCredentialInput): Promise<ActivityResult<DeployWithCredentialResult>> =>
      runActivity(log, 'deployExtensionWithShortLivedCredential', async () => {
        refuseDryRun(`deploy the ADE extension on ${input.vmId}`);
        refuseForeignExtensionTarget(input);
        // The application (possibly from cached entity state) must be one the app owns, with the client id the extension names.
        const clientId = input.extension.settings.AADClientID ?? '';
        if (!(await directory.ownsApplication(input.appObjectId, clientId))) {
          // Deleted (stale cached state: the run provisions again) is not the same as someone else's (refused).
          if (!(await directory.applicationExists(input.appObjectId)))
            throw new NotFoundError(`Application ${input.appObjectId} no longer exists (deleted since the vault state was cached)`);
          throw new ValidationError(
            `Refused to use application ${input.appObjectId} (client id ${clientId || 'none'}): not an application the app owns with ` +
              `that client id`,
            { field: 'appObjectId', code: 'ApplicationNotOwned' },
          );
        }
        const credential = await directory.addPassword(input.appObjectId, {
          lifetimeMs: input.credentialLifetimeMs,
          displayName: credentialDisplayName(input.runId),
        });
        try {
          const started = await deployOrAdopt(compute, input, adeExtensionSpec(input.extension, input.location), {
            AADClientSecret: credential.secret,
          });
          return { extensionId: started.extensionId, keyId: credential.keyId, endDateTime: credential.endDateTime };
        } catch (error) {
          await directory.removePassword(input.appObjectId, credential.keyId).catch((cleanup: unknown) => {
            log('warn', `Could not remove the unused credential ${credential.keyId}; it expires at ${credential.endDateTime}`, {
              error: toErrorInfo(cleanup).message,
            });
          });
          throw error;
        }
      }),

    /** Step 5/7: one VM read with instance view, interpreted by core/encryption-state. */
    checkEncryptionStatus: (input: CheckStatusInput): Promise<ActivityResult<StatusCheck>> =>
      runActivity(log, 'checkEncryptionStatus', async () => {
        const vm = await compute.getVm(input.vmId, { instanceView: true });
        return statusOf(vm, input);
      }),

    /** Step 6, aad: one targeted PATCH of the OS disk encryption settings, tags folded in. */
    updateVmEncryptionSettings: (input: UpdateVmEncryptionInput): Promise<ActivityResult<{ updated: true }>> =>
      runActivity(log, 'updateVmEncryptionSettings', async () => {
        refuseDryRun(`update the encryption settings of ${input.vmId}`);
        refuseForeignVault(input.vmId, input.location, input.vault, input.kek?.url);
        if (input.kek && input.kek.vaultResourceId.toLowerCase() !== input.vault.resourceId.toLowerCase())
          throw new ValidationError('Refused a KEK held in another vault than the disk encryption secret', { field: 'kek' });
        const settings = buildDualPassEncryptionSettings({
          secretUrl: input.secretUrl,
          vault: input.vault,
          ...(input.kek ? { kek: input.kek } : {}),
        });
        // Accepted is enough: verification reads the VM next, and its provisioningState shows a failed update.
        await compute.updateOsDiskEncryptionSettings(input.vmId, settings, {
          acceptedOnly: true,
          ...(input.tags ? { mergeTags: input.tags } : {}),
        });
        return { updated: true as const };
      }),

    /** Compensation and clean-up: the short-lived password goes as soon as it is not needed. */
    removeCredential: (input: RemoveCredentialInput): Promise<ActivityResult<{ removed: true }>> =>
      runActivity(log, 'removeCredential', async () => {
        await directory.removePassword(input.appObjectId, input.keyId);
        return { removed: true as const };
      }),

    tagVm: (input: TagVmInput): Promise<ActivityResult<{ tagged: true }>> =>
      runActivity(log, 'tagVm', async () => {
        refuseDryRun(`tag ${input.vmId}`);
        await compute.setTags(input.vmId, input.tags);
        return { tagged: true as const };
      }),
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** Compact, secret-free status of the VM's ADE run. */
export function statusOf(vm: VmSnapshot, input: Pick<CheckStatusInput, 'volumeType'>): StatusCheck {
  const { state, extension, provisioned } = readVmEncryption(vm, input.volumeType);
  const check: StatusCheck = {
    kind: state.kind,
    provisioned,
    disks: state.detail.disks.map((d) => ({ name: d.name, role: d.role, encryption: d.encryption, secretUrls: d.secretUrls })),
  };
  if (extension) check.extensionName = extension.name;
  if (vm.provisioningState) check.vmProvisioningState = vm.provisioningState;
  if (state.detail.secretUrl) check.secretUrl = state.detail.secretUrl;
  if (state.detail.message) check.message = state.detail.message;
  if (state.kind === 'in-progress') check.phase = state.phase;
  if (state.kind === 'failed') check.reason = `${state.reason}: ${state.message}`;
  if (state.kind === 'bek-missing') check.reason = `bek-missing: ${state.message}`;
  if (state.kind === 'partially-encrypted') check.reason = `not encrypted: ${state.missing.join(', ')}`;
  if (state.kind === 'unknown') check.reason = state.why;
  return check;
}
