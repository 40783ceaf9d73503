/**
 * Timer (ADE_BEK_HEALTH_SCHEDULE): the BEK health sweep — pages through the managed VMs within the
 * ARM read budget, reads the instance views of those with ADE, and starts `restoreBek` for every VM
 * whose extension reports its BEK files missing. One sweep at a time.
 */
import * as df from 'durable-functions';
import { appContext, handlerDeps } from './lib/app';
import { startSweep } from './lib/remediation';

df.app.client.timer('bekHealthSweep', {
  schedule: appContext().config.remediation.bekHealthSchedule,
  handler: async (_timer, client, context) => {
    await startSweep('bek-health', false, await handlerDeps(client, context));
  },
});
