/**
 * `GET /api/summary` (function key): VMs per state, failures in the last 24 h, the oldest run in flight and running
 * sweeps (functions/lib/fleet.ts).
 */
import * as df from 'durable-functions';
import { durableRunStore, handleSummary, SUMMARY_ROUTE } from './lib/fleet';

df.app.client.http('summaryHttp', {
  route: SUMMARY_ROUTE,
  methods: ['GET'],
  authLevel: 'function',
  handler: async (_request, client) => {
    const result = await handleSummary(durableRunStore(client), Date.now());
    return { status: result.status, jsonBody: result.body };
  },
});
