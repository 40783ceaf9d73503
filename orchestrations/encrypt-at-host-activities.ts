/**
 * Activities of encryptAtHost, as plain async functions over the compute port (same rules as ./activities.ts:
 * idempotent, non-retryable failures as data, nothing secret in or out). Deallocate and start are the remediation
 * activities (REMEDIATION_ACTIVITY.deallocate / .start).
 */
import type { ComputePort } from '../azure/ports';
import { assessVm, describeAssessment } from '../core/eligibility';
import { parseEncryptionPolicy, type EncryptionPolicy } from '../core/policy';
import type { VmSnapshot } from '../core/vm';
import { runActivity, type ActivityLog } from './activities';
import {
  EAH_ACTIVITY,
  type ActivityResult,
  type EncryptAtHostInput,
  type EncryptAtHostInspection,
  type EncryptionAtHostState,
} from './contracts';

export interface EncryptAtHostActivityDeps {
  compute: ComputePort;
  log: ActivityLog;
  /** The app's own policy: eligibility (scope, mode) is judged against it, never against the run's input. */
  policy?: EncryptionPolicy;
  /** The app's own ADE_HEAL_ACTION / ADE_MAINTENANCE_WINDOW, which win over the run's input. */
  heal?: EncryptAtHostInspection['heal'];
}

function stateOf(vm: VmSnapshot): EncryptionAtHostState {
  return { encryptionAtHost: vm.securityProfile?.encryptionAtHost === true, powerState: vm.powerState };
}

export function createEncryptAtHostActivities(deps: EncryptAtHostActivityDeps) {
  const { compute, log } = deps;
  return {
    /**
     * Re-reads the VM (with instance view, for ADE traces on its disks) and decides; when it is to be encrypted, reads
     * the subscription's `Microsoft.Compute/EncryptionAtHost` registration and the size's capability.
     * Permissions: virtualMachines/read, Microsoft.Features/providers/features/read, Microsoft.Compute/skus/read.
     */
    [EAH_ACTIVITY.inspect]: (
      input: Pick<EncryptAtHostInput, 'vmId' | 'policy' | 'heal'>,
    ): Promise<ActivityResult<EncryptAtHostInspection>> =>
      runActivity(log, EAH_ACTIVITY.inspect, async () => {
        const policy = deps.policy ?? parseEncryptionPolicy(input.policy);
        const vm = await compute.getVm(input.vmId, { instanceView: true });
        const assessment = assessVm(vm, policy);
        const inspection: EncryptAtHostInspection = {
          vm: {
            id: vm.id,
            name: vm.name,
            subscriptionId: vm.subscriptionId,
            resourceGroup: vm.resourceGroup,
            location: vm.location,
            osType: vm.osType,
            osDiskName: vm.osDisk.name,
            vmSize: vm.vmSize,
            powerState: vm.powerState,
          },
          assessment,
          summary: describeAssessment(assessment),
          heal: deps.heal ?? input.heal ?? { action: 'notify-only' },
        };
        if (assessment.decision === 'encrypt' && assessment.mode === 'encryption-at-host') {
          const [featureState, sizeSupported] = await Promise.all([
            compute.encryptionAtHostFeatureState(vm.subscriptionId),
            compute.sizeSupportsEncryptionAtHost(vm.subscriptionId, vm.location, vm.vmSize),
          ]);
          inspection.readiness = { featureState, sizeSupported };
        }
        return inspection;
      }),

    /** Sets securityProfile.encryptionAtHost (the VM must be deallocated). Permission: virtualMachines/write. */
    [EAH_ACTIVITY.enable]: (input: { vmId: string }): Promise<ActivityResult<EncryptionAtHostState>> =>
      runActivity(log, EAH_ACTIVITY.enable, async () => {
        const current = await compute.getVm(input.vmId);
        if (current.securityProfile?.encryptionAtHost === true) return stateOf(current); // idempotent
        return stateOf(await compute.setEncryptionAtHost(input.vmId, true));
      }),

    /** The VM model's securityProfile.encryptionAtHost and power state, as Azure reports them. */
    [EAH_ACTIVITY.read]: (input: { vmId: string }): Promise<ActivityResult<EncryptionAtHostState>> =>
      runActivity(log, EAH_ACTIVITY.read, async () => stateOf(await compute.getVm(input.vmId, { instanceView: true }))),
  };
}

export type EncryptAtHostActivities = ReturnType<typeof createEncryptAtHostActivities>;
