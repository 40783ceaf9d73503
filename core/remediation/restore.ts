/**
 * BEK restore planning (docs/ade-behaviour.md#a-missing-bek). Pure: what the vault checks found in, an ordered
 * list of steps (or the reason nothing can be done) out.
 *
 * Re-provisioning follows Microsoft's documented repair for both OSes and both modes: stop
 * (deallocate) and start the VM, which makes the platform attach the BEK volume from Key Vault again
 * (see the same page). Re-running the extension with a new SequenceVersion is not a repair:
 * the Linux extension does not rewrite a missing secret or passphrase file on a same-configuration
 * re-run (docs/ade-behaviour.md#re-running-the-extension), and Windows re-run behaviour is undocumented.
 */
import type { PowerState } from '../vm';
import type { BekSecretRef } from './bek';
import type { HealAction } from './settings';

export type SecretCheck = 'present' | 'disabled' | 'soft-deleted' | 'purged';
export type KeyCheck = 'present' | 'disabled' | 'soft-deleted' | 'purged';

export interface SecretFinding {
  ref: BekSecretRef;
  secret: SecretCheck;
  /** Present only when the ref has a KEK. */
  kek?: KeyCheck;
  /** When soft-deleted: the date Key Vault purges it for good. */
  scheduledPurgeDate?: string;
}

export interface VaultFinding {
  vaultName: string;
  vaultResourceId?: string;
  exists: boolean;
  enabledForDiskEncryption?: boolean;
}

export interface RestoreInput {
  findings: SecretFinding[];
  vaults: VaultFinding[];
  /** The guest reports its BEK missing (extension status), so the key material must be re-provisioned. */
  bekMissing: boolean;
  powerState: PowerState;
  healAction: HealAction;
}

export interface UnrecoverableProblem {
  secretName: string;
  vaultName: string;
  secretUrl: string;
  what: string;
  operatorAction: string;
}

export type RestoreStep =
  | { step: 'recover-kek'; vaultUrl: string; keyName: string }
  | { step: 'recover-secret'; vaultUrl: string; secretName: string }
  | { step: 'repair-vault'; vaultName: string; vaultResourceId: string; why: string }
  | { step: 'reprovision'; method: 'deallocate-start' | 'start'; gate: HealAction };

export type RestorePlan =
  | { kind: 'restore'; steps: RestoreStep[]; summary: string }
  | { kind: 'unrecoverable'; problems: UnrecoverableProblem[]; summary: string }
  | { kind: 'nothing'; reason: string };

function kekName(keyUrl: string): { vaultUrl: string; keyName: string } | undefined {
  const m = /^(https:\/\/[^/]+)\/keys\/([^/]+)/i.exec(keyUrl);
  return m ? { vaultUrl: m[1].toLowerCase(), keyName: m[2] } : undefined;
}

export function planBekRestore(input: RestoreInput): RestorePlan {
  const problems: UnrecoverableProblem[] = [];
  for (const vault of input.vaults) {
    if (vault.exists) continue;
    for (const f of input.findings.filter((x) => x.ref.vaultName === vault.vaultName)) {
      problems.push({
        secretName: f.ref.secretName,
        vaultName: vault.vaultName,
        secretUrl: f.ref.secretUrl,
        what:
          `the Key Vault ${vault.vaultName} holding the BEK secret no longer exists (deleted and not recoverable by this app, or ` +
          `purged)`,
        operatorAction:
          `recover the vault (az keyvault recover --name ${vault.vaultName}) if it is soft-deleted; otherwise restore the ` +
          `secret from Azure Backup into a vault the VM can use (Restore-AzKeyVaultSecret), then run POST /api/vms/heal for the VM`,
      });
    }
  }
  for (const f of input.findings) {
    if (problems.some((p) => p.secretUrl === f.ref.secretUrl)) continue;
    if (f.secret === 'purged') {
      problems.push({
        secretName: f.ref.secretName,
        vaultName: f.ref.vaultName,
        secretUrl: f.ref.secretUrl,
        what:
          `the BEK secret ${f.ref.secretName} was deleted and purged from vault ${f.ref.vaultName}; the VM will not unlock its ` +
          `disks at the next start`,
        operatorAction:
          `do not stop or restart the VM; restore the secret from Azure Backup with the same name ` +
          `(Restore-AzKeyVaultSecret, or for a wrapped BEK restore the KEK with Restore-AzKeyVaultKey and recreate the secret with ` +
          `content type "Wrapped BEK" and its ADE tags), then run POST /api/vms/heal for the VM`,
      });
    } else if (f.secret === 'disabled') {
      problems.push({
        secretName: f.ref.secretName,
        vaultName: f.ref.vaultName,
        secretUrl: f.ref.secretUrl,
        what:
          `the BEK secret version ${f.ref.secretName}/${f.ref.secretVersion ?? ''} in vault ${f.ref.vaultName} is disabled; the ` +
          `platform cannot read it`,
        operatorAction:
          `re-enable that secret version (az keyvault secret set-attributes --enabled true --vault-name ` +
          `${f.ref.vaultName} --name ${f.ref.secretName} --version ${f.ref.secretVersion ?? '<version>'}); this app never holds ` +
          `secrets/set`,
      });
    } else if (f.kek === 'purged' || f.kek === 'disabled') {
      problems.push({
        secretName: f.ref.secretName,
        vaultName: f.ref.vaultName,
        secretUrl: f.ref.secretUrl,
        what:
          f.kek === 'purged'
            ? `the key encryption key ${f.ref.keyUrl ?? ''} that wraps the BEK was purged`
            : `the key encryption key ${f.ref.keyUrl ?? ''} that wraps the BEK is disabled`,
        operatorAction:
          f.kek === 'purged'
            ? 'restore the KEK from backup (Restore-AzKeyVaultKey) into the same vault, then run POST /api/vms/heal for the VM'
            : 'enable the key (az keyvault key set-attributes --enabled true), then run POST /api/vms/heal for the VM',
      });
    }
  }
  if (problems.length > 0) {
    return { kind: 'unrecoverable', problems, summary: problems.map((p) => p.what).join('; ') };
  }

  const steps: RestoreStep[] = [];
  // KEK before the secret: a recovered wrapped BEK is useless until its KEK is back.
  const keysDone = new Set<string>();
  for (const f of input.findings) {
    if (f.kek !== 'soft-deleted' || !f.ref.keyUrl) continue;
    const key = kekName(f.ref.keyUrl);
    if (!key || keysDone.has(`${key.vaultUrl}|${key.keyName.toLowerCase()}`)) continue;
    keysDone.add(`${key.vaultUrl}|${key.keyName.toLowerCase()}`);
    steps.push({ step: 'recover-kek', ...key });
  }
  for (const f of input.findings) {
    if (f.secret === 'soft-deleted') steps.push({ step: 'recover-secret', vaultUrl: f.ref.vaultUrl, secretName: f.ref.secretName });
  }
  for (const vault of input.vaults) {
    if (vault.enabledForDiskEncryption === false && vault.vaultResourceId) {
      steps.push({
        step: 'repair-vault',
        vaultName: vault.vaultName,
        vaultResourceId: vault.vaultResourceId,
        why: 'enabledForDiskEncryption is off, so the platform cannot read the BEK at start',
      });
    }
  }
  if (input.bekMissing)
    steps.push({ step: 'reprovision', method: input.powerState === 'deallocated' ? 'start' : 'deallocate-start', gate: input.healAction });
  if (steps.length === 0) {
    return {
      kind: 'nothing',
      reason:
        input.findings.length === 0
          ? 'the VM references no BEK secret'
          : 'every BEK secret is present and enabled, the vaults allow disk encryption, and the guest reports no missing BEK',
    };
  }
  return { kind: 'restore', steps, summary: steps.map(describeStep).join('; ') };
}

export function describeStep(step: RestoreStep): string {
  switch (step.step) {
    case 'recover-kek':
      return `recover the soft-deleted KEK ${step.keyName} in ${step.vaultUrl}`;
    case 'recover-secret':
      return `recover the soft-deleted BEK secret ${step.secretName} in ${step.vaultUrl}`;
    case 'repair-vault':
      return `turn enabledForDiskEncryption back on for vault ${step.vaultName}`;
    case 'reprovision':
      return (
        `${step.method === 'start' ? 'start' : 'deallocate and start'} the VM so the platform re-attaches the BEK volume from Key ` +
        `Vault (${step.gate})`
      );
  }
}
