/**
 * `POST /api/vms/heal` (function key): check one VM now — BEK missing, secret deleted, vault drift,
 * extension removed, not encrypted — and remediate. Body `{ "vmId": "…" }` → 202 with the
 * remediation's instance id and `GET /api/runs/{id}` URL (also when one is already running for that VM); 400 naming the
 * problem for bad input.
 */
import * as df from 'durable-functions';
import { handlerDeps } from './lib/app';
import { runAnswer } from './lib/runs';
import { handleHeal } from './lib/remediation';

df.app.client.http('healVmHttp', {
  route: 'vms/heal',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request, client, context) => runAnswer(request.url, await handleHeal(request, await handlerDeps(client, context))),
});
