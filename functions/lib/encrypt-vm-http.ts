/** The work behind `POST /api/vms/encrypt`, free of the Functions runtime so it can be tested directly. */
import type { HttpRequest } from '@azure/functions';
import { assessVm, describeAssessment } from '../../core/eligibility';
import { toErrorInfo } from '../../core/errors';
import type { EncryptionPolicy } from '../../core/policy';
import type { VmSnapshot } from '../../core/vm';
import { readVmIdBody } from './http-body';
import type { Log } from './log';
import type { HttpAnswer } from './remediation';
import { startEncryptVm, type StartOptions, type StarterClient } from './start';

export interface EncryptVmHttpDeps {
  client: StarterClient;
  policy: EncryptionPolicy;
  getVm(vmId: string): Promise<VmSnapshot>;
  /** An outcome topic is configured: the run publishes its outcome event. */
  publishOutcome: boolean;
  /** ADE_HEAL_ACTION / ADE_MAINTENANCE_WINDOW (encryption at host needs the VM deallocated). */
  heal?: StartOptions['heal'];
  log: Log;
}

/** 202 with the instance (already running counts), 200 with the plan in dry-run mode, 400 naming bad input. */
export async function handleEncryptVm(request: Pick<HttpRequest, 'text'>, deps: EncryptVmHttpDeps): Promise<HttpAnswer> {
  const vmId = await readVmIdBody(request, deps.policy);
  if (!vmId.ok) return { status: 400, body: { error: vmId.problem } };
  if (deps.policy.dryRun) {
    try {
      const vm = await deps.getVm(vmId.value);
      const assessment = assessVm(vm, deps.policy);
      const plan = describeAssessment(assessment);
      deps.log('info', `encryptVmHttp (dry run, nothing started): ${vm.id}: ${plan}`);
      return { status: 200, body: { dryRun: true, vmId: vm.id, decision: assessment.decision, plan } };
    } catch (error) {
      const info = toErrorInfo(error);
      return { status: info.kind === 'not-found' ? 404 : 502, body: { error: info.message } };
    }
  }
  try {
    await deps.getVm(vmId.value); // a made-up target starts nothing
  } catch (error) {
    const info = toErrorInfo(error);
    if (info.kind === 'not-found') return { status: 404, body: { error: `vmId: no such virtual machine ${vmId.value}` } };
    return { status: 502, body: { error: info.message } };
  }
  const started = await startEncryptVm(deps.client, vmId.value, deps.policy, {
    publishOutcome: deps.publishOutcome,
    ...(deps.heal ? { heal: deps.heal } : {}),
  });
  deps.log(
    'info',
    started.started
      ? `encryptVmHttp: started ${started.instanceId}`
      : `encryptVmHttp: ${started.instanceId} is already ${started.runtimeStatus}`,
  );
  return { status: 202, body: {}, instanceId: started.instanceId };
}
