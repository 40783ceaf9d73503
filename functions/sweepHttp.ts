/**
 * `POST /api/sweep` (function key): the existing-fleet sweep. `?dryRun=true` (or `{ "dryRun": true }`)
 * returns a report instead of starting encryptions; `?kind=bek-health` runs the BEK check sweep.
 * 202 with the instance id and `GET /api/runs/{id}` URL (the report is the orchestration output; progress is its custom
 * status); 409 while a sweep of that kind runs. With ADE_SWEEP_SCHEDULE set, the backfill also runs
 * on that schedule.
 */
import * as df from 'durable-functions';
import { appContext, handlerDeps } from './lib/app';
import { runAnswer } from './lib/runs';
import { handleSweep, startSweep } from './lib/remediation';

df.app.client.http('sweepHttp', {
  route: 'sweep',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request, client, context) => runAnswer(request.url, await handleSweep(request, await handlerDeps(client, context))),
});

const schedule = appContext().config.remediation.sweepSchedule;
if (schedule) {
  df.app.client.timer('sweepSchedule', {
    schedule,
    handler: async (_timer, client, context) => {
      await startSweep('backfill', false, await handlerDeps(client, context));
    },
  });
}
