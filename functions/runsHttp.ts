/**
 * `GET /api/runs/{instanceId}` (function key): runtime status, custom status and output of a run the
 * starters returned (functions/lib/runs.ts). The app's replacement for Durable management URLs,
 * which carry a system key.
 */
import * as df from 'durable-functions';
import { handleRunStatus, RUNS_ROUTE } from './lib/runs';

df.app.client.http('runsHttp', {
  route: RUNS_ROUTE,
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request, client) => {
    const result = await handleRunStatus(request.params.instanceId, client);
    return { status: result.status, jsonBody: result.body };
  },
});
