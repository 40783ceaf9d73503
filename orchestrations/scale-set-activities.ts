/**
 * The encryptVmss activities over the ScaleSetPort (azure/scale-sets.ts). Like every activity of the app they are
 * idempotent, carry no secret, and judge scope, exclusions, dry run, vault and volume type against the app's own
 * policy, never the orchestration's input (which anyone holding the Durable system key could forge): each writing
 * activity re-reads the scale set and re-assesses it first.
 * ADE on scale sets: https://learn.microsoft.com/azure/virtual-machine-scale-sets/disk-encryption-overview.
 */
import type { ResourceGraphPort } from '../azure/ports';
import type { ScaleSetPort } from '../azure/scale-sets';
import { assessScaleSet, describeAssessment } from '../core/eligibility';
import { PermissionError, ValidationError } from '../core/errors';
import { adeExtensionSpec, isAdeExtension, type AdeExtension } from '../core/extension-settings';
import { scaleSetInstanceId, vaultNamesFor } from '../core/names';
import type { EncryptionPolicy } from '../core/policy';
import { parseResourceId } from '../core/resource-ids';
import { scaleSetPolicy, scaleSetProgress, scaleSetVolumeType } from '../core/scale-set';
import type { ScaleSetSnapshot } from '../core/vm';
import { runActivity, type ActivityLog } from './activities';
import type { ActivityResult } from './contracts';
import { vaultReadyMismatch } from './entities';
import type { OrchestrationControl } from './remediation-activities';
import {
  ENCRYPT_VMSS_ORCHESTRATOR,
  type EncryptVmssInput,
  type ScaleSetFacts,
  type ScaleSetInspectResult,
  type ScaleSetProgressResult,
  type ScaleSetSweepResult,
} from './scale-set-contracts';

export interface ScaleSetActivityDeps {
  scaleSets?: ScaleSetPort;
  /** The sweep lists scale sets through Resource Graph. */
  resourceGraph?: ResourceGraphPort;
  /** Starts encryptVmss runs (the sweep's activity only). */
  orchestrations?: OrchestrationControl;
  log: ActivityLog;
  /** The app's own loaded policy. */
  policy: EncryptionPolicy;
  /** The app's own ADE_HEAL_ACTION / ADE_MAINTENANCE_WINDOW: how stale instances of a Manual set are upgraded. */
  heal?: ScaleSetInspectResult['heal'];
}

function facts(set: ScaleSetSnapshot): ScaleSetFacts {
  return {
    id: set.id,
    name: set.name,
    subscriptionId: set.subscriptionId,
    resourceGroup: set.resourceGroup,
    location: set.location,
    osType: set.osType ?? 'Windows',
    orchestrationMode: set.orchestrationMode,
    upgradeMode: set.upgradeMode,
    capacity: set.capacity,
  };
}

export function createScaleSetActivities(deps: ScaleSetActivityDeps) {
  const { policy, log } = deps;
  const port = (): ScaleSetPort => {
    if (!deps.scaleSets) throw new PermissionError('No scale set client is configured');
    return deps.scaleSets;
  };
  const refuseDryRun = (what: string): void => {
    if (policy.dryRun)
      throw new ValidationError(`ADE_DRY_RUN is on in the app's configuration: refused to ${what}`, { field: 'ADE_DRY_RUN' });
  };
  /** Re-reads and re-assesses the set against the app's policy: a write goes only to a set the app would encrypt. */
  const refuseUnlessEncrypting = async (scaleSetId: string, what: string, orModelDone = false): Promise<ScaleSetSnapshot> => {
    const set = await port().getScaleSet(scaleSetId);
    const assessment = assessScaleSet(set, scaleSetPolicy(policy, set));
    if (assessment.decision !== 'encrypt' && !(orModelDone && assessment.decision === 'already-encrypted'))
      throw new ValidationError(`Refused to ${what} on scale set ${set.name}: ${describeAssessment(assessment)}`, { field: 'scaleSetId' });
    return set;
  };

  return {
    /** Reads the model and decides (scale set read; the instance list only when ADE is already on the model). */
    scaleSetInspect: (input: { scaleSetId: string }): Promise<ActivityResult<ScaleSetInspectResult>> =>
      runActivity(log, 'scaleSetInspect', async () => {
        const set = await port().getScaleSet(input.scaleSetId);
        const effective = scaleSetPolicy(policy, set);
        const assessment = assessScaleSet(set, effective);
        // ADE on the model says nothing about instances a Manual set has not upgraded yet: they are read too.
        let alreadyEncrypted = false;
        const adeOnModel = set.extensions.some((e) => isAdeExtension(e) && e.provisioningState?.toLowerCase() === 'succeeded');
        if (assessment.decision === 'already-encrypted' || (assessment.decision === 'encrypt' && adeOnModel))
          alreadyEncrypted = scaleSetProgress(await port().instanceStatuses(input.scaleSetId), effective.volumeType).done;
        return {
          set: facts(set),
          assessment,
          summary: describeAssessment(assessment),
          policy: effective,
          alreadyEncrypted,
          heal: deps.heal ?? { action: 'notify-only' },
        };
      }),

    /** The single-pass ADE extension on the scale set's model (virtualMachineScaleSets/extensions/write). */
    scaleSetDeployExtension: (input: { scaleSetId: string; extension: AdeExtension }): Promise<ActivityResult<{ extensionId: string }>> =>
      runActivity(log, 'scaleSetDeployExtension', async () => {
        refuseDryRun(`put the ADE extension on scale set ${input.scaleSetId}`);
        const set = await refuseUnlessEncrypting(input.scaleSetId, 'put the ADE extension');
        const settings = input.extension.settings;
        const names = vaultNamesFor(policy.vault, { id: set.id, subscriptionId: set.subscriptionId, location: set.location });
        let vaultName = '';
        try {
          vaultName = parseResourceId(settings.KeyVaultResourceId, 'KeyVaultResourceId').names[0] ?? '';
        } catch {
          // reported below as a mismatch
        }
        const why = vaultReadyMismatch(
          {
            vault: { id: settings.KeyVaultResourceId, name: vaultName, url: settings.KeyVaultURL },
            ...(settings.KeyEncryptionKeyURL !== undefined ? { kekUrl: settings.KeyEncryptionKeyURL } : {}),
          },
          { subscriptionId: set.subscriptionId, resourceGroup: policy.vault.resourceGroup, names },
        );
        if (why !== undefined)
          throw new ValidationError(`Refused to point scale set ${set.name} at a vault that is not the app's own: ${why}`, {
            field: 'vault',
          });
        const volumeType = scaleSetVolumeType(set.osType, policy.volumeType);
        if (settings.VolumeType !== volumeType)
          throw new ValidationError(`Refused volume type ${settings.VolumeType}: the app's configuration means ${volumeType} here`, {
            field: 'extension',
          });
        if (settings.AADClientID !== undefined)
          throw new ValidationError('Refused a dual-pass (aad) extension: scale sets support single-pass only', { field: 'extension' });
        const started = await port().beginPutModelExtension(set.id, input.extension.name, adeExtensionSpec(input.extension, set.location));
        log('info', `ADE extension put on the model of scale set ${set.name}`, { scaleSetId: set.id, extensionId: started.extensionId });
        return { extensionId: started.extensionId };
      }),

    /** Every instance's verdict from one paged instance list, and the set's state (two reads). */
    scaleSetProgress: (input: { scaleSetId: string }): Promise<ActivityResult<ScaleSetProgressResult>> =>
      runActivity(log, 'scaleSetProgress', async () => {
        const [set, instances] = await Promise.all([port().getScaleSet(input.scaleSetId), port().instanceStatuses(input.scaleSetId)]);
        const progress = scaleSetProgress(instances, scaleSetVolumeType(set.osType, policy.volumeType));
        return { ...progress, provisioningState: set.provisioningState, upgradeMode: set.upgradeMode };
      }),

    /** Brings stale instances to the model under a Manual upgrade policy (virtualMachineScaleSets/manualUpgrade/action). */
    scaleSetUpdateInstances: (input: { scaleSetId: string; instanceIds: string[] }): Promise<ActivityResult<{ requested: string[] }>> =>
      runActivity(log, 'scaleSetUpdateInstances', async () => {
        refuseDryRun(`upgrade instances of scale set ${input.scaleSetId}`);
        if ((deps.heal?.action ?? 'notify-only') === 'notify-only')
          throw new ValidationError(`ADE_HEAL_ACTION is notify-only in the app's configuration: refused to upgrade instances`, {
            field: 'ADE_HEAL_ACTION',
          });
        const set = await refuseUnlessEncrypting(input.scaleSetId, 'upgrade instances', true);
        if (set.upgradeMode !== 'Manual' || set.orchestrationMode !== 'Uniform')
          throw new ValidationError(`Refused to upgrade instances of scale set ${set.name}: its upgrade policy is ${set.upgradeMode}`, {
            field: 'scaleSetId',
          });
        const ids = [...new Set(input.instanceIds)].filter((id) => /^[0-9]{1,10}$/.test(id));
        if (ids.length === 0) throw new ValidationError('No valid instance ids to upgrade', { field: 'instanceIds' });
        await port().beginUpdateInstances(set.id, ids);
        return { requested: ids };
      }),

    /**
     * The backfill sweep's scale sets: every set in the app's subscriptions from one Resource Graph listing, judged
     * by its model with the app's policy; encryptVmss starts (singleton per set) for those it would encrypt and for
     * Uniform Manual sets whose model already carries ADE (the run checks their instances and upgrades stale ones per
     * ADE_HEAL_ACTION), unless the sweep or the app is a dry run.
     */
    scaleSetSweep: (input: { dryRun: boolean; publishOutcome?: boolean }): Promise<ActivityResult<ScaleSetSweepResult>> =>
      runActivity(log, 'scaleSetSweep', async () => {
        const result: ScaleSetSweepResult = { assessed: 0, byDecision: {}, started: 0, manualChecks: 0 };
        const subscriptions = policy.scope.subscriptions;
        if (!deps.resourceGraph?.scaleSets || subscriptions.length === 0) return result;
        for (const set of await deps.resourceGraph.scaleSets(subscriptions)) {
          const assessment = assessScaleSet(set, scaleSetPolicy(policy, set));
          result.assessed += 1;
          result.byDecision[assessment.decision] = (result.byDecision[assessment.decision] ?? 0) + 1;
          // A Manual set whose model carries ADE may have instances never brought to it (latestModelApplied false);
          // Resource Graph does not show instances, so a run reads them (two ARM reads when they are all encrypted).
          const manualCheck =
            assessment.decision === 'already-encrypted' && set.orchestrationMode === 'Uniform' && set.upgradeMode === 'Manual';
          if ((assessment.decision !== 'encrypt' && !manualCheck) || input.dryRun || policy.dryRun) continue;
          if (!deps.orchestrations) throw new PermissionError('no Durable client was given to this activity');
          const start: EncryptVmssInput = { scaleSetId: set.id, policy, ...(input.publishOutcome ? { publishOutcome: true } : {}) };
          const started = await deps.orchestrations.startIfIdle({
            orchestrator: ENCRYPT_VMSS_ORCHESTRATOR,
            instanceId: scaleSetInstanceId(set.id),
            input: start,
          });
          if (started.started) result.started += 1;
          if (started.started && manualCheck) result.manualChecks += 1;
        }
        log('info', `sweep: ${result.assessed} scale set(s) assessed, ${result.started} encryptVmss run(s) started`, { ...result });
        return result;
      }),
  };
}

export type ScaleSetActivities = ReturnType<typeof createScaleSetActivities>;
