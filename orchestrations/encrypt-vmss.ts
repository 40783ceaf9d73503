/**
 * Orchestrator `encryptVmss`: ADE on one Uniform scale set, from "written" to "every instance verified encrypted".
 *
 *  1. inspect: the app's policy judges the set through its model (core/eligibility.ts assessScaleSet: Flexible sets,
 *     unmanaged disks, dual-pass models and out-of-scope or excluded sets are skipped with the reason);
 *  2. the dedicated vault through the `vault` entity's lease (vault-ready.ts, the protocol encryptVm uses);
 *  3. the single-pass ADE extension on the scale set's model;
 *  4. timer-driven checks of every instance (core/scale-set.ts): under a Manual upgrade policy stale instances are
 *     brought to the model as ADE_HEAL_ACTION says (`restart`: the run asks Azure now, updateInstances;
 *     `maintenance-window`: when the window opens; `notify-only`: the run ends ActionRequired with the operator's next
 *     step); Automatic and Rolling sets upgrade themselves; bounded by the run's deadline
 *     (ADE_ORCHESTRATION_TIMEOUT_MINUTES). A run whose model already carries ADE (the backfill sweep starts one for
 *     every Manual set in that state) skips straight to step 4.
 * Ends like encryptVm: VmEncrypted / EncryptionFailed / ActionRequired with the scale set's id when publishOutcome is set;
 * like encryptVm, Resource Manager refusing the vault group in the set's subscription (its roles missing there, 403
 * AuthorizationFailed) ends the run action-required with the grant as the next step, the model unchanged.
 * Deterministic: no I/O, no Date.now, no environment; the SequenceVersion comes from newGuid.
 * https://learn.microsoft.com/azure/virtual-machine-scale-sets/disk-encryption-overview
 */
import type { OrchestrationContext } from 'durable-functions';
import { buildAdeExtension } from '../core/extension-settings';
import { vaultNamesFor } from '../core/names';
import { parseEncryptionPolicy, type EncryptionPolicy } from '../core/policy';
import { nextWindowOpening } from '../core/remediation/maintenance-window';
import { OUTCOME_EVENT_TYPES } from '../core/remediation/outcomes';
import {
  ENCRYPT_VMSS_ORCHESTRATOR,
  SCALE_SET_ACTIVITY,
  type EncryptVmssInput,
  type EncryptVmssOutput,
  type EncryptVmssStatus,
  type ScaleSetProgressResult,
} from './scale-set-contracts';
import { callActivity, inputOf, publishOutcome, StepFailure, type ActivityArgs, type ActivityName, type Step } from './steps';
import { ensureVault, VaultRolesMissing } from './vault-ready';

/** First instance check after the model update, and the longest interval checks back off to. */
const FIRST_CHECK_MS = 5_000;
const MAX_CHECK_MS = 10 * 60_000;

export function* encryptVmssOrchestrator(context: OrchestrationContext): Step<EncryptVmssOutput> {
  const input = inputOf<EncryptVmssInput>(context);
  const result = yield* encryptVmssSteps(context);
  const eventType =
    input.publishOutcome === true && result.scaleSetId !== ''
      ? result.outcome === 'encrypted'
        ? OUTCOME_EVENT_TYPES.vmEncrypted
        : result.outcome === 'failed'
          ? OUTCOME_EVENT_TYPES.encryptionFailed
          : result.outcome === 'action-required'
            ? OUTCOME_EVENT_TYPES.actionRequired
            : undefined
      : undefined;
  if (!eventType) return result;
  const reason = result.reason ?? `scale set encrypted and verified on ${Object.keys(result.instances ?? {}).length} instance(s)`;
  const published = yield* publishOutcome(context, ENCRYPT_VMSS_ORCHESTRATOR, eventType, {
    vmId: result.scaleSetId,
    action: 'encrypt',
    reason,
    ...(result.operatorAction ? { operatorAction: result.operatorAction } : {}),
  });
  return { ...result, outcomeEvent: { eventType, published } };
}

function* encryptVmssSteps(context: OrchestrationContext): Step<EncryptVmssOutput> {
  const input = inputOf<EncryptVmssInput>(context);
  const scaleSetId = typeof input.scaleSetId === 'string' ? input.scaleSetId : '';
  let status: EncryptVmssStatus = { orchestration: ENCRYPT_VMSS_ORCHESTRATOR, phase: 'inspecting', scaleSetId };
  const setStatus = (next: Partial<EncryptVmssStatus>): void => {
    status = { ...status, ...next };
    context.df.setCustomStatus(status);
  };
  const now = (): number => context.df.currentUtcDateTime.getTime();
  const call = <N extends ActivityName>(name: N, ...args: ActivityArgs<N>) => callActivity(context, name, ...args);

  let policy: EncryptionPolicy;
  try {
    if (scaleSetId === '') throw new Error('input.scaleSetId is missing');
    policy = parseEncryptionPolicy(input.policy, 'input.policy');
  } catch (error) {
    setStatus({ phase: 'failed', detail: 'invalid input' });
    return { scaleSetId, outcome: 'failed', reason: `Invalid orchestration input: ${(error as Error).message}` };
  }
  const output: EncryptVmssOutput = { scaleSetId, outcome: 'failed' };
  const startedAt = now();
  try {
    setStatus({ phase: 'inspecting' });
    const inspected = yield* call(SCALE_SET_ACTIVITY.inspect, { scaleSetId });
    // From here on the run follows the app's own configuration, never its input.
    policy = inspected.policy;
    let deadline = startedAt + policy.timeouts.orchestrationTimeoutMinutes * 60_000;
    const { set, assessment } = inspected;
    output.osType = set.osType;
    if (assessment.decision === 'skip' || assessment.decision === 'unsupported') {
      setStatus({ phase: 'done', detail: inspected.summary });
      return { ...output, outcome: 'skipped', reason: inspected.summary };
    }
    if (inspected.alreadyEncrypted) {
      setStatus({ phase: 'done', detail: 'ADE is on the model and every instance reports encrypted' });
      return { ...output, outcome: 'already-encrypted', reason: 'ADE is on the model and every instance reports encrypted' };
    }
    if (policy.dryRun) {
      setStatus({ phase: 'done', detail: `dry run: ${inspected.summary}` });
      return { ...output, outcome: 'skipped', reason: `Dry run (ADE_DRY_RUN): would ${inspected.summary} (scale set model)` };
    }

    if (assessment.decision === 'encrypt') yield* putExtension();
    else setStatus({ detail: 'ADE is on the model; bringing instances to it' });

    setStatus({ phase: 'verifying', checks: 0 });
    const upgraded = new Set<string>();
    let wait = FIRST_CHECK_MS;
    for (let checks = 1; ; checks++) {
      yield context.df.createTimer(new Date(Math.min(now() + wait, deadline)));
      wait = Math.min(wait * 2, MAX_CHECK_MS);
      const progress: ScaleSetProgressResult = yield* call(SCALE_SET_ACTIVITY.progress, { scaleSetId: set.id });
      output.instances = progress.byInstance;
      setStatus({ checks, instances: progress.byInstance, detail: summary(progress) });
      if (progress.failed.length > 0)
        throw new StepFailure(
          `The ADE extension failed on ${progress.failed.length} instance(s): ` +
            progress.failed.map((f) => `${f.instanceId}: ${f.message}`).join('; '),
        );
      if (progress.done) break;
      const pending = progress.stale.filter((id) => !upgraded.has(id));
      if (progress.upgradeMode === 'Manual' && progress.provisioningState.toLowerCase() === 'succeeded' && pending.length > 0) {
        // Manual: the operator chose when instances take the model; ADE_HEAL_ACTION says whether the app may.
        if (inspected.heal.action === 'notify-only') {
          const operatorAction =
            `bring the instances to the model (az vmss update-instances -g ${set.resourceGroup} -n ${set.name} ` +
            `--instance-ids ${pending.join(' ')}); the next backfill sweep verifies them`;
          setStatus({ phase: 'done', detail: `action required: ${operatorAction}` });
          return {
            ...output,
            outcome: 'action-required',
            reason:
              `${pending.length} instance(s) not on the latest model (upgrade policy Manual) and ADE_HEAL_ACTION=notify-only ` +
              `upgrades nothing: ${summary(progress)}`,
            operatorAction,
          };
        }
        if (inspected.heal.action === 'maintenance-window' && inspected.heal.window) {
          const opens = nextWindowOpening(inspected.heal.window, context.df.currentUtcDateTime);
          if (opens.getTime() > now()) {
            setStatus({ phase: 'waiting-for-window', detail: `instance upgrade waits for the window (${opens.toISOString()})` });
            yield context.df.createTimer(opens);
            // The verification deadline counts from the window's opening.
            deadline = opens.getTime() + policy.timeouts.orchestrationTimeoutMinutes * 60_000;
            wait = FIRST_CHECK_MS;
            continue; // look at the instances again before upgrading them
          }
        }
        setStatus({ phase: 'upgrading-instances' });
        const asked = yield* call(SCALE_SET_ACTIVITY.updateInstances, { scaleSetId: set.id, instanceIds: pending });
        for (const id of asked.requested) upgraded.add(id);
        output.upgraded = [...upgraded];
        setStatus({ phase: 'verifying' });
        wait = FIRST_CHECK_MS;
      }
      if (now() >= deadline)
        throw new StepFailure(`Timed out after ${policy.timeouts.orchestrationTimeoutMinutes} min: ${summary(progress)}`);
    }
    output.outcome = 'encrypted';
    setStatus({ phase: 'done', detail: 'encrypted and verified on every instance' });
    return output;

    /** The vault (lease flow) and the single-pass extension on the model. */
    function* putExtension(): Step<void> {
      if (assessment.decision !== 'encrypt') return;
      const names = vaultNamesFor(policy.vault, set);
      setStatus({ phase: 'preparing-vault', vaultName: names[0] });
      const ready = yield* ensureVault(context, policy, names, set, {
        mode: 'single-pass',
        deadline,
        onWait: (detail) => setStatus({ detail }),
        targetKind: 'scale set',
      });
      output.vaultName = ready.vault.name;
      setStatus({ phase: 'deploying-extension', vaultName: ready.vault.name });
      const extension = buildAdeExtension({
        os: set.osType,
        mode: 'single-pass',
        vault: { url: ready.vault.url, resourceId: ready.vault.id },
        ...(ready.kekUrl ? { kek: { url: ready.kekUrl, vaultResourceId: ready.vault.id, algorithm: policy.kek.algorithm } } : {}),
        volumeType: policy.volumeType,
        sequenceVersion: context.df.newGuid(`${scaleSetId}|sequence`),
        ...(assessment.existingExtension ? { existingName: assessment.existingExtension.name } : {}),
      });
      yield* call(SCALE_SET_ACTIVITY.deployExtension, { scaleSetId: set.id, extension });
    }
  } catch (error) {
    if (error instanceof VaultRolesMissing) {
      // Before the model PUT: the model is unchanged and the vault's lease released (vault-ready.ts); a vault created before
      // a refused event subscription stays for the next run.
      setStatus({ phase: 'done', detail: `action required: ${error.operatorAction}` });
      return { ...output, outcome: 'action-required', reason: error.reason, operatorAction: error.operatorAction };
    }
    output.outcome = 'failed';
    output.reason =
      error instanceof StepFailure ? error.reason : `Unexpected error: ${error instanceof Error ? error.message : String(error)}`;
    setStatus({ phase: 'failed', detail: output.reason });
    return output;
  }
}

function summary(progress: ScaleSetProgressResult): string {
  const counts: Record<string, number> = {};
  for (const verdict of Object.values(progress.byInstance)) counts[verdict] = (counts[verdict] ?? 0) + 1;
  const parts = Object.entries(counts).map(([verdict, n]) => `${n} ${verdict}`);
  return parts.length > 0 ? `instances: ${parts.join(', ')}` : 'no instances';
}
