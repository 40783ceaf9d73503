/**
 * `POST /api/alerts` (function key): Azure Monitor action-group webhook with the common alert
 * schema. Every affected VM (or VM child such as an extension) gets a remediation → 202 listing
 * them and the targets ignored with their reasons; no VM target → 422 with the reasons; a malformed
 * payload → 400 naming the field at fault, nothing started.
 */
import * as df from 'durable-functions';
import { handlerDeps } from './lib/app';
import { runAnswer } from './lib/runs';
import { handleAlert } from './lib/remediation';

df.app.client.http('alertsHttp', {
  route: 'alerts',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request, client, context) => runAnswer(request.url, await handleAlert(request, await handlerDeps(client, context))),
});
