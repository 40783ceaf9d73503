/**
 * Registers the Durable parts of the pipeline: the `encryptVm` orchestrator, its activities (built
 * per invocation over the process's Azure ports, logging through the invocation context) and the
 * `vault` / `vaultWaiters` entities.
 */
import * as df from 'durable-functions';
import type { InvocationContext } from '@azure/functions';
import { createActivities, type Activities } from '../orchestrations/activities';
import { ACTIVITY, ENCRYPT_VM_ORCHESTRATOR, ENTITY, type WaitersState } from '../orchestrations/contracts';
import { encryptVmOrchestrator } from '../orchestrations/encrypt-vm';
import { vaultEntityStep, waitersEntityStep, type EntityStep, type VaultEntityState } from '../orchestrations/entities';
import { appContext } from './lib/app';
import { contextLog } from './lib/log';
import { secretEventsDestination } from './lib/secret-events-endpoint';

const app = appContext();
const destination = secretEventsDestination(app.config);

function activitiesFor(context: InvocationContext): Activities {
  return createActivities({
    compute: app.ports.compute,
    vaults: app.ports.vaults,
    keyVault: app.ports.keyVault,
    directory: app.ports.directory,
    eventSubscriptions: app.ports.eventSubscriptions,
    identity: app.identity,
    ...(destination ? { secretEventsDestination: destination } : {}),
    log: contextLog(context),
    now: () => Date.now(),
  });
}

df.app.orchestration(ENCRYPT_VM_ORCHESTRATOR, encryptVmOrchestrator);

for (const name of Object.values(ACTIVITY)) {
  df.app.activity(name, {
    handler: (input: unknown, context: InvocationContext) => {
      const activity = activitiesFor(context)[name] as (input: unknown) => Promise<unknown>;
      return activity(input);
    },
  });
}

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
