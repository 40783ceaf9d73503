/**
 * Orchestrator `restoreBek`: put a VM's BEK key material back (docs/ade-behaviour.md#a-missing-bek).
 *
 * 1. Inspect the VM: the secrets its disks reference (model, instance view or disk resources).
 * 2. Check each secret and KEK with list-level permission; plan (core/remediation/restore.ts).
 * 3. Purged / disabled / vault gone → stop, VM untouched, `AdeAutopilot.Unrecoverable` naming the
 *    secret, the vault and what an operator can do.
 * 4. Recover the KEK, then the secret, from soft delete; repair the vault's disk-encryption flag.
 * 5. Re-provision as ADE_HEAL_ACTION says: `restart` deallocates and starts now, `maintenance-window`
 *    waits for the window on a durable timer first, `notify-only` publishes ActionRequired and stops.
 * 6. Verify from the instance view that the extension no longer reports the BEK missing.
 *
 * Deterministic; secrets never appear in inputs, outputs, status or logs (only names and URLs).
 */
import type { OrchestrationContext } from 'durable-functions';
import type { MaintenanceWindow } from '../core/remediation/maintenance-window';
import { nextWindowOpening } from '../core/remediation/maintenance-window';
import { describeAssessment, SKIP_REASONS } from '../core/eligibility';
import { OUTCOME_EVENT_TYPES } from '../core/remediation/outcomes';
import { describeStep, planBekRestore, type RestoreStep, type UnrecoverableProblem } from '../core/remediation/restore';
import type { HealAction } from '../core/remediation/settings';
import { parseEncryptionPolicy, type EncryptionPolicy } from '../core/policy';
import { secretsInUnmanagedVaults, unmanagedVaultNextStep } from '../core/remediation/vault-drift';
import { REMEDIATION_ACTIVITY, RESTORE_BEK_ORCHESTRATOR, type RestoreBekStatus } from './contracts';
import { callActivity, inputOf, publishOutcome, setStatus as setCustomStatus, StepFailure, type Step } from './steps';

export interface HealSettings {
  action: HealAction;
  window?: MaintenanceWindow;
  /** How often and how long to verify after re-provisioning (defaults: every 60 s, 15 times). */
  verifyIntervalSeconds?: number;
  verifyPolls?: number;
}

export interface RestoreBekInput {
  vmId: string;
  policy: EncryptionPolicy;
  heal: HealSettings;
  /** Why the restore runs (sweep, heal request, remediation), for the outcome. */
  trigger?: string;
}

export type RestoreOutcome = 'restored' | 'recovered' | 'nothing' | 'unrecoverable' | 'action-required' | 'failed';

export interface RestoreBekOutput {
  vmId: string;
  outcome: RestoreOutcome;
  reason: string;
  steps: string[];
  problems?: UnrecoverableProblem[];
  /** ADE_DRY_RUN: the steps a real run would take (none was taken). */
  wouldDo?: string[];
}

type RestorePhase = Omit<RestoreBekStatus, 'orchestration' | 'vmId'>;

export function* restoreBekOrchestrator(context: OrchestrationContext): Step<RestoreBekOutput> {
  const input = inputOf<RestoreBekInput>(context);
  const vmId = typeof input.vmId === 'string' ? input.vmId : '';
  const setStatus = (status: RestorePhase): void => setCustomStatus(context, { orchestration: RESTORE_BEK_ORCHESTRATOR, vmId, ...status });
  let policy: EncryptionPolicy;
  try {
    if (vmId === '') throw new Error('input.vmId is missing');
    policy = parseEncryptionPolicy(input.policy, 'input.policy');
    if (!input.heal || !['restart', 'maintenance-window', 'notify-only'].includes(input.heal.action))
      throw new Error('input.heal.action must be restart, maintenance-window or notify-only');
    if (input.heal.action === 'maintenance-window' && !input.heal.window)
      throw new Error('input.heal.window is required for maintenance-window');
  } catch (error) {
    setStatus({ phase: 'done', detail: 'invalid input' });
    return { vmId, outcome: 'failed', reason: `Invalid orchestration input: ${(error as Error).message}`, steps: [] };
  }
  const heal = input.heal;
  const done: string[] = [];

  try {
    setStatus({ phase: 'inspecting' });
    const view = yield* callActivity(context, REMEDIATION_ACTIVITY.inspect, { vmId, policy });
    // From here on the run follows the app's own configuration (dry run, vault group), never its input.
    if (view.policy) policy = view.policy;
    const dryRun = policy.dryRun;
    /** Action required: published, or under ADE_DRY_RUN only reported (a dry run changes and publishes nothing). */
    const actionRequired = function* (reason: string, operatorAction: string): Step<RestoreBekOutput> {
      if (dryRun) {
        const wouldDo = `report action required (${operatorAction})`;
        setStatus({ phase: 'done', detail: `Dry run (ADE_DRY_RUN): would ${wouldDo}` });
        return { vmId, outcome: 'action-required', reason, steps: [], wouldDo: [wouldDo] };
      }
      yield* publishOutcome(context, 'restoreBek', OUTCOME_EVENT_TYPES.actionRequired, {
        vmId: view.vmId,
        action: 'restore',
        reason,
        operatorAction,
      });
      setStatus({ phase: 'done', detail: reason });
      return { vmId, outcome: 'action-required', reason, steps: [] };
    };
    const bekMissing = view.state.kind === 'bek-missing';
    if (view.secrets.length === 0) {
      if (!bekMissing) {
        setStatus({ phase: 'done', detail: 'no BEK secret referenced' });
        return { vmId, outcome: 'nothing', reason: 'The VM references no BEK secret (not ADE-encrypted).', steps: [] };
      }
      return yield* actionRequired(
        `The ADE extension reports the BEK missing (${view.state.message ?? ''}) but neither the VM model, its instance ` +
          `view nor its disks name a BEK secret to restore from.`,
        "check the VM's disk encryption settings; restore the secret from Azure Backup if it was lost, then POST /api/vms/heal",
      );
    }
    const unmanaged = secretsInUnmanagedVaults(view.secrets, policy);
    if (unmanaged.length > 0) {
      const vaults = unmanaged.map((s) => s.vaultName);
      if (!bekMissing) {
        const reason = `Not checked: ${unmanagedVaultNextStep(vaults, policy)}.`;
        setStatus({ phase: 'done', detail: reason });
        return { vmId, outcome: 'nothing', reason, steps: [] };
      }
      return yield* actionRequired(
        `The ADE extension reports the BEK missing and the VM's keys are in a vault ade-autopilot does not manage ` +
          `(${[...new Set(vaults)].join(', ')}).`,
        unmanagedVaultNextStep(vaults, policy),
      );
    }

    setStatus({ phase: 'checking-secrets' });
    const checks = yield* callActivity(context, REMEDIATION_ACTIVITY.checkSecrets, { secrets: view.secrets });
    const plan = planBekRestore({ ...checks, bekMissing, powerState: view.powerState, healAction: heal.action });

    if (plan.kind === 'nothing') {
      setStatus({ phase: 'done', detail: plan.reason });
      return { vmId, outcome: 'nothing', reason: plan.reason, steps: [] };
    }
    if (plan.kind === 'unrecoverable' && dryRun) {
      const wouldDo = `report ${plan.problems.length} unrecoverable secret${plan.problems.length === 1 ? '' : 's'}`;
      setStatus({ phase: 'done', detail: `Dry run (ADE_DRY_RUN): would ${wouldDo}` });
      return { vmId, outcome: 'unrecoverable', reason: plan.summary, steps: [], problems: plan.problems, wouldDo: [wouldDo] };
    }
    if (plan.kind === 'unrecoverable') {
      yield* publishOutcome(context, 'restoreBek', OUTCOME_EVENT_TYPES.unrecoverable, {
        vmId: view.vmId,
        action: 'restore',
        reason: plan.summary,
        operatorAction: [...new Set(plan.problems.map((p) => p.operatorAction))].join(' | '),
        secrets: plan.problems.map((p) => ({ secretName: p.secretName, vaultName: p.vaultName, secretUrl: p.secretUrl })),
      });
      setStatus({ phase: 'done', detail: plan.summary });
      return { vmId, outcome: 'unrecoverable', reason: plan.summary, steps: [], problems: plan.problems };
    }

    if (dryRun) {
      // Recovery and re-provisioning write to Key Vault and stop/start the VM: report them instead.
      const reason = `Dry run (ADE_DRY_RUN): would ${plan.steps.map(describeStep).join('; ')}`;
      setStatus({ phase: 'done', detail: reason });
      return { vmId, outcome: 'nothing', reason, steps: [], wouldDo: plan.steps.map(describeStep) };
    }
    let reprovisioned = false;
    for (const step of plan.steps) {
      if (step.step === 'reprovision') {
        const result = yield* reprovision(context, view.vmId, step, heal, setStatus, policy);
        if (typeof result === 'object') {
          // Looked again right before the power operation: someone excluded, deleted or already healed the VM.
          const reason = `Not re-provisioned: ${result.why}${done.length > 0 ? ` (recovered before: ${done.join('; ')})` : ''}.`;
          setStatus({ phase: 'done', detail: reason });
          return { vmId, outcome: 'nothing', reason, steps: done };
        }
        if (result === 'notified') {
          const reason =
            `Key material is ready in the vault (${done.join('; ') || 'nothing to recover'}); ADE_HEAL_ACTION=notify-only, ` +
            `so the VM was not restarted.`;
          yield* publishOutcome(context, 'restoreBek', OUTCOME_EVENT_TYPES.actionRequired, {
            vmId: view.vmId,
            action: 'restore',
            reason,
            operatorAction: 'stop (deallocate) and start the VM so the platform re-attaches the BEK volume from Key Vault',
            steps: done,
          });
          setStatus({ phase: 'done', detail: reason });
          return { vmId, outcome: 'action-required', reason, steps: done };
        }
        reprovisioned = true;
      } else {
        setStatus({ phase: 'recovering', detail: describeStep(step) });
        yield* runRecoveryStep(context, step);
      }
      done.push(describeStep(step));
    }

    if (reprovisioned) {
      setStatus({ phase: 'verifying' });
      const polls = heal.verifyPolls ?? 15;
      const intervalMs = (heal.verifyIntervalSeconds ?? 60) * 1000;
      let healthy = false;
      let last = '';
      for (let i = 0; i < polls && !healthy; i++) {
        const [health] = yield* callActivity(context, REMEDIATION_ACTIVITY.bekHealth, {
          vmIds: [view.vmId],
        });
        healthy = health !== undefined && health.health.status !== 'bek-missing';
        last = health ? health.health.status : 'VM not found';
        if (!healthy && i < polls - 1) yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + intervalMs));
      }
      if (!healthy)
        throw new StepFailure(
          `re-provisioned, but the ADE extension still reports the BEK missing after ${polls} checks (last: ${last}); check the guest ` +
            `(attach its OS disk to a recovery VM)`,
        );
    }
    const reason = `${reprovisioned ? 'BEK restored and verified' : 'Key material recovered'}: ${done.join('; ')}.`;
    yield* publishOutcome(context, 'restoreBek', OUTCOME_EVENT_TYPES.bekRestored, {
      vmId: view.vmId,
      action: 'restore',
      reason,
      steps: done,
    });
    setStatus({ phase: 'done', detail: reason });
    return { vmId, outcome: reprovisioned ? 'restored' : 'recovered', reason, steps: done };
  } catch (error) {
    if (!(error instanceof StepFailure)) throw error;
    const reason = `BEK restore failed: ${error.message}`;
    yield* publishOutcome(context, 'restoreBek', OUTCOME_EVENT_TYPES.actionRequired, {
      vmId,
      action: 'restore',
      reason,
      steps: done,
      operatorAction: 'fix the cause named in the reason, then POST /api/vms/heal for the VM',
    });
    setStatus({ phase: 'done', detail: reason });
    return { vmId, outcome: 'failed', reason, steps: done };
  }
}

function* runRecoveryStep(context: OrchestrationContext, step: Exclude<RestoreStep, { step: 'reprovision' }>): Step<void> {
  if (step.step === 'recover-kek')
    yield* callActivity(context, REMEDIATION_ACTIVITY.recoverKek, { vaultUrl: step.vaultUrl, keyName: step.keyName });
  else if (step.step === 'recover-secret')
    yield* callActivity(context, REMEDIATION_ACTIVITY.recoverSecret, { vaultUrl: step.vaultUrl, secretName: step.secretName });
  else yield* callActivity(context, REMEDIATION_ACTIVITY.repairVault, { vaultId: step.vaultResourceId });
}

function* reprovision(
  context: OrchestrationContext,
  vmId: string,
  step: Extract<RestoreStep, { step: 'reprovision' }>,
  heal: HealSettings,
  setStatus: (s: RestorePhase) => void,
  policy: EncryptionPolicy,
): Step<'notified' | 'done' | { why: string }> {
  if (heal.action === 'notify-only') return 'notified';
  if (heal.action === 'maintenance-window' && heal.window) {
    const opens = nextWindowOpening(heal.window, context.df.currentUtcDateTime);
    if (opens.getTime() > context.df.currentUtcDateTime.getTime()) {
      setStatus({ phase: 'waiting-for-window', windowOpensAt: opens.toISOString() });
      yield context.df.createTimer(opens);
    }
  }
  // Right before stopping the VM, look again: the wait (or the recovery steps) may have taken long, and the VM may
  // have been excluded, deleted, or healed by someone else's restart in the meantime.
  const again = yield* callActivity(context, REMEDIATION_ACTIVITY.inspect, { vmId, policy });
  // A transient skip (not running, busy) is what a restart is for; a lasting one (excluded, deleting, out of scope) is not.
  const lasting =
    (again.assessment.decision === 'skip' && !SKIP_REASONS[again.assessment.reason].transient) ||
    again.assessment.decision === 'unsupported';
  if (lasting) return { why: describeAssessment(again.assessment) };
  // Healed by someone else's restart: only a running guest can say so (a deallocated VM reports no extension status).
  if (step.method === 'deallocate-start' && again.powerState === 'running' && again.state.kind !== 'bek-missing')
    return { why: `the ADE extension no longer reports the BEK missing (${again.state.kind})` };
  setStatus({ phase: 're-provisioning', detail: describeStep(step) });
  if (step.method === 'deallocate-start') yield* callActivity(context, REMEDIATION_ACTIVITY.deallocate, { vmId });
  yield* callActivity(context, REMEDIATION_ACTIVITY.start, { vmId });
  return 'done';
}
