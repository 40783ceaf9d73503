/**
 * `GET /api/vms` (function key): the fleet from the orchestrations' status, filtered by state, subscription, resource
 * group, OS and mode, paged, with counts per state (functions/lib/fleet.ts).
 */
import * as df from 'durable-functions';
import { durableRunStore, handleListVms, VMS_ROUTE } from './lib/fleet';

df.app.client.http('vmsHttp', {
  route: VMS_ROUTE,
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request, client) => {
    const result = await handleListVms(request.query, durableRunStore(client));
    return { status: result.status, jsonBody: result.body };
  },
});
