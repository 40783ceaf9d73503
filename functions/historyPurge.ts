/**
 * `historyPurge` (timer, ADE_HISTORY_PURGE_SCHEDULE): purges finished runs older than ADE_HISTORY_RETENTION_DAYS from
 * Durable history and logs encryptions stuck past their timeout (functions/lib/history.ts).
 */
import * as df from 'durable-functions';
import { appContext } from './lib/app';
import { durableRunStore } from './lib/fleet';
import { maintainHistory } from './lib/history';
import { contextLog } from './lib/log';

const app = appContext();

df.app.client.timer('historyPurge', {
  schedule: app.config.history.purgeSchedule,
  handler: async (_timer, client, context) => {
    await maintainHistory({
      client,
      store: durableRunStore(client),
      log: contextLog(context),
      now: Date.now(),
      retentionDays: app.config.history.retentionDays,
      orchestrationTimeoutMinutes: app.config.orchestrationTimeoutMinutes,
    });
  },
});
