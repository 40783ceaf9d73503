/**
 * Activities of the remediation orchestrations (restoreBek, remediateVm, sweep), as plain async
 * functions over the Azure ports: `createRemediationActivities(deps)`, same style and rules as
 * ./activities.ts — idempotent, non-retryable failures as data, retryable ones thrown, and never a
 * secret in an input or output. The automation reads secret *metadata* with list permission only;
 * it never reads a secret's value.
 */
import type {
  ComputePort,
  DiagnosticSettingsPort,
  DiskEncryptionInfo,
  GraphCursor,
  KeyVaultDataPort,
  ResourceGraphPort,
  VaultInfo,
  VaultManagementPort,
} from '../azure/ports';
import { assessVm, type Assessment } from '../core/eligibility';
import { readVmEncryption, type EncryptionState } from '../core/encryption-state';
import { NotFoundError, toErrorInfo, UnsupportedError, ValidationError } from '../core/errors';
import {
  adeModeOfVersion,
  adeExtensionSpec,
  buildAdeExtension,
  buildDualPassEncryptionSettings,
  type AdeVolumeType,
} from '../core/extension-settings';
import { parseEncryptionPolicy, type EncryptionPolicy } from '../core/policy';
import { bekHealthOf, expectedBekSecrets, isBekSweepCandidate, type BekHealth, type BekSecretRef } from '../core/remediation/bek';
import type { OutcomeEvent } from '../core/remediation/outcomes';
import type { KeyCheck, SecretFinding, VaultFinding } from '../core/remediation/restore';
import { sweepRowOf, type SweepRow } from '../core/remediation/sweep';
import { vaultDrift, type AccessPolicyLike, type VaultDriftIssue } from '../core/remediation/vault-drift';
import { normaliseResourceId, parseKeyVaultObjectId, parseResourceId } from '../core/resource-ids';
import { VAULT_DIAGNOSTIC_SETTING_NAME, vaultAuditSettingMismatch } from '../core/vault-diagnostics';
import { findAdeExtension, type PowerState, type VmSnapshot } from '../core/vm';
import { AUTOMATION_KEY_PERMISSIONS, AUTOMATION_SECRET_PERMISSIONS, runActivity, type ActivityLog } from './activities';
import { REMEDIATION_ACTIVITY, type ActivityResult, type AutomationIdentity } from './contracts';

// ---------------------------------------------------------------------------------------------
// Shapes (all plain JSON, all secret-free)

export interface RemediationView {
  vmId: string;
  name: string;
  osType: VmSnapshot['osType'];
  location: string;
  powerState: PowerState;
  assessment: Assessment;
  state: { kind: EncryptionState['kind']; message?: string };
  hasAdeExtension: boolean;
  adeMode?: 'single-pass' | 'dual-pass';
  /** The BEK secrets the VM references (URLs and names only). */
  secrets: BekSecretRef[];
  /** The app's own loaded policy, which the run follows from here on (never the policy in its input). */
  policy?: EncryptionPolicy;
}

export interface SecretChecks {
  findings: SecretFinding[];
  vaults: VaultFinding[];
}

export interface VaultCheck {
  vaultId: string;
  vaultName: string;
  exists: boolean;
  issues: VaultDriftIssue[];
}

export interface ApplyModelSettingsInput {
  vmId: string;
}

export interface RedeployInput {
  vmId: string;
  volumeType: AdeVolumeType;
  /** New per run (docs/ade-behaviour.md#re-running-the-extension), from the orchestrator's newGuid. */
  sequenceVersion: string;
}

export interface OrchestrationStart {
  orchestrator: string;
  instanceId: string;
  input: unknown;
}

export interface OrchestrationStartResult {
  instanceId: string;
  started: boolean;
  runtimeStatus?: string;
}

export interface OrchestrationStatusView {
  instanceId: string;
  /** Durable runtime status; `Unknown` when the instance does not exist. */
  runtimeStatus: string;
  /** The orchestration's output when it finished (an orchestration output never holds secrets). */
  output?: unknown;
}

/** Starts and watches other orchestrations (over the Durable client, functions/lib/start.ts). */
export interface OrchestrationControl {
  /** Starts unless an instance with that id is Pending/Running (a singleton start). */
  startIfIdle(start: OrchestrationStart): Promise<OrchestrationStartResult>;
  status(instanceId: string): Promise<OrchestrationStatusView>;
}

/** Publishes outcome events to the custom topic (azure/remediation-outcomes.ts). */
export interface OutcomePublisher {
  publish(events: OutcomeEvent[]): Promise<void>;
}

export interface RemediationActivityDeps {
  compute: ComputePort;
  /** Azure Resource Graph: the backfill sweep lists the fleet through it (no ARM reads); without it, ARM listing per subscription. */
  resourceGraph?: ResourceGraphPort;
  vaults: VaultManagementPort;
  keyVault: KeyVaultDataPort;
  /** The app's own identity: its access-policy entry on managed vaults is part of the expected state. */
  identity: () => Promise<AutomationIdentity>;
  orchestrations?: OrchestrationControl;
  /** Undefined: no outcome topic configured, publishing is a no-op. */
  publisher?: OutcomePublisher;
  log: ActivityLog;
  /** The app's own loaded policy: when set, `inspect` judges eligibility against it, never against the orchestration input. */
  policy?: EncryptionPolicy;
  /** ADE_VAULT_BACKUP_PRINCIPAL_ID: Azure Backup's principal keeps its secrets get/list/backup on managed vaults. */
  backupPrincipalObjectId?: string;
  /** ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID: the vault's audit-log diagnostic setting is part of the expected state. */
  vaultDiagnosticsWorkspaceId?: string;
  /** Azure Monitor diagnostic settings; needed only with vaultDiagnosticsWorkspaceId. */
  diagnostics?: DiagnosticSettingsPort;
}

function keyParts(keyUrl: string): { vaultUrl: string; name: string; version?: string } | undefined {
  try {
    const id = parseKeyVaultObjectId(keyUrl, 'keyUrl');
    return id.kind === 'keys' ? { vaultUrl: id.vaultUrl, name: id.name, ...(id.version ? { version: id.version } : {}) } : undefined;
  } catch {
    return undefined;
  }
}

function diskIds(vm: VmSnapshot): string[] {
  return [vm.osDisk.id, ...vm.dataDisks.map((d) => d.id)].filter((id): id is string => typeof id === 'string' && id !== '');
}

/** The access-policy entry the app itself needs on every dedicated vault (see ./activities.ts). */
async function requiredPolicies(identity: () => Promise<AutomationIdentity>): Promise<AccessPolicyLike[]> {
  const me = await identity();
  return [
    {
      tenantId: me.tenantId,
      objectId: me.objectId,
      permissions: { keys: AUTOMATION_KEY_PERMISSIONS, secrets: AUTOMATION_SECRET_PERMISSIONS },
    },
  ];
}

/** A Resource Graph cursor carried through the sweep's state as a string; anything else is refused. */
function parseGraphCursor(token: string): GraphCursor {
  let value: unknown;
  try {
    value = JSON.parse(token);
  } catch {
    value = undefined;
  }
  const v = value as Partial<GraphCursor> | undefined;
  if (!v || typeof v.skipToken !== 'string' || !Number.isInteger(v.skip) || (v.skip as number) < 0)
    throw new ValidationError('continuationToken is not a Resource Graph cursor', { field: 'continuationToken' });
  return { skipToken: v.skipToken, skip: v.skip as number };
}

export function createRemediationActivities(deps: RemediationActivityDeps) {
  const { compute, vaults, keyVault, log } = deps;
  const backupReaders = deps.backupPrincipalObjectId ? [deps.backupPrincipalObjectId] : [];

  async function inspect(vmId: string, policy: EncryptionPolicy): Promise<RemediationView> {
    const vm = await compute.getVm(vmId, { instanceView: true });
    const assessment = assessVm(vm, policy);
    const { state, extension } = readVmEncryption(vm, policy.volumeType);
    let secrets = expectedBekSecrets(vm);
    // Single-pass VMs whose instance view lacks the settings: the disk resources carry them (one read per disk).
    if (secrets.length === 0 && (assessment.decision === 'already-encrypted' || state.kind === 'bek-missing')) {
      const disks: DiskEncryptionInfo[] = [];
      for (const id of diskIds(vm)) disks.push(await compute.getDiskEncryption(id));
      secrets = expectedBekSecrets(vm, disks);
    }
    const mode =
      vm.osDisk.encryptionSettings !== undefined
        ? 'dual-pass'
        : extension
          ? adeModeOfVersion(vm.osType, extension.typeHandlerVersion)
          : undefined;
    return {
      vmId: vm.id,
      name: vm.name,
      osType: vm.osType,
      location: vm.location,
      powerState: vm.powerState,
      assessment,
      state: { kind: state.kind, ...('message' in state ? { message: state.message } : {}) },
      hasAdeExtension: extension !== undefined,
      ...(mode ? { adeMode: mode } : {}),
      secrets,
    };
  }

  async function keyCheck(keyUrl: string): Promise<KeyCheck> {
    const key = keyParts(keyUrl);
    if (!key) return 'purged';
    if ((await keyVault.getKeyVersionedId(key.vaultUrl, key.name)) !== undefined) return 'present';
    return (await keyVault.getDeletedKey(key.vaultUrl, key.name)) ? 'soft-deleted' : 'purged';
  }

  /** With ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID: the audit setting missing or different is repairable drift. */
  async function diagnosticsDrift(vault: Pick<VaultInfo, 'id' | 'name'>): Promise<VaultDriftIssue[]> {
    const workspaceId = deps.vaultDiagnosticsWorkspaceId;
    if (!workspaceId) return [];
    if (!deps.diagnostics)
      throw new ValidationError('ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID is set but this host has no diagnostic settings client', {
        field: 'ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID',
      });
    const why = vaultAuditSettingMismatch(
      await deps.diagnostics.getDiagnosticSetting(vault.id, VAULT_DIAGNOSTIC_SETTING_NAME),
      workspaceId,
    );
    return why === undefined ? [] : [{ kind: 'diagnostic-setting', detail: `vault ${vault.name}: ${why}`, repairable: true }];
  }

  async function driftOf(vault: VaultInfo, required: AccessPolicyLike[]): Promise<VaultDriftIssue[]> {
    return [
      ...vaultDrift(vault, required, { listAllowedFor: required.map((r) => r.objectId), readAllowedFor: backupReaders }),
      ...(await diagnosticsDrift(vault)),
    ];
  }

  async function vaultCheck(vaultId: string): Promise<VaultCheck> {
    const name = parseResourceId(vaultId, 'vaultId').names[0] ?? '';
    const vault = await vaults.getVault(vaultId);
    if (!vault) return { vaultId, vaultName: name, exists: false, issues: [] };
    const required = await requiredPolicies(deps.identity);
    return { vaultId: vault.id, vaultName: vault.name, exists: true, issues: await driftOf(vault, required) };
  }

  return {
    /** Re-reads the VM (with instance view) and everything the decision needs. Permission: virtualMachines/read, disks/read. */
    [REMEDIATION_ACTIVITY.inspect]: (input: { vmId: string; policy: EncryptionPolicy }): Promise<ActivityResult<RemediationView>> =>
      runActivity(log, REMEDIATION_ACTIVITY.inspect, async () => {
        const view = await inspect(input.vmId, deps.policy ?? parseEncryptionPolicy(input.policy));
        return deps.policy ? { ...view, policy: deps.policy } : view;
      }),

    /**
     * Checks each BEK secret (and its KEK) with list-level access: present/disabled from the version's
     * properties, soft-deleted from the deleted-secret listing, else purged. Never a get of a value.
     * Permissions: secrets list, keys get, vaults/read.
     */
    [REMEDIATION_ACTIVITY.checkSecrets]: (input: { secrets: BekSecretRef[] }): Promise<ActivityResult<SecretChecks>> =>
      runActivity(log, REMEDIATION_ACTIVITY.checkSecrets, async () => {
        const vaultFindings = new Map<string, VaultFinding>();
        for (const ref of input.secrets) {
          if (vaultFindings.has(ref.vaultName)) continue;
          const finding: VaultFinding = { vaultName: ref.vaultName, exists: true };
          if (ref.vaultResourceId) {
            finding.vaultResourceId = ref.vaultResourceId;
            const vault = await vaults.getVault(ref.vaultResourceId);
            finding.exists = vault !== undefined;
            if (vault) finding.enabledForDiskEncryption = vault.enabledForDiskEncryption;
          }
          vaultFindings.set(ref.vaultName, finding);
        }
        const findings: SecretFinding[] = [];
        for (const ref of input.secrets) {
          if (vaultFindings.get(ref.vaultName)?.exists === false) {
            findings.push({ ref, secret: 'purged' });
            continue;
          }
          const finding: SecretFinding = { ref, secret: 'present' };
          const props = await keyVault.findSecretVersionProperties(ref.secretUrl);
          if (props) finding.secret = props.enabled === false ? 'disabled' : 'present';
          else {
            const deleted = await keyVault.getDeletedSecret(ref.vaultUrl, ref.secretName);
            finding.secret = deleted ? 'soft-deleted' : 'purged';
            if (deleted?.scheduledPurgeDate) finding.scheduledPurgeDate = deleted.scheduledPurgeDate;
          }
          if (ref.keyUrl) finding.kek = await keyCheck(ref.keyUrl);
          findings.push(finding);
          log('info', `BEK secret ${ref.secretName} in ${ref.vaultName}: ${finding.secret}${finding.kek ? `, KEK ${finding.kek}` : ''}`, {
            vaultName: ref.vaultName,
            secretName: ref.secretName,
          });
        }
        return { findings, vaults: [...vaultFindings.values()] };
      }),

    /** Drift of one vault against what ADE and this app need. Permission: vaults/read. */
    [REMEDIATION_ACTIVITY.checkVault]: (input: { vaultId: string }): Promise<ActivityResult<VaultCheck>> =>
      runActivity(log, REMEDIATION_ACTIVITY.checkVault, () => vaultCheck(input.vaultId)),

    /**
     * Repairs flags and the app's access policy with one idempotent ensureVault (patches only what
     * differs, never removes entries others added), and with ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID the audit diagnostic
     * setting, then re-checks. Permission: vaults/write, vaults/accessPolicies/write (diagnosticSettings/write and the
     * workspace's sharedKeys/action for the setting).
     */
    [REMEDIATION_ACTIVITY.repairVault]: (input: {
      vaultId: string;
    }): Promise<ActivityResult<{ repaired: string[]; remaining: VaultDriftIssue[] }>> =>
      runActivity(log, REMEDIATION_ACTIVITY.repairVault, async () => {
        if (deps.policy?.dryRun)
          throw new ValidationError(`ADE_DRY_RUN is on in the app's configuration: refused to repair ${input.vaultId}`, {
            field: 'ADE_DRY_RUN',
          });
        const vault: VaultInfo | undefined = await vaults.getVault(input.vaultId);
        if (!vault) throw new NotFoundError(`Key Vault ${input.vaultId} does not exist; nothing to repair`);
        const required = await requiredPolicies(deps.identity);
        const before = await driftOf(vault, required);
        // Read grants first (each principal's entry narrowed in place: the reading permissions removed, the rest kept).
        for (const issue of before) {
          if (issue.kind !== 'secret-read-grant' || !issue.narrowed) continue;
          const { tenantId, objectId, applicationId, permissions } = issue.narrowed;
          await vaults.setAccessPolicy(
            vault.id,
            {
              tenantId,
              objectId,
              ...(applicationId ? { applicationId } : {}),
              permissions: {
                keys: permissions.keys ?? [],
                secrets: permissions.secrets ?? [],
                certificates: permissions.certificates ?? [],
              },
            },
            'replace',
          );
          log('warn', `vault ${vault.name}: removed a secret read grant: ${issue.detail}`, { vaultId: vault.id, objectId });
        }
        if (before.some((i) => i.repairable && i.kind !== 'secret-read-grant' && i.kind !== 'diagnostic-setting')) {
          await vaults.ensureVault({
            subscriptionId: vault.subscriptionId,
            resourceGroup: vault.resourceGroup,
            name: vault.name,
            location: vault.location,
            tenantId: vault.tenantId,
            softDeleteRetentionInDays: vault.softDeleteRetentionInDays ?? 90,
            enablePurgeProtection: true,
            tags: vault.tags,
            accessPolicies: required,
          });
        }
        if (before.some((i) => i.kind === 'diagnostic-setting')) {
          const result = await deps.diagnostics!.ensureVaultAuditLogs(
            vault.id,
            VAULT_DIAGNOSTIC_SETTING_NAME,
            deps.vaultDiagnosticsWorkspaceId!,
          );
          log('info', `vault ${vault.name}: diagnostic setting ${result.setting.name} ${result.action}`, { vaultId: vault.id });
        }
        const after = await vaultCheck(input.vaultId);
        const repaired = before.filter((b) => b.repairable && !after.issues.some((a) => a.kind === b.kind)).map((b) => b.kind);
        log(
          'info',
          `vault ${vault.name}: repaired ${repaired.join(', ') || 'nothing'}; remaining ` +
            `${after.issues.map((i) => i.kind).join(', ') || 'none'}`,
          { vaultId: vault.id },
        );
        return { repaired, remaining: after.issues };
      }),

    /** Permission: secrets recover. */
    [REMEDIATION_ACTIVITY.recoverSecret]: (input: { vaultUrl: string; secretName: string }): Promise<ActivityResult<{ recovered: true }>> =>
      runActivity(log, REMEDIATION_ACTIVITY.recoverSecret, async () => {
        await keyVault.recoverDeletedSecret(input.vaultUrl, input.secretName);
        log('info', `recovered soft-deleted BEK secret ${input.secretName} in ${input.vaultUrl}`);
        return { recovered: true as const };
      }),

    /** Permission: keys recover. */
    [REMEDIATION_ACTIVITY.recoverKek]: (input: { vaultUrl: string; keyName: string }): Promise<ActivityResult<{ versionedId: string }>> =>
      runActivity(log, REMEDIATION_ACTIVITY.recoverKek, async () => {
        const key = await keyVault.recoverDeletedKey(input.vaultUrl, input.keyName);
        log('info', `recovered soft-deleted KEK ${input.keyName} in ${input.vaultUrl}`);
        return { versionedId: key.versionedId };
      }),

    /** Permission: virtualMachines/deallocate/action. */
    [REMEDIATION_ACTIVITY.deallocate]: (input: { vmId: string }): Promise<ActivityResult<{ done: true }>> =>
      runActivity(log, REMEDIATION_ACTIVITY.deallocate, async () => {
        await compute.deallocate(input.vmId);
        return { done: true as const };
      }),

    /** Permission: virtualMachines/start/action. */
    [REMEDIATION_ACTIVITY.start]: (input: { vmId: string }): Promise<ActivityResult<{ done: true }>> =>
      runActivity(log, REMEDIATION_ACTIVITY.start, async () => {
        await compute.start(input.vmId);
        return { done: true as const };
      }),

    /**
     * Puts the ADE extension back on a VM whose disks are still encrypted, with the vault and KEK the
     * disks reference and a new SequenceVersion (what `az vm encryption enable` would send). Single-pass
     * only: a dual-pass extension needs the Entra app's credential, which only encryptVm handles.
     * Permission: virtualMachines/read, virtualMachines/extensions/write.
     */
    /**
     * Dual-pass VM encrypted in the guest whose model lost (or never got) `encryptionSettings`: re-applies them from the
     * versioned secret URL the ADE extension reports and the vault (and KEK) in its public settings — the second pass of
     * https://learn.microsoft.com/azure/virtual-machines/windows/disk-encryption-windows-aad. Idempotent; a model that
     * already carries enabled settings is left alone. Permission: virtualMachines/read, virtualMachines/write.
     */
    [REMEDIATION_ACTIVITY.applyModelSettings]: (
      input: ApplyModelSettingsInput,
    ): Promise<ActivityResult<{ applied: boolean; secretUrl: string }>> =>
      runActivity(log, REMEDIATION_ACTIVITY.applyModelSettings, async () => {
        const vm = await compute.getVm(input.vmId, { instanceView: true });
        const current = vm.osDisk.encryptionSettings;
        if (current?.enabled === true && current.diskEncryptionKey?.secretUrl)
          return { applied: false, secretUrl: current.diskEncryptionKey.secretUrl };
        const extension = findAdeExtension(vm);
        const settings = extension?.settings ?? {};
        const text = (key: string): string | undefined =>
          typeof settings[key] === 'string' && settings[key] !== '' ? (settings[key] as string) : undefined;
        const secretUrl = readVmEncryption(vm).state.detail.secretUrl;
        const vaultUrl = text('KeyVaultURL');
        const vaultResourceId = text('KeyVaultResourceId');
        if (!extension || !secretUrl || !vaultUrl || !vaultResourceId)
          throw new NotFoundError(
            `VM ${vm.name}: the ADE extension reports no secret URL or vault to re-apply the model encryption settings from; ` +
              'run POST /api/vms/encrypt for it (a new sequence reports them again)',
          );
        const kekUrl = text('KeyEncryptionKeyURL');
        const model = buildDualPassEncryptionSettings({
          secretUrl,
          vault: { url: vaultUrl, resourceId: vaultResourceId },
          ...(kekUrl ? { kek: { url: kekUrl, vaultResourceId: text('KekVaultResourceId') ?? vaultResourceId } } : {}),
        });
        await compute.updateOsDiskEncryptionSettings(vm.id, model);
        log('info', `re-applied the dual-pass model encryption settings of ${vm.name}`, { vmId: vm.id });
        return { applied: true, secretUrl };
      }),

    [REMEDIATION_ACTIVITY.redeployExtension]: (
      input: RedeployInput,
    ): Promise<ActivityResult<{ extensionName: string; extensionId: string }>> =>
      runActivity(log, REMEDIATION_ACTIVITY.redeployExtension, async () => {
        const vm = await compute.getVm(input.vmId, { instanceView: true });
        if (vm.osDisk.encryptionSettings !== undefined) {
          throw new UnsupportedError(
            `VM ${vm.name} is dual-pass (Entra app) ADE; redeploying its extension needs the app credential — ` +
              'run POST /api/vms/encrypt for it',
            { code: 'DualPassRedeploy' },
          );
        }
        let secrets = expectedBekSecrets(vm);
        if (secrets.length === 0) {
          const disks: DiskEncryptionInfo[] = [];
          for (const id of diskIds(vm)) disks.push(await compute.getDiskEncryption(id));
          secrets = expectedBekSecrets(vm, disks);
        }
        const ref = secrets.find((s) => s.vaultResourceId);
        if (!ref?.vaultResourceId)
          throw new NotFoundError(
            `VM ${vm.name} references no BEK secret with a source vault; cannot tell which vault to redeploy the ADE extension with`,
          );
        const extension = buildAdeExtension({
          os: vm.osType,
          mode: 'single-pass',
          volumeType: input.volumeType,
          sequenceVersion: input.sequenceVersion,
          vault: { url: ref.vaultUrl, resourceId: ref.vaultResourceId },
          ...(ref.keyUrl ? { kek: { url: ref.keyUrl, vaultResourceId: ref.keyVaultResourceId ?? ref.vaultResourceId } } : {}),
          ...(findAdeExtension(vm) ? { existingName: findAdeExtension(vm)!.name } : {}),
        });
        const started = await compute.beginDeployExtension(vm.id, extension.name, adeExtensionSpec(extension, vm.location));
        log('info', `redeploying ADE extension ${extension.name} on ${vm.name}`, { vmId: vm.id, vault: ref.vaultName });
        return { extensionName: extension.name, extensionId: started.extensionId };
      }),

    /** BEK health and encryption state from the instance view. Permission: virtualMachines/read. */
    [REMEDIATION_ACTIVITY.bekHealth]: (input: {
      vmIds: string[];
    }): Promise<ActivityResult<Array<{ vmId: string; health: BekHealth; hasAdeExtension: boolean; extensionProvisioning?: string }>>> =>
      runActivity(log, REMEDIATION_ACTIVITY.bekHealth, async () => {
        const out: Array<{ vmId: string; health: BekHealth; hasAdeExtension: boolean; extensionProvisioning?: string }> = [];
        for (const vmId of input.vmIds) {
          let vm: VmSnapshot;
          try {
            vm = await compute.getVm(vmId, { instanceView: true });
          } catch (error) {
            if (toErrorInfo(error).kind === 'not-found') continue; // deleted since it was listed
            throw error;
          }
          const extension = findAdeExtension(vm);
          out.push({
            vmId: normaliseResourceId(vm.id),
            health: bekHealthOf(vm),
            hasAdeExtension: extension !== undefined,
            ...(extension?.provisioningState ? { extensionProvisioning: extension.provisioningState } : {}),
          });
        }
        return out;
      }),

    /**
     * One page of sweep rows. With Resource Graph and `subscriptionIds`: a page of the VMs of every subscription in scope
     * (model, power state and ADE extension; no ARM read), `allSubscriptions: true`. Otherwise one page of one
     * subscription's VMs from Resource Manager (model only: one ARM read).
     */
    [REMEDIATION_ACTIVITY.listSweepPage]: (input: {
      subscriptionId: string;
      subscriptionIds?: string[];
      continuationToken?: string;
      policy: EncryptionPolicy;
    }): Promise<ActivityResult<{ rows: SweepRow[]; continuationToken?: string; allSubscriptions?: boolean }>> =>
      runActivity(log, REMEDIATION_ACTIVITY.listSweepPage, async () => {
        const policy = deps.policy ?? parseEncryptionPolicy(input.policy);
        if (deps.resourceGraph && input.subscriptionIds && input.subscriptionIds.length > 0) {
          const cursor = input.continuationToken ? parseGraphCursor(input.continuationToken) : undefined;
          const page = await deps.resourceGraph.vmPage(input.subscriptionIds, cursor);
          return {
            rows: page.vms.map((vm) => sweepRowOf(vm, policy)),
            allSubscriptions: true,
            ...(page.cursor ? { continuationToken: JSON.stringify(page.cursor) } : {}),
          };
        }
        const page = await compute.listVms(input.subscriptionId, input.continuationToken);
        return {
          rows: page.vms.map((vm) => sweepRowOf(vm, policy)),
          ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
        };
      }),

    /** One page of VMs whose model shows ADE (candidates for the BEK health check). One ARM read. */
    [REMEDIATION_ACTIVITY.listBekPage]: (input: {
      subscriptionId: string;
      continuationToken?: string;
      policy: EncryptionPolicy;
    }): Promise<ActivityResult<{ scanned: number; candidates: string[]; continuationToken?: string }>> =>
      runActivity(log, REMEDIATION_ACTIVITY.listBekPage, async () => {
        const policy = deps.policy ?? parseEncryptionPolicy(input.policy);
        const page = await compute.listVms(input.subscriptionId, input.continuationToken);
        const candidates = page.vms
          .filter((vm) => isBekSweepCandidate(vm) && assessVm(vm, policy).decision !== 'skip')
          .map((vm) => normaliseResourceId(vm.id));
        return { scanned: page.vms.length, candidates, ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) };
      }),

    [REMEDIATION_ACTIVITY.startOrchestrations]: (input: {
      starts: OrchestrationStart[];
    }): Promise<ActivityResult<OrchestrationStartResult[]>> =>
      runActivity(log, REMEDIATION_ACTIVITY.startOrchestrations, async () => {
        if (!deps.orchestrations) throw new UnsupportedError('no Durable client was given to this activity');
        const out: OrchestrationStartResult[] = [];
        for (const start of input.starts) out.push(await deps.orchestrations.startIfIdle(start));
        return out;
      }),

    [REMEDIATION_ACTIVITY.orchestrationStatuses]: (input: { instanceIds: string[] }): Promise<ActivityResult<OrchestrationStatusView[]>> =>
      runActivity(log, REMEDIATION_ACTIVITY.orchestrationStatuses, async () => {
        if (!deps.orchestrations) throw new UnsupportedError('no Durable client was given to this activity');
        const out: OrchestrationStatusView[] = [];
        for (const instanceId of input.instanceIds) out.push(await deps.orchestrations.status(instanceId));
        return out;
      }),

    /** Publishes one outcome event; a no-op without a configured topic. Permission: EventGrid Data Sender on the topic. */
    [REMEDIATION_ACTIVITY.publishOutcome]: (input: { event: OutcomeEvent }): Promise<ActivityResult<{ published: boolean }>> =>
      runActivity(log, REMEDIATION_ACTIVITY.publishOutcome, async () => {
        const next = input.event.data.operatorAction ? ` (next step: ${input.event.data.operatorAction})` : '';
        log('info', `outcome ${input.event.eventType} for ${input.event.subject}: ${input.event.data.reason}${next}`, {
          eventType: input.event.eventType,
          subject: input.event.subject,
        });
        if (!deps.publisher) return { published: false };
        await deps.publisher.publish([input.event]);
        return { published: true };
      }),
  };
}

export type RemediationActivities = ReturnType<typeof createRemediationActivities>;
