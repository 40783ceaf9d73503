/**
 * Orchestrator `remediateVm`: assess from Azure's current state, then run exactly one of encrypt
 * (sub-orchestration `encryptVm`), restore (sub-orchestration `restoreBek`), redeploy the ADE
 * extension, repair the vault, or nothing — with the reason in its output.
 *
 * Started with a deterministic instance id per VM (core/names.ts) by every drift signal
 * (policy, alerts, Resource Manager events, POST /api/vms/heal), so two signals at once make one
 * remediation. A vault-only signal (a managed vault written) runs the vault branch alone.
 */
import type { OrchestrationContext } from 'durable-functions';
import { orchestrationInstanceId, restoreInstanceId } from '../core/names';
import { decideRemediation, type RemediationAction } from '../core/remediation/decision';
import { OUTCOME_EVENT_TYPES, remediationEventType } from '../core/remediation/outcomes';
import type { SignalSource } from '../core/remediation/signals';
import { isManagedVault, secretsInUnmanagedVaults, type VaultDriftIssue } from '../core/remediation/vault-drift';
import { parseEncryptionPolicy, type EncryptionPolicy } from '../core/policy';
import {
  encryptionOrchestratorFor,
  type EncryptAtHostInput,
  type EncryptAtHostOutput,
  REMEDIATE_VM_ORCHESTRATOR,
  REMEDIATION_ACTIVITY,
  RESTORE_BEK_ORCHESTRATOR,
  type EncryptVmInput,
  type EncryptVmOutput,
  type RemediateVmStatus,
  type RemediationTarget,
} from './contracts';
import type { SecretChecks } from './remediation-activities';
import type { HealSettings, RestoreBekInput, RestoreBekOutput } from './restoreBek';
import { callActivity, inputOf, publishOutcome, setStatus, StepFailure, type Step } from './steps';

type StatusOf = (phase: RemediateVmStatus['phase'], detail?: string) => void;

export interface RemediateVmInput {
  target: RemediationTarget;
  policy: EncryptionPolicy;
  heal: HealSettings;
  signal: { source: SignalSource; why: string; observedAt?: string };
}

export interface RemediateVmOutput {
  target: RemediationTarget;
  action: RemediationAction;
  reason: string;
  /** How the action went: `succeeded`, `failed`, or `skipped` for `nothing`. */
  result: 'succeeded' | 'failed' | 'skipped';
  detail?: string;
  signal: RemediateVmInput['signal'];
  /** ADE_DRY_RUN: `action` is what the run would do (`detail` says how); nothing was changed or published. */
  dryRun?: true;
}

export function* remediateVmOrchestrator(context: OrchestrationContext): Step<RemediateVmOutput> {
  const input = inputOf<RemediateVmInput>(context);
  const signal = input.signal ?? { source: 'on-demand' as const, why: 'unspecified' };
  const target: RemediationTarget = input.target ?? { kind: 'vm', vmId: '' };
  const status: StatusOf = (phase, detail) =>
    setStatus(context, { orchestration: REMEDIATE_VM_ORCHESTRATOR, phase, target, ...(detail ? { detail } : {}) });
  let policy: EncryptionPolicy;
  try {
    if (target.kind === 'vm' ? !target.vmId : !target.vaultId) throw new Error('input.target names no VM or vault');
    policy = parseEncryptionPolicy(input.policy, 'input.policy');
    if (!input.heal) throw new Error('input.heal is missing');
  } catch (error) {
    return { target, action: 'nothing', reason: `Invalid orchestration input: ${(error as Error).message}`, result: 'failed', signal };
  }
  const heal = input.heal;

  if (target.kind === 'vault') return yield* remediateVault(context, target.vaultId, signal, status, policy);

  const vmId = target.vmId;
  let action: RemediationAction = 'nothing';
  let reason = '';
  try {
    status('assessing');
    const view = yield* callActivity(context, REMEDIATION_ACTIVITY.inspect, { vmId, policy });
    // From here on the run follows the app's own configuration (dry run, vault group), never its input.
    if (view.policy) policy = view.policy;
    let secrets: SecretChecks | undefined;
    const drift: VaultDriftIssue[] = [];
    const encrypted = view.assessment.decision === 'already-encrypted' || view.state.kind === 'bek-missing';
    // Keys in a vault the app does not manage cannot be checked (no access there): restoreBek reports them with the
    // operator's next step when the BEK is missing; otherwise they are left alone.
    const unmanaged = secretsInUnmanagedVaults(view.secrets, policy);
    const checkable = view.secrets.filter((s) => !unmanaged.includes(s));
    if (encrypted && checkable.length > 0) {
      secrets = yield* callActivity(context, REMEDIATION_ACTIVITY.checkSecrets, { secrets: checkable });
      for (const vaultId of managedVaultIds(view.secrets, policy)) {
        const check = yield* callActivity(context, REMEDIATION_ACTIVITY.checkVault, { vaultId });
        drift.push(...check.issues);
      }
    }
    const decision = decideRemediation({
      assessment: view.assessment,
      state: view.state,
      hasAdeExtension: view.hasAdeExtension,
      ...(secrets ? { secrets: secrets.findings } : {}),
      vaultDrift: drift,
    });
    action = decision.action;
    reason = decision.reason;
    status(action, reason);

    let detail: string | undefined;
    let succeeded = true;
    /** The sub-orchestration already published this remediation's outcome event. */
    let outcomePublishedBySub = false;
    if (action === 'nothing') {
      return { target, action, reason, result: 'skipped', signal };
    }
    /** Another starter's run of this VM holds the id: it does the work and reports; this remediation adds nothing. */
    const alreadyRunning = (childId: string): RemediateVmOutput => {
      const running = `${childId} is already running (started by another signal); that run does the work and reports its outcome`;
      status('done', running);
      return { target, action, reason, result: 'skipped', detail: running, signal };
    };
    if (policy.dryRun) {
      // Reads only: every action below writes (extension, vault, secrets, power state) or publishes.
      const wouldDo = `Dry run (ADE_DRY_RUN): would ${describeAction(action, managedVaultIds(view.secrets, policy), policy)}`;
      status('done', wouldDo);
      return { target, action, reason, result: 'skipped', detail: wouldDo, signal, dryRun: true };
    }
    if (action === 'encrypt') {
      // encryptVm publishes VmEncrypted / EncryptionFailed itself (through the same activity, which is
      // a no-op without a topic); remediateVm publishes only when it did not (skipped, already encrypted).
      const encryptInput: EncryptVmInput | EncryptAtHostInput = {
        vmId: view.vmId,
        policy,
        publishOutcome: true,
        ...(policy.mode === 'encryption-at-host' ? { heal } : {}),
      };
      // The VM's deterministic id, as the event, HTTP and sweep starters use: one encryption per VM at a time.
      const childId = orchestrationInstanceId(view.vmId);
      const out = (yield* subOrchestration(context, encryptionOrchestratorFor(policy.mode), encryptInput, childId)) as
        EncryptVmOutput | EncryptAtHostOutput | undefined;
      if (!out) return alreadyRunning(childId);
      succeeded = out.outcome === 'encrypted' || out.outcome === 'already-encrypted';
      outcomePublishedBySub = out.outcomeEvent !== undefined;
      detail = `encryptVm: ${out.outcome}${out.reason ? ` (${out.reason})` : ''}`;
    } else if (action === 'restore') {
      const restoreInput: RestoreBekInput = { vmId: view.vmId, policy, heal, trigger: `${signal.source}: ${signal.why}` };
      const childId = restoreInstanceId(view.vmId);
      const out = (yield* subOrchestration(context, RESTORE_BEK_ORCHESTRATOR, restoreInput, childId)) as RestoreBekOutput | undefined;
      if (!out) return alreadyRunning(childId);
      succeeded = out.outcome === 'restored' || out.outcome === 'recovered' || out.outcome === 'nothing';
      detail = `restoreBek: ${out.outcome} (${out.reason})`;
    } else if (action === 'apply-model-settings') {
      const applied = yield* callActivity(context, REMEDIATION_ACTIVITY.applyModelSettings, { vmId: view.vmId });
      detail = applied.applied
        ? 'dual-pass model encryptionSettings re-applied from the secret URL the ADE extension reports'
        : 'the VM model already carries its encryptionSettings';
    } else if (action === 'redeploy-extension') {
      const redeployed = yield* callActivity(context, REMEDIATION_ACTIVITY.redeployExtension, {
        vmId: view.vmId,
        volumeType: policy.volumeType,
        sequenceVersion: context.df.newGuid(`${context.df.instanceId}|redeploy`),
      });
      detail = `ADE extension ${redeployed.extensionName} redeployed`;
    } else {
      const repaired: string[] = [];
      for (const vaultId of managedVaultIds(view.secrets, policy)) {
        const result = yield* callActivity(context, REMEDIATION_ACTIVITY.repairVault, {
          vaultId,
        });
        repaired.push(...result.repaired);
        if (result.remaining.some((r) => r.repairable)) succeeded = false;
      }
      detail = `repaired: ${repaired.join(', ') || 'nothing'}`;
    }
    // restoreBek always publishes its own outcome; encryptVm does for encrypted/failed runs.
    if (action !== 'restore' && !outcomePublishedBySub) {
      yield* publishOutcome(context, 'remediateVm', remediationEventType(action, succeeded), {
        vmId: view.vmId,
        action,
        reason: `${reason}; ${detail}`,
      });
    }
    status('done', detail);
    return { target, action, reason, result: succeeded ? 'succeeded' : 'failed', ...(detail ? { detail } : {}), signal };
  } catch (error) {
    if (!(error instanceof StepFailure)) throw error;
    yield* publishOutcome(context, 'remediateVm', OUTCOME_EVENT_TYPES.actionRequired, {
      vmId,
      action,
      reason: `remediation failed: ${error.message}`,
      operatorAction: 'fix the cause named in the reason; the next drift signal or POST /api/vms/heal retries',
    });
    status('done', error.message);
    return { target, action, reason: reason || 'assessment failed', result: 'failed', detail: error.message, signal };
  }
}

/**
 * A sub-orchestration under a fixed instance id. `undefined` when an instance with that id is still running: host.json
 * sets `overridableExistingInstanceStates` to `NonRunningStates`, so the Durable extension refuses to start a second one
 * (https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-sub-orchestrations).
 */
function* subOrchestration(context: OrchestrationContext, name: string, input: unknown, instanceId: string): Step<unknown> {
  try {
    return yield context.df.callSubOrchestrator(name, input, instanceId);
  } catch (error) {
    if (/already exists/i.test(error instanceof Error ? error.message : String(error))) return undefined;
    throw error;
  }
}

/** What a remediation action would do, for the dry-run report. */
function describeAction(action: RemediationAction, vaults: string[], policy: EncryptionPolicy): string {
  switch (action) {
    case 'encrypt':
      return `encrypt the VM (${policy.mode}, volume type ${policy.volumeType})`;
    case 'restore':
      return 'restore its BEK (recover deleted key material, then re-provision the VM as ADE_HEAL_ACTION says)';
    case 'apply-model-settings':
      return "re-apply the VM model's dual-pass encryptionSettings from the secret URL the ADE extension reports";
    case 'redeploy-extension':
      return `redeploy the ADE extension (volume type ${policy.volumeType})`;
    default:
      return `repair the managed vault${vaults.length === 1 ? '' : 's'} ${vaults.join(', ') || '(none found)'}`;
  }
}

/** The vaults this app manages among those the VM's BEK secrets live in. */
function managedVaultIds(secrets: ReadonlyArray<{ vaultResourceId?: string }>, policy: EncryptionPolicy): string[] {
  return [...new Set(secrets.map((s) => s.vaultResourceId).filter((id): id is string => !!id && isManagedVault(id, policy)))];
}

function* remediateVault(
  context: OrchestrationContext,
  vaultId: string,
  signal: RemediateVmInput['signal'],
  status: StatusOf,
  policy: EncryptionPolicy,
): Step<RemediateVmOutput> {
  const target: RemediationTarget = { kind: 'vault', vaultId };
  try {
    status('assessing');
    const check = yield* callActivity(context, REMEDIATION_ACTIVITY.checkVault, { vaultId });
    if (!check.exists)
      return {
        target,
        action: 'nothing',
        reason: `vault ${check.vaultName} does not exist (deleted); BEK health sweeps report the VMs that depended on it`,
        result: 'skipped',
        signal,
      };
    const repairable = check.issues.filter((i) => i.repairable);
    if (repairable.length === 0) {
      const reason =
        check.issues.length > 0
          ? `needs an operator: ${check.issues.map((i) => i.detail).join('; ')}`
          : `vault ${check.vaultName} has no drift`;
      if (check.issues.length > 0)
        yield* publishOutcome(context, 'remediateVm', OUTCOME_EVENT_TYPES.actionRequired, {
          vaultId,
          action: 'repair-vault',
          reason,
          operatorAction: check.issues.map((i) => i.detail).join('; '),
        });
      return { target, action: 'nothing', reason, result: 'skipped', signal };
    }
    const reason = repairable.map((i) => i.detail).join('; ');
    if (policy.dryRun) {
      const wouldDo = `Dry run (ADE_DRY_RUN): would repair vault ${check.vaultName}: ${reason}`;
      status('done', wouldDo);
      return { target, action: 'repair-vault', reason, result: 'skipped', detail: wouldDo, signal, dryRun: true };
    }
    status('repair-vault', reason);
    const result = yield* callActivity(context, REMEDIATION_ACTIVITY.repairVault, {
      vaultId,
    });
    const succeeded = !result.remaining.some((r) => r.repairable);
    const detail = `repaired: ${result.repaired.join(', ') || 'nothing'}`;
    yield* publishOutcome(context, 'remediateVm', remediationEventType('repair-vault', succeeded), {
      vaultId,
      action: 'repair-vault',
      reason: `${reason}; ${detail}`,
    });
    status('done', detail);
    return { target, action: 'repair-vault', reason, result: succeeded ? 'succeeded' : 'failed', detail, signal };
  } catch (error) {
    if (!(error instanceof StepFailure)) throw error;
    yield* publishOutcome(context, 'remediateVm', OUTCOME_EVENT_TYPES.actionRequired, {
      vaultId,
      action: 'repair-vault',
      reason: `vault repair failed: ${error.message}`,
    });
    return { target, action: 'repair-vault', reason: 'vault drift', result: 'failed', detail: error.message, signal };
  }
}
