/**
 * `POST /api/vms/encrypt` (function key): encrypt one VM by id on demand.
 * Body `{ "vmId": "/subscriptions/.../virtualMachines/x" }` → 202 with the instance id and its
 * `GET /api/runs/{id}` URL (also when a run for that VM is already active); 400 naming the problem for bad input.
 * In dry-run mode it answers 200 with the plan and starts nothing (functions/lib/encrypt-vm-http.ts).
 */
import * as df from 'durable-functions';
import { appContext } from './lib/app';
import { handleEncryptVm } from './lib/encrypt-vm-http';
import { contextLog } from './lib/log';
import { healSettingsOf } from './lib/remediation';
import { runAnswer } from './lib/runs';

const app = appContext();

df.app.client.http('encryptVmHttp', {
  route: 'vms/encrypt',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request, client, context) => {
    await app.scopeReady();
    const result = await handleEncryptVm(request, {
      client,
      policy: app.policy,
      getVm: (vmId) => app.ports.compute.getVm(vmId, { instanceView: true }),
      publishOutcome: app.config.remediation.outcomeTopicEndpoint !== undefined,
      heal: healSettingsOf(app.config.remediation),
      log: contextLog(context),
    });
    return runAnswer(request.url, result);
  },
});
