/**
 * Event Grid trigger for Policy Insights `PolicyStateCreated/Changed`: NonCompliant states of the
 * configured ADE definitions start `remediateVm` (one per VM, deterministic instance id). Ordered by
 * the event's own `data.timestamp`; stale states are ignored. A malformed event is logged with the
 * field at fault and starts nothing (the Event Grid trigger cannot answer 400; a 500 would only make
 * Event Grid redeliver the same poison event).
 */
import * as df from 'durable-functions';
import { handlerDeps } from './lib/app';
import { handlePolicyStates } from './lib/remediation';

df.app.client.eventGrid('policyStates', {
  handler: async (event, client, context) => {
    await handlePolicyStates(event, await handlerDeps(client, context));
  },
});
