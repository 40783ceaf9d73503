/**
 * Timer (every 15 minutes, ADE_EVENT_WIRING=auto only): discovers the management groups' subscriptions again
 * (functions/lib/app.ts scopeDiscovery, which every trigger shares) and starts `wireSubscriptionEvents` for the
 * discovered subscriptions, which gives each one lacking it the Resource Manager event wiring
 * infra/event-subscriptions.json deploys. One run at a time; a subscription already wired costs three reads.
 */
import * as df from 'durable-functions';
import { EVENT_WIRING_INSTANCE_ID, EVENT_WIRING_ORCHESTRATOR, type EventWiringInput } from '../orchestrations/event-wiring-contracts';
import { appContext, discoveredSubscriptions } from './lib/app';
import { contextLog } from './lib/log';
import { startSingleton } from './lib/start';

/** Every 15 minutes, as often as the management groups' subscriptions are discovered again (SCOPE_REFRESH_MS). */
export const EVENT_WIRING_SCHEDULE = '0 */15 * * * *';

const app = appContext();
if (app.config.eventWiring) {
  df.app.client.timer('eventWiring', {
    schedule: EVENT_WIRING_SCHEDULE,
    handler: async (_timer, client, context) => {
      // A discovery of its own, so that a subscription moved into a group is wired at this run, not one refresh later.
      await app.refreshScope();
      const subscriptions = discoveredSubscriptions(app);
      if (subscriptions.length === 0) return;
      const input: EventWiringInput = { subscriptions, dryRun: app.config.dryRun };
      const result = await startSingleton(client, { orchestrator: EVENT_WIRING_ORCHESTRATOR, instanceId: EVENT_WIRING_INSTANCE_ID, input });
      contextLog(context)(
        'info',
        `eventWiring: ${result.started ? 'started' : `already ${result.runtimeStatus}`} ` +
          `for ${subscriptions.length} discovered subscription(s)`,
        {
          instanceId: EVENT_WIRING_INSTANCE_ID,
        },
      );
    },
  });
}
