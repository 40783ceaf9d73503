/**
 * Names and plain-JSON shapes of the `encryptVmss` orchestration (ADE on a Uniform scale set's model, instances brought
 * to it, verified per instance). Nothing here does I/O or holds a secret: every value ends up in durable history.
 */
import type { Assessment } from '../core/eligibility';
import type { EncryptionPolicy } from '../core/policy';
import type { MaintenanceWindow } from '../core/remediation/maintenance-window';
import type { HealAction } from '../core/remediation/settings';
import type { InstanceVerdict } from '../core/scale-set';
import type { OsType, ScaleSetUpgradeMode } from '../core/vm';

export const ENCRYPT_VMSS_ORCHESTRATOR = 'encryptVmss';

export const SCALE_SET_ACTIVITY = {
  inspect: 'scaleSetInspect',
  deployExtension: 'scaleSetDeployExtension',
  progress: 'scaleSetProgress',
  updateInstances: 'scaleSetUpdateInstances',
  sweep: 'scaleSetSweep',
} as const;

export interface EncryptVmssInput {
  scaleSetId: string;
  /** Only for validating the start; the run follows the policy scaleSetInspect returns (the app's own). */
  policy: EncryptionPolicy;
  /** Publish VmEncrypted / EncryptionFailed (with the scale set's id) when the run ends. */
  publishOutcome?: boolean;
}

/** What the run needs to know about the scale set (small, no secrets). */
export interface ScaleSetFacts {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  osType: OsType;
  orchestrationMode: 'Uniform' | 'Flexible';
  upgradeMode: ScaleSetUpgradeMode;
  capacity: number;
}

export interface ScaleSetInspectResult {
  set: ScaleSetFacts;
  assessment: Assessment;
  summary: string;
  /** The app's own policy as it applies to this set (Linux: `All` is the data volumes): the run follows it, never its input. */
  policy: EncryptionPolicy;
  /**
   * ADE is on the model and every instance reports its volumes encrypted. False with an `already-encrypted` assessment:
   * the model is done but instances are not (a Manual set not yet upgraded); the run then upgrades and verifies them.
   */
  alreadyEncrypted: boolean;
  /**
   * How stale instances of a Manual set are brought to the model: the app's ADE_HEAL_ACTION (`restart`: upgrade now;
   * `maintenance-window`: upgrade when the window opens; `notify-only`: upgrade nothing, end ActionRequired).
   */
  heal: { action: HealAction; window?: MaintenanceWindow };
}

export interface ScaleSetProgressResult {
  done: boolean;
  byInstance: Record<string, InstanceVerdict>;
  stale: string[];
  failed: Array<{ instanceId: string; message: string }>;
  /** The set's provisioning state (an instance upgrade is asked for only once the model update succeeded). */
  provisioningState: string;
  upgradeMode: ScaleSetUpgradeMode;
}

export interface EncryptVmssOutput {
  scaleSetId: string;
  outcome: 'encrypted' | 'skipped' | 'already-encrypted' | 'action-required' | 'failed';
  reason?: string;
  osType?: OsType;
  vaultName?: string;
  /** Each instance's last verdict. */
  instances?: Record<string, InstanceVerdict>;
  /** Instances this run asked to upgrade (Manual upgrade policy). */
  upgraded?: string[];
  /** With `action-required`: what the operator does next. */
  operatorAction?: string;
  outcomeEvent?: { eventType: string; published: boolean };
}

export interface EncryptVmssStatus {
  orchestration: typeof ENCRYPT_VMSS_ORCHESTRATOR;
  phase:
    | 'inspecting'
    | 'preparing-vault'
    | 'deploying-extension'
    | 'waiting-for-window'
    | 'upgrading-instances'
    | 'verifying'
    | 'done'
    | 'failed';
  scaleSetId: string;
  vaultName?: string;
  detail?: string;
  checks?: number;
  instances?: Record<string, InstanceVerdict>;
}

/** What the backfill sweep did with the scale sets in scope (one Resource Graph listing, no ARM reads). */
export interface ScaleSetSweepResult {
  assessed: number;
  byDecision: Record<string, number>;
  /** encryptVmss runs started (none in a dry run). */
  started: number;
  /**
   * Of those, runs for Uniform sets under a Manual upgrade policy whose model already carries ADE: the sweep cannot see
   * their instances (Resource Graph lists models), so a run checks them and brings stale ones to the model.
   */
  manualChecks: number;
}
