/**
 * `POST /api/vms/encrypt` (function key): encrypt one VM by id on demand.
 * Body `{ "vmId": "/subscriptions/.../virtualMachines/x" }` → 202 with the Durable check-status
 * payload (also when a run for that VM is already active); 400 naming the problem for bad input.
 * In dry-run mode it answers 200 with the plan and starts nothing.
 */
import type { HttpResponseInit } from '@azure/functions';
import * as df from 'durable-functions';
import { assessVm, describeAssessment } from '../core/eligibility';
import { toErrorInfo } from '../core/errors';
import { parseVmId } from '../core/resource-ids';
import { readVmIdBody } from './lib/http-body';
import { appContext } from './lib/app';
import { contextLog } from './lib/log';
import { startEncryptVm } from './lib/start';

const app = appContext();

df.app.client.http('encryptVmHttp', {
  route: 'vms/encrypt',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request, client, context): Promise<HttpResponseInit> => {
    const log = contextLog(context);
    const parsed = await readVmIdBody(request);
    if ('problem' in parsed) return { status: 400, jsonBody: { error: parsed.problem } };
    const subscriptionId = parseVmId(parsed.vmId).subscriptionId.toLowerCase();
    if (!app.policy.scope.subscriptions.includes(subscriptionId)) {
      return { status: 400, jsonBody: { error: `Subscription ${subscriptionId} is not in ADE_SUBSCRIPTIONS` } };
    }
    if (app.policy.dryRun) {
      try {
        const vm = await app.ports.compute.getVm(parsed.vmId, { instanceView: true });
        const assessment = assessVm(vm, app.policy);
        log('info', `encryptVmHttp (dry run, nothing started): ${vm.id}: ${describeAssessment(assessment)}`);
        return {
          status: 200,
          jsonBody: { dryRun: true, vmId: vm.id, decision: assessment.decision, plan: describeAssessment(assessment) },
        };
      } catch (error) {
        const info = toErrorInfo(error);
        return { status: info.kind === 'not-found' ? 404 : 502, jsonBody: { error: info.message } };
      }
    }
    const started = await startEncryptVm(client, parsed.vmId, app.policy, {
      publishOutcome: app.config.remediation.outcomeTopicEndpoint !== undefined,
    });
    log(
      'info',
      started.started
        ? `encryptVmHttp: started ${started.instanceId}`
        : `encryptVmHttp: ${started.instanceId} is already ${started.runtimeStatus}`,
    );
    return client.createCheckStatusResponse(request, started.instanceId);
  },
});
