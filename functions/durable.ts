/**
 * Every Durable registration of the app, in one place: the orchestrators (encryptVm, encryptVmss, restoreBek,
 * remediateVm, sweep), all activities (built per invocation over the process's Azure ports, logging
 * through the invocation context) and the `vault` / `vaultWaiters` entities.
 */
import * as df from 'durable-functions';
import type { InvocationContext } from '@azure/functions';
import { createActivities } from '../orchestrations/activities';
import {
  ACTIVITY,
  CLIENT_ACTIVITIES,
  EAH_ACTIVITY,
  ENCRYPT_AT_HOST_ORCHESTRATOR,
  ENCRYPT_VM_ORCHESTRATOR,
  ENTITY,
  REMEDIATE_VM_ORCHESTRATOR,
  REMEDIATION_ACTIVITY,
  RESTORE_BEK_ORCHESTRATOR,
  SWEEP_ORCHESTRATOR,
  type WaitersState,
} from '../orchestrations/contracts';
import { encryptAtHostOrchestrator } from '../orchestrations/encrypt-at-host';
import { createEncryptAtHostActivities } from '../orchestrations/encrypt-at-host-activities';
import { encryptVmOrchestrator } from '../orchestrations/encrypt-vm';
import { vaultEntityStep, waitersEntityStep, type EntityStep, type VaultEntityState } from '../orchestrations/entities';
import { createRemediationActivities } from '../orchestrations/remediation-activities';
import { remediateVmOrchestrator } from '../orchestrations/remediateVm';
import { restoreBekOrchestrator } from '../orchestrations/restoreBek';
import { withOutcomeLog, type ActivityInput, type ActivityName, type ActivityTable } from '../orchestrations/steps';
import { encryptVmssOrchestrator } from '../orchestrations/encrypt-vmss';
import { createScaleSetActivities } from '../orchestrations/scale-set-activities';
import { ENCRYPT_VMSS_ORCHESTRATOR, SCALE_SET_ACTIVITY } from '../orchestrations/scale-set-contracts';
import { sweepOrchestrator } from '../orchestrations/sweep';
import { wireSubscriptionEventsOrchestrator } from '../orchestrations/event-wiring';
import { createEventWiringActivities } from '../orchestrations/event-wiring-activities';
import { EVENT_WIRING_ACTIVITY, EVENT_WIRING_ORCHESTRATOR } from '../orchestrations/event-wiring-contracts';
import { appContext, discoveredSubscriptions, eventWiringSettings } from './lib/app';
import { contextLog } from './lib/log';
import { secretEventsDestination } from './lib/secret-events-endpoint';
import { healSettingsOf } from './lib/remediation';
import { orchestrationControl } from './lib/start';

const app = appContext();
const destination = secretEventsDestination(app.config);
const wiringSettings = eventWiringSettings(app.config);

df.app.orchestration(ENCRYPT_VM_ORCHESTRATOR, withOutcomeLog(ENCRYPT_VM_ORCHESTRATOR, encryptVmOrchestrator));
df.app.orchestration(ENCRYPT_AT_HOST_ORCHESTRATOR, withOutcomeLog(ENCRYPT_AT_HOST_ORCHESTRATOR, encryptAtHostOrchestrator));
df.app.orchestration(RESTORE_BEK_ORCHESTRATOR, withOutcomeLog(RESTORE_BEK_ORCHESTRATOR, restoreBekOrchestrator));
df.app.orchestration(REMEDIATE_VM_ORCHESTRATOR, withOutcomeLog(REMEDIATE_VM_ORCHESTRATOR, remediateVmOrchestrator));
df.app.orchestration(ENCRYPT_VMSS_ORCHESTRATOR, withOutcomeLog(ENCRYPT_VMSS_ORCHESTRATOR, encryptVmssOrchestrator));
df.app.orchestration(SWEEP_ORCHESTRATOR, sweepOrchestrator);
df.app.orchestration(EVENT_WIRING_ORCHESTRATOR, wireSubscriptionEventsOrchestrator);

/** Every activity, over the process's ports; `client` for the ones that start or watch other runs. */
function activitiesFor(context: InvocationContext, client?: df.DurableClient): ActivityTable {
  const log = contextLog(context);
  const publisher = app.outcomePublisher();
  return {
    ...createActivities({
      ...app.ports,
      identity: app.identity,
      ...(destination ? { secretEventsDestination: destination } : {}),
      ...(app.config.deadLetter ? { deadLetter: app.config.deadLetter } : {}),
      ...(app.config.vaultBackupPrincipalId ? { backupPrincipalObjectId: app.config.vaultBackupPrincipalId } : {}),
      vaultNetwork: app.config.vaultNetwork,
      ...(app.config.vaultDiagnosticsWorkspaceId ? { vaultDiagnosticsWorkspaceId: app.config.vaultDiagnosticsWorkspaceId } : {}),
      log,
      now: () => Date.now(),
      policy: app.policy, // eligibility is judged against the app's configuration, never the run's input
    }),
    ...createRemediationActivities({
      ...app.ports,
      identity: app.identity,
      ...(client ? { orchestrations: orchestrationControl(client) } : {}),
      ...(publisher ? { publisher } : {}),
      log,
      policy: app.policy,
      ...(app.config.vaultBackupPrincipalId ? { backupPrincipalObjectId: app.config.vaultBackupPrincipalId } : {}),
      ...(app.config.vaultDiagnosticsWorkspaceId ? { vaultDiagnosticsWorkspaceId: app.config.vaultDiagnosticsWorkspaceId } : {}),
    }),
    ...createEncryptAtHostActivities({
      compute: app.ports.compute,
      log,
      policy: app.policy,
      heal: healSettingsOf(app.config.remediation),
    }),
    ...createScaleSetActivities({
      ...(app.ports.scaleSets ? { scaleSets: app.ports.scaleSets } : {}),
      ...(app.ports.resourceGraph ? { resourceGraph: app.ports.resourceGraph } : {}),
      ...(client ? { orchestrations: orchestrationControl(client) } : {}),
      log,
      policy: app.policy,
      heal: healSettingsOf(app.config.remediation),
    }),
    ...createEventWiringActivities({
      ...(app.ports.subscriptionEvents ? { subscriptionEvents: app.ports.subscriptionEvents } : {}),
      ...(wiringSettings ? { settings: wiringSettings } : {}),
      discovered: () => discoveredSubscriptions(app),
      dryRun: app.config.dryRun,
      log,
    }),
  };
}

function registerActivity<N extends ActivityName>(name: N): void {
  const needsClient = CLIENT_ACTIVITIES.includes(name);
  df.app.activity(name, {
    ...(needsClient ? { extraInputs: [df.input.durableClient()] } : {}),
    handler: async (input: ActivityInput<N>, context: InvocationContext) => {
      // Eligibility judges scope against the app's policy: the management groups' subscriptions must be known first.
      await app.scopeReady();
      return activitiesFor(context, needsClient ? df.getClient(context) : undefined)[name](input);
    },
  });
}

const ACTIVITY_NAMES = [
  ...Object.values(ACTIVITY),
  ...Object.values(REMEDIATION_ACTIVITY),
  ...Object.values(EAH_ACTIVITY),
  ...Object.values(SCALE_SET_ACTIVITY),
  ...Object.values(EVENT_WIRING_ACTIVITY),
];
// Compile-time check: every activity the factories build has a registered name.
const everyActivityNamed: Exclude<ActivityName, (typeof ACTIVITY_NAMES)[number]> extends never ? true : never = true;
if (everyActivityNamed) for (const name of ACTIVITY_NAMES) registerActivity(name);

function entityHandler<S>(step: (state: S | undefined, op: { name: string; input: unknown }) => EntityStep<S>) {
  return (context: df.EntityContext<S>): void => {
    const result = step(context.df.getState(), { name: context.df.operationName ?? '', input: context.df.getInput() });
    // return() marks the entity as existing, so it goes first: destructOnExit() after it really deletes.
    context.df.return(result.result ?? null);
    if (result.state === undefined) context.df.destructOnExit();
    else context.df.setState(result.state);
  };
}

df.app.entity<VaultEntityState>(ENTITY.vault, entityHandler(vaultEntityStep));
df.app.entity<WaitersState>(ENTITY.vaultWaiters, entityHandler(waitersEntityStep));
