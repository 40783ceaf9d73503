/**
 * Orchestrator `encryptAtHost` (ADE_ENCRYPTION_MODE=encryption-at-host): one VM from "written" to "encrypted at host,
 * verified from the VM model". Azure enables encryption at host only on a deallocated VM, in a subscription with the
 * `Microsoft.Compute/EncryptionAtHost` feature registered, on a size with the `EncryptionAtHostSupported` capability,
 * and never on a VM that has or ever had Azure Disk Encryption
 * (https://learn.microsoft.com/azure/virtual-machines/disks-enable-host-based-encryption-portal#restrictions).
 *
 * 1. Inspect: the assessment (scope, mode, ADE traces) and, to encrypt, the feature and size checks; any refusal ends
 *    the run with its reason.
 * 2. A deallocated VM is enabled as it is and stays deallocated. A running (or stopped) VM needs a deallocation, which
 *    follows ADE_HEAL_ACTION as restoreBek does: `restart` now, `maintenance-window` at the next window opening,
 *    `notify-only` publishes ActionRequired and changes nothing.
 * 3. Deallocate, enable, start again (only a VM that was running), verify `securityProfile.encryptionAtHost`. When
 *    enabling fails after the deallocation, the VM is started again and the run reports the failure.
 *
 * Deterministic like every orchestrator: time from currentUtcDateTime, all I/O in activities.
 */
import type { OrchestrationContext } from 'durable-functions';
import { parseEncryptionPolicy, type EncryptionPolicy } from '../core/policy';
import { nextWindowOpening } from '../core/remediation/maintenance-window';
import { OUTCOME_EVENT_TYPES, type OutcomeEventType } from '../core/remediation/outcomes';
import {
  EAH_ACTIVITY,
  ENCRYPT_AT_HOST_ORCHESTRATOR,
  REMEDIATION_ACTIVITY,
  type EncryptAtHostInput,
  type EncryptAtHostInspection,
  type EncryptAtHostOutput,
  type EncryptAtHostStatus,
} from './contracts';
import { callActivity, inputOf, publishOutcome, setStatus as setCustomStatus, StepFailure, type Step } from './steps';

const RUNNING = new Set(['running', 'starting']);

export function* encryptAtHostOrchestrator(context: OrchestrationContext): Step<EncryptAtHostOutput> {
  const input = inputOf<EncryptAtHostInput>(context);
  const result = yield* encryptAtHostSteps(context, input);
  const eventType = outcomeEventType(result.outcome);
  if (input.publishOutcome !== true || !eventType || result.vmId === '') return result;
  const published = yield* publishOutcome(context, 'encryptAtHost', eventType, {
    vmId: result.vmId,
    action: 'encrypt-at-host',
    reason: result.reason,
    steps: result.steps,
    ...(result.outcome === 'action-required' ? { operatorAction: operatorActionOf(result.reason) } : {}),
  });
  return { ...result, outcomeEvent: { eventType, published } };
}

function outcomeEventType(outcome: EncryptAtHostOutput['outcome']): OutcomeEventType | undefined {
  if (outcome === 'encrypted') return OUTCOME_EVENT_TYPES.vmEncrypted;
  if (outcome === 'failed') return OUTCOME_EVENT_TYPES.encryptionFailed;
  if (outcome === 'action-required') return OUTCOME_EVENT_TYPES.actionRequired;
  return undefined;
}

function operatorActionOf(reason: string): string {
  if (/feature/i.test(reason))
    return 'register the feature (az feature register --namespace Microsoft.Compute --name EncryptionAtHost), then POST /api/vms/encrypt';
  if (/size/i.test(reason)) return 'resize the VM to a size that supports encryption at host, then POST /api/vms/encrypt';
  return 'deallocate the VM (or let a maintenance window do it), then POST /api/vms/encrypt';
}

function* encryptAtHostSteps(context: OrchestrationContext, input: Partial<EncryptAtHostInput>): Step<EncryptAtHostOutput> {
  const vmId = typeof input.vmId === 'string' ? input.vmId : '';
  const steps: string[] = [];
  const setStatus = (status: Omit<EncryptAtHostStatus, 'orchestration' | 'vmId'>): void =>
    setCustomStatus(context, { orchestration: ENCRYPT_AT_HOST_ORCHESTRATOR, vmId, ...status });
  const end = (outcome: EncryptAtHostOutput['outcome'], reason: string, extra: Partial<EncryptAtHostOutput> = {}): EncryptAtHostOutput => {
    setStatus({ phase: outcome === 'failed' ? 'failed' : 'done', detail: reason });
    return { vmId, outcome, reason, steps, ...extra };
  };

  let policy: EncryptionPolicy;
  try {
    if (vmId === '') throw new Error('input.vmId is missing');
    policy = parseEncryptionPolicy(input.policy, 'input.policy');
  } catch (error) {
    return end('failed', `Invalid orchestration input: ${(error as Error).message}`);
  }

  setStatus({ phase: 'inspecting' });
  let inspected: EncryptAtHostInspection;
  try {
    inspected = yield* callActivity(context, EAH_ACTIVITY.inspect, { vmId, policy, ...(input.heal ? { heal: input.heal } : {}) });
  } catch (error) {
    return end('failed', (error as StepFailure).reason ?? String(error));
  }
  const refusal = refusalOf(inspected);
  if (refusal) return end(refusal.outcome, refusal.reason);

  const heal = inspected.heal;
  const { powerState } = inspected.vm;
  const deallocated = powerState === 'deallocated';
  const plan = deallocated
    ? 'enable encryption at host on the deallocated VM (it stays deallocated)'
    : `deallocate the VM (${heal.action === 'maintenance-window' ? 'in the maintenance window' : 'now'}), enable encryption at host` +
      `${RUNNING.has(powerState) ? ', start it again' : ''}`;
  if (policy.dryRun) return end('skipped', `Dry run (ADE_DRY_RUN): would ${plan}`, { wouldDo: plan });

  if (!deallocated && heal.action === 'notify-only') {
    return end(
      'action-required',
      `Encryption at host needs the VM deallocated (power state ${powerState}); ADE_HEAL_ACTION=notify-only changes nothing`,
      { powerState },
    );
  }
  if (!deallocated && heal.action === 'maintenance-window' && heal.window) {
    const opens = nextWindowOpening(heal.window, context.df.currentUtcDateTime);
    if (opens.getTime() > context.df.currentUtcDateTime.getTime()) {
      setStatus({ phase: 'waiting-for-window', windowOpensAt: opens.toISOString() });
      yield context.df.createTimer(opens);
      steps.push(`waited for the maintenance window (${opens.toISOString()})`);
      // The VM may have changed while the run waited: decide again.
      try {
        inspected = yield* callActivity(context, EAH_ACTIVITY.inspect, { vmId, policy, heal });
      } catch (error) {
        return end('failed', (error as StepFailure).reason ?? String(error), { steps });
      }
      const again = refusalOf(inspected);
      if (again) return end(again.outcome, again.reason);
    }
  }

  const wasRunning = RUNNING.has(inspected.vm.powerState);
  let deallocatedByUs = false;
  try {
    if (inspected.vm.powerState !== 'deallocated') {
      setStatus({ phase: 'deallocating' });
      yield* callActivity(context, REMEDIATION_ACTIVITY.deallocate, { vmId });
      deallocatedByUs = true;
      steps.push('deallocated');
    }
    setStatus({ phase: 'enabling' });
    yield* callActivity(context, EAH_ACTIVITY.enable, { vmId });
    steps.push('enabled securityProfile.encryptionAtHost');
  } catch (error) {
    const reason = error instanceof StepFailure ? error.reason : String(error);
    // Roll back what this run changed: a VM it deallocated runs again (without encryption at host).
    if (deallocatedByUs && wasRunning) {
      try {
        yield* callActivity(context, REMEDIATION_ACTIVITY.start, { vmId });
        steps.push('started again (rolled back)');
        return end('failed', `${reason}; the VM was started again without encryption at host`, { powerState: 'running' });
      } catch (startError) {
        const why = startError instanceof StepFailure ? startError.reason : String(startError);
        return end('failed', `${reason}; starting the VM again failed too (${why}): it is deallocated`, { powerState: 'deallocated' });
      }
    }
    return end('failed', reason);
  }
  if (deallocatedByUs && wasRunning) {
    setStatus({ phase: 'starting' });
    try {
      yield* callActivity(context, REMEDIATION_ACTIVITY.start, { vmId });
      steps.push('started');
    } catch (error) {
      return end('failed', `encryption at host is enabled, but starting the VM failed: ${(error as StepFailure).reason ?? String(error)}`, {
        powerState: 'deallocated',
      });
    }
  }
  setStatus({ phase: 'verifying' });
  try {
    const state = yield* callActivity(context, EAH_ACTIVITY.read, { vmId });
    if (!state.encryptionAtHost)
      return end('failed', 'the VM model does not show securityProfile.encryptionAtHost=true after enabling it', {
        powerState: state.powerState,
      });
    steps.push('verified securityProfile.encryptionAtHost=true');
    return end('encrypted', `encrypted at host (verified from the VM model; power state ${state.powerState})`, {
      powerState: state.powerState,
    });
  } catch (error) {
    return end('failed', `verification failed: ${(error as StepFailure).reason ?? String(error)}`);
  }
}

/** Why the run stops before changing anything: not to be encrypted, already encrypted, or Azure would refuse. */
function refusalOf(inspected: EncryptAtHostInspection): { outcome: EncryptAtHostOutput['outcome']; reason: string } | undefined {
  const { assessment, summary, readiness } = inspected;
  if (assessment.decision === 'already-encrypted') return { outcome: 'already-encrypted', reason: summary };
  if (assessment.decision !== 'encrypt') return { outcome: 'skipped', reason: summary };
  if (assessment.mode !== 'encryption-at-host')
    return { outcome: 'skipped', reason: `${summary} (ADE_ENCRYPTION_MODE is ${assessment.mode}: the encryptVm orchestration does this)` };
  if (readiness && readiness.featureState !== 'Registered')
    return {
      outcome: 'action-required',
      reason: `the subscription's Microsoft.Compute/EncryptionAtHost feature is ${readiness.featureState}, not Registered`,
    };
  if (readiness?.sizeSupported === false)
    return { outcome: 'action-required', reason: `the VM size ${inspected.vm.vmSize} does not support encryption at host` };
  if (readiness && readiness.sizeSupported === undefined)
    return {
      outcome: 'action-required',
      reason:
        `the VM size ${inspected.vm.vmSize} is not listed in ${inspected.vm.location}'s resource SKUs, so its support for ` +
        'encryption at host is unknown',
    };
  return undefined;
}
