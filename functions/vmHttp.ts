/**
 * `GET /api/vms/{subscription}/{resourceGroup}/{name}` (function key): one VM's state, runs, disks, vault and last
 * error with the operator's next step; 400 for a bad segment, 404 for a VM the app never ran for (functions/lib/fleet.ts).
 */
import * as df from 'durable-functions';
import { durableRunStore, handleVmDetail, VM_ROUTE } from './lib/fleet';

df.app.client.http('vmHttp', {
  route: VM_ROUTE,
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request, client) => {
    const result = await handleVmDetail(request.params, durableRunStore(client));
    return { status: result.status, jsonBody: result.body };
  },
});
