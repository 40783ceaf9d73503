/**
 * The remediation decision: from Azure's current state, exactly one of encrypt, restore, redeploy
 * the extension, repair the vault, or nothing — always with the reason. Pure.
 *
 * Precedence (most urgent first): out of scope or unsupported → nothing; the guest reports its BEK
 * missing or a BEK secret is not usable → restore (the VM will not unlock at its next start); a
 * managed vault drifted → repair it (it blocks the platform from reading keys); encrypted disks but
 * no ADE extension → redeploy it; dual-pass encrypted in the guest without model settings → re-apply them; not
 * encrypted → encrypt, unless an encryption is already running. In encryption-at-host mode a VM on ADE is never
 * encrypted again, but its keys and vaults are still restored and repaired.
 */
import { describeAssessment, type Assessment } from '../eligibility';
import type { EncryptionState } from '../encryption-state';
import type { SecretFinding } from './restore';
import type { VaultDriftIssue } from './vault-drift';

export type RemediationAction = 'encrypt' | 'restore' | 'redeploy-extension' | 'apply-model-settings' | 'repair-vault' | 'nothing';

export interface RemediationInput {
  assessment: Assessment;
  /** Kind of the interpreted encryption state (and its message, for bek-missing / failed). */
  state: Pick<EncryptionState, 'kind'> & { message?: string };
  hasAdeExtension: boolean;
  /** Secret checks, when the VM references BEK secrets (encrypted VMs). */
  secrets?: SecretFinding[];
  /** Drift of the vaults holding the VM's secrets. */
  vaultDrift?: VaultDriftIssue[];
}

export interface RemediationDecision {
  action: RemediationAction;
  reason: string;
}

export function decideRemediation(input: RemediationInput): RemediationDecision {
  const { assessment, state } = input;
  // ADE_ENCRYPTION_MODE=encryption-at-host refuses to encrypt a VM on ADE, but its ADE keys are still kept usable
  // (restore, vault repair) until it is migrated: it must keep booting.
  const adeUnderHostMode = assessment.decision === 'unsupported' && assessment.reason === 'ade-encrypted';
  if ((assessment.decision === 'skip' || assessment.decision === 'unsupported') && !adeUnderHostMode) {
    return { action: 'nothing', reason: describeAssessment(assessment) };
  }
  if (state.kind === 'bek-missing') {
    return { action: 'restore', reason: `the ADE extension reports the BEK missing: ${state.message ?? ''}`.trim() };
  }
  const unusable = (input.secrets ?? []).filter((s) => s.secret !== 'present' || (s.kek !== undefined && s.kek !== 'present'));
  if (unusable.length > 0) {
    const first = unusable[0];
    const what =
      first.secret !== 'present'
        ? `BEK secret ${first.ref.secretName} in ${first.ref.vaultName} is ${first.secret}`
        : `KEK ${first.ref.keyUrl ?? ''} is ${first.kek ?? ''}`;
    return { action: 'restore', reason: `${what}${unusable.length > 1 ? ` (and ${unusable.length - 1} more)` : ''}` };
  }
  const drift = (input.vaultDrift ?? []).filter((d) => d.repairable);
  if (drift.length > 0) return { action: 'repair-vault', reason: drift.map((d) => d.detail).join('; ') };
  if (adeUnderHostMode) return { action: 'nothing', reason: `${describeAssessment(assessment)} Its ADE keys are healthy.` };
  if (assessment.decision === 'already-encrypted' && assessment.mode === 'encryption-at-host') {
    return { action: 'nothing', reason: 'already encrypted at host (securityProfile.encryptionAtHost)' };
  }
  if (assessment.decision === 'already-encrypted') {
    if (!input.hasAdeExtension) {
      return {
        action: 'redeploy-extension',
        reason: `the disks are ADE-encrypted (${assessment.evidence}) but the ADE extension was removed`,
      };
    }
    if (assessment.modelSettingsMissing) {
      return {
        action: 'apply-model-settings',
        reason: `the disks are dual-pass ADE-encrypted (${assessment.evidence}) but the VM model has no encryptionSettings`,
      };
    }
    const unrepairable = (input.vaultDrift ?? []).filter((d) => !d.repairable);
    if (unrepairable.length > 0)
      return { action: 'nothing', reason: `encrypted; needs an operator: ${unrepairable.map((d) => d.detail).join('; ')}` };
    return { action: 'nothing', reason: `already encrypted and healthy (${assessment.mode}; evidence: ${assessment.evidence})` };
  }
  // assessment.decision === 'encrypt'
  if (state.kind === 'in-progress') return { action: 'nothing', reason: 'an ADE encryption is already in progress on the VM' };
  return { action: 'encrypt', reason: `not encrypted (${state.kind}): ${describeAssessment(assessment)}` };
}
