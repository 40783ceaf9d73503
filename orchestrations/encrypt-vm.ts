/**
 * Orchestrator `encryptVm`: one VM from "written" to "verified encrypted" (steps 1–7 below).
 *
 * Deterministic: no I/O, no Date.now, no environment. Time is context.df.currentUtcDateTime, the
 * SequenceVersion comes from newGuid, and everything that touches Azure is an activity (by name;
 * see ./activities.ts). Progress is in the custom status `{ phase, vmId, ... }`. When the input's
 * `publishOutcome` is set, the run ends by publishing AdeAutopilot.VmEncrypted / .EncryptionFailed, or .ActionRequired
 * when Resource Manager refuses the vault group (its roles are granted per subscription: infra/README.md, "Management
 * groups") with the operator's next step.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { DUAL_PASS_DATA_LUNS_TAG, dualPassDataLunsTag } from '../core/eligibility';
import { buildAdeExtension, type AdeExtension } from '../core/extension-settings';
import { vaultNamesFor } from '../core/names';
import { parseEncryptionPolicy, type EncryptionPolicy } from '../core/policy';
import { OUTCOME_EVENT_TYPES, type OutcomeEventType } from '../core/remediation/outcomes';
import {
  ACTIVITY,
  ENCRYPT_VM_ORCHESTRATOR,
  ENTITY,
  OUTCOME_TAG,
  SECRET_STORED_EVENT,
  REMEDIATION_ACTIVITY,
  type EncryptVmInput,
  type EncryptVmOutput,
  type EncryptVmStatus,
  type StatusCheck,
  type VaultReady,
  type VmFacts,
} from './contracts';
import { waiterFor } from './entities';
import {
  callActivity,
  inputOf,
  publishOutcome,
  setStatus as setCustomStatus,
  StepFailure,
  type ActivityArgs,
  type ActivityName,
  type Step,
} from './steps';
import { ensureVault, VaultRolesMissing } from './vault-ready';

/** Re-check interval once the secret event arrived but Azure does not show the result yet. */
const SETTLE_MS = 30_000;
const SETTLE_CHECKS = 3;
/**
 * Polls of an encryption that is still running after the extension finished (a Linux OS volume: hours) back off from the
 * poll interval, doubling up to this cap, so a long encryption costs a few ARM reads, not one every interval.
 */
const LONG_POLL_MAX_MS = 30 * 60_000;

/** The n-th (0-based) poll interval of a long encryption: base, 2×base, 4×base, … at most LONG_POLL_MAX_MS. */
export function backoffPollMs(baseMs: number, n: number): number {
  return Math.min(Math.max(baseMs, LONG_POLL_MAX_MS), baseMs * 2 ** Math.min(n, 20));
}

/** Vault provisioning lease: how long a holder may take, and how long (at most) others wait for it. */

/** Extra life of the short-lived password beyond the secret-event wait (the guest may retry a little). */
const CREDENTIAL_MARGIN_MS = 15 * 60_000;

export function* encryptVmOrchestrator(context: OrchestrationContext): Step<EncryptVmOutput> {
  const result = yield* encryptVmSteps(context);
  return yield* withOutcomeEvent(context, result);
}

/** The outcome event a finished run publishes: successes, failures and action required (skips and dry runs say nothing). */
/**
 * A deploy failure that says the cached vault state is stale: a vault, app or KEK not found (an application deleted
 * since), or access refused. An application that exists but is not the app's own is not stale state but a forged one:
 * the run fails with the reason (see the deploy loop).
 */
function invalidatesVault(error: StepFailure): boolean {
  return error.kind === 'not-found' || error.kind === 'permission';
}

function encryptOutcomeEventType(outcome: EncryptVmOutput['outcome']): OutcomeEventType | undefined {
  if (outcome === 'encrypted') return OUTCOME_EVENT_TYPES.vmEncrypted;
  if (outcome === 'action-required') return OUTCOME_EVENT_TYPES.actionRequired;
  if (outcome === 'failed') return OUTCOME_EVENT_TYPES.encryptionFailed;
  return undefined;
}

/**
 * Publishes VmEncrypted / EncryptionFailed when the input asks for it (an outcome topic is
 * configured), through the same activity the remediation orchestrations use. A failed publish
 * never fails the run: the output records whether the event went out.
 */
function* withOutcomeEvent(context: OrchestrationContext, result: EncryptVmOutput): Step<EncryptVmOutput> {
  const input = inputOf<EncryptVmInput>(context);
  const eventType = input.publishOutcome === true && result.vmId !== '' ? encryptOutcomeEventType(result.outcome) : undefined;
  if (!eventType) return result;
  const how = [result.mode, result.vaultName && `vault ${result.vaultName}`, result.completedBy && `secret seen by ${result.completedBy}`];
  const reason = result.reason ?? `encrypted and verified (${how.filter(Boolean).join(', ')})`;
  const published = yield* publishOutcome(context, 'encryptVm', eventType, {
    vmId: result.vmId,
    action: 'encrypt',
    reason,
    ...(result.operatorAction ? { operatorAction: result.operatorAction } : {}),
  });
  return { ...result, outcomeEvent: { eventType, published } };
}

function* encryptVmSteps(context: OrchestrationContext): Step<EncryptVmOutput> {
  const input = inputOf<EncryptVmInput>(context);
  const vmId = typeof input.vmId === 'string' ? input.vmId : '';
  let status: EncryptVmStatus = { orchestration: ENCRYPT_VM_ORCHESTRATOR, phase: 'inspecting', vmId };
  const setStatus = (next: Partial<EncryptVmStatus>): void => {
    status = { ...status, ...next };
    setCustomStatus(context, status);
  };
  const now = (): number => context.df.currentUtcDateTime.getTime();
  const call = <N extends ActivityName>(name: N, ...args: ActivityArgs<N>) => callActivity(context, name, ...args);

  let policy: EncryptionPolicy;
  try {
    if (vmId === '') throw new Error('input.vmId is missing');
    policy = parseEncryptionPolicy(input.policy, 'input.policy');
  } catch (error) {
    setStatus({ phase: 'failed', detail: 'invalid input' });
    return { vmId, outcome: 'failed', reason: `Invalid orchestration input: ${(error as Error).message}` };
  }
  const startedAt = now();
  let totalDeadline = startedAt + policy.timeouts.orchestrationTimeoutMinutes * 60_000;
  let pollMs = policy.timeouts.fallbackPollSeconds * 1_000;

  // Compensation state: what this run created and must clean up whatever happens.
  let credential: { appObjectId: string; keyId: string } | undefined;
  let waitersEntity: df.EntityId | undefined;
  /** This run provisioned the vault state it uses (rather than trusting the vault entity's cache). */
  let provisionedByThisRun = false;
  /** The vault entity this run's vault state comes from (keyed by the first-choice vault name). */
  let vaultEntityKey: string | undefined;
  const output: EncryptVmOutput = { vmId, outcome: 'failed' };

  try {
    // 1. Inspect and decide.
    setStatus({ phase: 'inspecting' });
    const inspected = yield* call(ACTIVITY.inspectVm, {
      vmId,
      policy,
      ...(typeof input.readSince === 'string' ? { readSince: input.readSince } : {}),
    });
    const { vm, assessment } = inspected;
    const osType = vm.osType;
    status = { ...status, osType };
    output.osType = osType;
    // From here on the run follows the app's own configuration (dry run, vault naming, KEK, timeouts), never its
    // input: a start with a forged policy cannot widen or redirect anything.
    if (inspected.policy) {
      policy = inspected.policy;
      totalDeadline = startedAt + policy.timeouts.orchestrationTimeoutMinutes * 60_000;
      pollMs = policy.timeouts.fallbackPollSeconds * 1_000;
    }
    if (assessment.decision === 'skip' || assessment.decision === 'unsupported') {
      setStatus({ phase: 'done', detail: inspected.summary });
      return { vmId, osType, outcome: 'skipped', reason: inspected.summary };
    }
    if (assessment.decision === 'already-encrypted') {
      if (assessment.modelSettingsMissing && !policy.dryRun) {
        // A dual-pass run whose second pass never landed: the guest is encrypted, the model must say so.
        setStatus({ phase: 'updating-vm-model' });
        yield* call(REMEDIATION_ACTIVITY.applyModelSettings, { vmId });
        const reason = `${inspected.summary} Re-applied them.`;
        setStatus({ phase: 'done', detail: reason });
        return { vmId, osType, outcome: 'already-encrypted', mode: 'aad', reason };
      }
      setStatus({ phase: 'done', detail: inspected.summary });
      return { vmId, osType, outcome: 'already-encrypted', reason: inspected.summary };
    }
    if (assessment.mode === 'encryption-at-host') {
      // Encryption at host has its own orchestration (encryptAtHost); this one only runs ADE.
      const reason = `${inspected.summary} (ADE_ENCRYPTION_MODE=encryption-at-host: the encryptAtHost orchestration does this)`;
      setStatus({ phase: 'done', detail: reason });
      return { vmId, outcome: 'skipped', reason };
    }
    const mode = assessment.mode;
    output.mode = mode;
    if (policy.dryRun) {
      setStatus({ phase: 'done', mode, detail: `dry run: ${inspected.summary}` });
      return { vmId, osType, outcome: 'skipped', mode, reason: `Dry run (ADE_DRY_RUN): would ${inspected.summary}` };
    }

    // 2–3. Vault (+ KEK, event subscription, aad app): provisioned once per vault by the lease holder.
    // The first-choice name keys the vault entity; the vault may carry a fallback name (the first one was taken).
    const vaultNames = vaultNamesFor(policy.vault, vm);
    output.vaultName = vaultNames[0];
    setStatus({ phase: 'preparing-vault', vaultName: vaultNames[0], mode });
    let ready = yield* ensureVaultReady(vaultNames, vm, mode);
    const vaultName = ready.vault.name;
    vaultEntityKey = vaultNames[0];
    output.vaultName = vaultName;
    if (vaultName !== vaultNames[0]) setStatus({ vaultName });

    // 4. Register as a waiter first (an early event is buffered by the host), then deploy.
    waitersEntity = new df.EntityId(ENTITY.vaultWaiters, vaultName);
    yield context.df.callEntity(waitersEntity, 'register', waiterFor(context.df.instanceId, { ...vm, id: vmId }));
    /** Step 4: the ADE extension with the vault's settings (aad: with a short-lived credential, remembered for removal). */
    const deploy = function* (ready: VaultReady): Step<void> {
      setStatus({ phase: 'deploying-extension' });
      const kek = ready.kekUrl ? { url: ready.kekUrl, vaultResourceId: ready.vault.id, algorithm: policy.kek.algorithm } : undefined;
      const extension: AdeExtension = buildAdeExtension({
        os: vm.osType,
        mode,
        vault: { url: ready.vault.url, resourceId: ready.vault.id },
        ...(kek ? { kek } : {}),
        volumeType: policy.volumeType,
        sequenceVersion: context.df.newGuid(`${vmId}|sequence`),
        ...(mode === 'aad' ? { aadClientId: ready.app!.appId } : {}),
        ...(assessment.existingExtension ? { existingName: assessment.existingExtension.name } : {}),
      });
      if (mode === 'aad') {
        const deployed = yield* call(ACTIVITY.deployExtensionWithShortLivedCredential, {
          vmId,
          location: vm.location,
          extension,
          appObjectId: ready.app!.appObjectId,
          credentialLifetimeMs: policy.timeouts.secretEventTimeoutMinutes * 60_000 + CREDENTIAL_MARGIN_MS,
          runId: context.df.instanceId,
        });
        credential = { appObjectId: ready.app!.appObjectId, keyId: deployed.keyId };
      } else {
        yield* call(ACTIVITY.deploySinglePassExtension, { vmId, location: vm.location, extension });
      }
    };
    for (let attempt = 1; ; attempt++) {
      try {
        yield* deploy(ready);
        break;
      } catch (error) {
        // The cached ready state promised a vault, app or KEK that Azure no longer has (not found / forbidden):
        // forget it, provision again (this run takes the lease), and deploy once more.
        // Someone else's application in the cached state: refuse, and discard it so the next run provisions afresh.
        if (error instanceof StepFailure && error.code === 'ApplicationNotOwned')
          context.df.signalEntity(new df.EntityId(ENTITY.vault, vaultNames[0]!), 'discard');
        if (!(error instanceof StepFailure) || !invalidatesVault(error) || attempt > 1 || provisionedByThisRun) throw error;
        yield context.df.callEntity(new df.EntityId(ENTITY.vault, vaultNames[0]!), 'discard');
        setStatus({ phase: 'preparing-vault', vaultName, mode, detail: `cached vault state invalidated: ${error.reason}` });
        ready = yield* ensureVaultReady(vaultNames, vm, mode);
      }
    }

    // 5. Wait for the secret: event raced with a timer, polling the extension status as a fallback.
    setStatus({ phase: 'waiting-for-secret', polls: 0, secretSeen: false });
    const waited = yield* waitForSecret(mode);
    output.completedBy = waited.completedBy;
    context.df.signalEntity(waitersEntity, 'unregister', { instanceId: context.df.instanceId });
    waitersEntity = undefined;

    // 6. aad: second pass (model update, outcome tags and the covered data disks folded in), then drop the credential.
    const tags = policy.tagOutcome ? outcomeTags('encrypted') : undefined;
    if (mode === 'aad') {
      // Dual-pass leaves no per-disk trace in Azure: the tag tells a later VM write which data disks are new.
      const covered = policy.volumeType === 'OS' ? undefined : { [DUAL_PASS_DATA_LUNS_TAG]: dualPassDataLunsTag(vm.dataDiskLuns ?? []) };
      const modelTags = tags || covered ? { ...tags, ...covered } : undefined;
      setStatus({ phase: 'updating-vm-model' });
      const secretUrl = waited.check.secretUrl!;
      output.secretUrl = secretUrl;
      yield* call(ACTIVITY.updateVmEncryptionSettings, {
        vmId,
        location: vm.location,
        secretUrl,
        vault: { url: ready.vault.url, resourceId: ready.vault.id },
        ...(ready.kekUrl ? { kek: { url: ready.kekUrl, vaultResourceId: ready.vault.id } } : {}),
        ...(modelTags ? { tags: modelTags } : {}),
      });
      try {
        yield* removeCredential();
      } catch (error) {
        // The VM is encrypted; a credential left behind expires by itself and the credential janitor removes it.
        const message = error instanceof StepFailure ? error.reason : error instanceof Error ? error.message : String(error);
        output.warnings = [...(output.warnings ?? []), `could not remove the short-lived credential (${message}); the janitor removes it`];
      }
    }

    // 7. Verify from Azure's state, polling while the guest finishes (Linux OS volumes take a while).
    setStatus({ phase: 'verifying' });
    const verified = yield* verify(waited.check);
    output.disks = verified.disks.map((d) => ({ name: d.name, role: d.role, encryption: d.encryption }));
    output.secretUrl ??= verified.disks.flatMap((d) => d.secretUrls)[0] ?? verified.secretUrl;
    if (tags && mode !== 'aad') {
      setStatus({ phase: 'tagging' });
      yield* call(ACTIVITY.tagVm, { vmId, tags });
    }
    output.outcome = 'encrypted';
    setStatus({ phase: 'done', detail: 'encrypted and verified' });
    return output;
  } catch (error) {
    if (error instanceof VaultRolesMissing) {
      // Nothing was written in the refused group; the vault entity's lease is released (vault-ready.ts).
      output.outcome = 'action-required';
      output.reason = error.reason;
      output.operatorAction = error.operatorAction;
      setStatus({ phase: 'done', detail: `action required: ${error.operatorAction}` });
      yield* compensate();
      return output;
    }
    // Any failure (an activity's, or e.g. core rejecting the extension input) ends the run with a
    // reason and compensation, instead of a bare Failed status that leaves a credential behind.
    output.outcome = 'failed';
    output.reason =
      error instanceof StepFailure ? error.reason : `Unexpected error: ${error instanceof Error ? error.message : String(error)}`;
    setStatus({ phase: 'failed', detail: output.reason });
    // The guest could not use the vault this run trusted from the cache (KEK or access policy gone, or Key Vault
    // refusing the write): forget the cached state so the next run re-provisions it.
    if (
      vaultEntityKey &&
      !provisionedByThisRun &&
      /^The ADE extension failed: (key-vault-write-failed|invalid-configuration)\b/.test(output.reason)
    )
      context.df.signalEntity(new df.EntityId(ENTITY.vault, vaultEntityKey), 'discard');
    yield* compensate();
    return output;
  }

  // --- steps -----------------------------------------------------------------------------------

  /** The dedicated-vault step (vault-ready.ts), for this VM and mode. */
  function* ensureVaultReady(names: string[], vm: VmFacts, mode: 'aad' | 'single-pass'): Step<VaultReady> {
    // Resource Manager refusing the vault group throws VaultRolesMissing (the run ends action-required, above).
    return yield* ensureVault(context, policy, names, vm, {
      mode,
      deadline: totalDeadline,
      onWait: (detail) => setStatus({ detail }),
      onProvision: () => {
        provisionedByThisRun = true;
      },
    });
  }

  function* waitForSecret(mode: 'aad' | 'single-pass'): Step<{ check: StatusCheck; completedBy: 'event' | 'polling' }> {
    const waitDeadline = Math.min(now() + policy.timeouts.secretEventTimeoutMinutes * 60_000, totalDeadline);
    let secretSeen = false;
    let eventReceived = false;
    let quickChecks = 0;
    let polls = 0;
    let longPolls = 0;
    let eventTask = context.df.waitForExternalEvent(SECRET_STORED_EVENT);
    for (;;) {
      const deadline = secretSeen ? totalDeadline : waitDeadline;
      if (now() >= deadline) {
        throw new StepFailure(
          secretSeen
            ? `Timed out after ${policy.timeouts.orchestrationTimeoutMinutes} min: the ADE extension had not finished encrypting`
            : `Timed out after ${policy.timeouts.secretEventTimeoutMinutes} min waiting for the disk encryption secret (no Key Vault ` +
                `event, and the extension status never showed it)`,
        );
      }
      // Right after a secret event the run is usually about to finish (disks get stamped): look again
      // soon a few times, then fall back to the normal interval (Linux OS volumes can take hours).
      // Once the extension is done and only the encryption itself runs (single-pass Linux OS volume), back off.
      const interval = quickChecks > 0 ? Math.min(pollMs, SETTLE_MS) : secretSeen ? backoffPollMs(pollMs, longPolls++) : pollMs;
      if (quickChecks > 0) quickChecks -= 1;
      const timer = context.df.createTimer(new Date(Math.min(now() + interval, deadline)));
      const winner = yield context.df.Task.any([eventTask, timer]);
      if (winner === eventTask) {
        timer.cancel();
        eventReceived = true;
        secretSeen = true;
        quickChecks = SETTLE_CHECKS;
        eventTask = context.df.waitForExternalEvent(SECRET_STORED_EVENT);
        // The secret is stored early in the extension's run: let it settle before the one read that usually finds it done.
        yield context.df.createTimer(new Date(Math.min(now() + Math.min(pollMs, SETTLE_MS), deadline)));
      }
      // The event is only a wake-up: Azure's state decides.
      const check = yield* call(ACTIVITY.checkEncryptionStatus, { vmId, volumeType: policy.volumeType });
      polls += 1;
      if (check.provisioned) secretSeen = true;
      setStatus({ polls, secretSeen, detail: check.message ?? check.kind });
      if (check.kind === 'failed' || check.kind === 'bek-missing')
        throw new StepFailure(`The ADE extension failed: ${check.reason ?? check.message ?? check.kind}`);
      const done = mode === 'aad' ? check.provisioned && check.secretUrl !== undefined : check.kind === 'encrypted';
      if (done) return { check, completedBy: eventReceived ? 'event' : 'polling' };
    }
  }

  function* verify(last: StatusCheck): Step<StatusCheck> {
    let check = last;
    for (let n = 0; ; n++) {
      if (n > 0 || status.mode === 'aad') {
        check = yield* call(ACTIVITY.checkEncryptionStatus, { vmId, volumeType: policy.volumeType });
      }
      // aad: the model PATCH was only accepted; the VM's own provisioning state says whether it landed.
      const modelUpdate = status.mode === 'aad' ? check.vmProvisioningState?.toLowerCase() : undefined;
      if (modelUpdate === 'failed') throw new StepFailure('Verification failed: the VM model update (encryption settings) failed');
      if (check.kind === 'encrypted' && modelUpdate !== 'updating') return check;
      if (check.kind === 'failed' || check.kind === 'bek-missing')
        throw new StepFailure(`Verification failed: ${check.reason ?? check.kind}`);
      if (now() + pollMs > totalDeadline)
        throw new StepFailure(`Verification timed out: the VM still reports ${check.kind}${check.reason ? ` (${check.reason})` : ''}`);
      // Back off, but never past the run's deadline: the last look is at the deadline at the latest.
      const wait = modelUpdate === 'updating' ? pollMs : Math.min(backoffPollMs(pollMs, n), totalDeadline - now());
      yield context.df.createTimer(new Date(now() + wait));
    }
  }

  function* removeCredential(): Step<void> {
    if (!credential) return;
    const toRemove = credential;
    credential = undefined;
    yield* call(ACTIVITY.removeCredential, toRemove);
  }

  function* compensate(): Step<void> {
    if (waitersEntity) context.df.signalEntity(waitersEntity, 'unregister', { instanceId: context.df.instanceId });
    try {
      yield* removeCredential();
    } catch (error) {
      // The credential expires by itself shortly; report, don't mask the original failure.
      output.reason = `${output.reason}; also: could not remove the short-lived credential (${(error as Error).message})`;
    }
    if (policy.tagOutcome && output.reason !== undefined) {
      try {
        yield* call(ACTIVITY.tagVm, { vmId, tags: outcomeTags('failed') });
      } catch {
        // Tags are informational only.
      }
    }
  }

  function outcomeTags(state: 'encrypted' | 'failed'): Record<string, string> {
    return { [OUTCOME_TAG.state]: state, [OUTCOME_TAG.updated]: context.df.currentUtcDateTime.toISOString() };
  }
}
