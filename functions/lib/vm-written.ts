/**
 * The work behind `vmWritten`, free of the Functions runtime so it can be tested directly.
 *
 * An ARM event is a notification, not state: drop what is out of scope
 * without any Azure call, then re-read each VM by id, assess it, and start one orchestration per VM.
 */
import { EVENT_ROUTES, matchesRoute, type AdeEvent, type ResourceEvent } from '../../core/events';
import { assessScaleSet, assessVm, describeAssessment } from '../../core/eligibility';
import { toErrorInfo } from '../../core/errors';
import { subscriptionScopeProblem, type EncryptionPolicy } from '../../core/policy';
import { orchestrationInstanceId } from '../../core/names';
import { isResourceType, normaliseResourceId, parseResourceId, parseVmId } from '../../core/resource-ids';
import { scaleSetPolicy } from '../../core/scale-set';
import type { ScaleSetSnapshot, VmSnapshot } from '../../core/vm';
import { eventsOf } from './delivery';
import type { Log } from './log';
import type { StartResult } from './start';

export interface VmWrittenDeps {
  policy: EncryptionPolicy;
  getVm(vmId: string): Promise<VmSnapshot>;
  /** `readSince`: the latest write event's time for the VM (EncryptVmInput.readSince), when the events carried one. */
  start(vmId: string, readSince?: string): Promise<StartResult>;
  /**
   * The runtime status of the VM's encryptVm run when one is active (a Durable status query, no ARM read), else undefined.
   * An active run re-reads the VM itself, so a second event for it (Azure sends one when a write is accepted and another when
   * it completes) costs no ARM read. Optional: without it every event re-reads.
   */
  activeRun?(vmId: string): Promise<string | undefined>;
  /**
   * Scale set writes: re-read the model and start encryptVmss. Optional: without them a scale set write is dropped with
   * the reason.
   */
  getScaleSet?(scaleSetId: string): Promise<ScaleSetSnapshot>;
  startScaleSet?(scaleSetId: string): Promise<StartResult>;
  /** Object id of the app's own identity, to recognise writes the app made itself; undefined if unknown. */
  selfObjectId(): Promise<string | undefined>;
  log: Log;
}

export type VmDecision =
  | { vmId: string; action: 'started' | 'already-running'; instanceId: string }
  | { vmId: string; action: 'planned'; plan: string }
  | { vmId: string; action: 'not-encrypting'; decision: string; summary: string }
  | { vmId: string; action: 'gone' }
  | { vmId: string; action: 'failed'; error: string };

export interface VmWrittenReport {
  dropped: Array<{ reason: string; eventId?: string }>;
  vms: VmDecision[];
}

/** Thrown after every VM was handled when at least one failed, so Event Grid redelivers. */
export class VmWrittenError extends Error {
  constructor(readonly failed: Array<{ vmId: string; error: string }>) {
    super(`vmWritten failed for ${failed.length} VM(s): ${failed.map((f) => `${f.vmId} (${f.error})`).join('; ')}`);
    this.name = 'VmWrittenError';
  }
}

export async function handleVmWritten(body: unknown, deps: VmWrittenDeps): Promise<VmWrittenReport> {
  const { events, malformed } = eventsOf(body, 'vmWritten', deps.log);
  const report: VmWrittenReport = { dropped: malformed.map((reason) => ({ reason })), vms: [] };
  const vmIds = new Map<string, string>();
  /** Per VM, the latest eventTime of its write events: the run reuses no read sent before it. */
  const writeTimes = new Map<string, string>();
  const scaleSetIds = new Map<string, string>();
  let self: string | undefined;
  let selfKnown = false;
  for (const event of events) {
    const drop = (reason: string, level: 'debug' | 'info' = 'debug') => {
      deps.log(level, `vmWritten: ignored event ${event.envelope.id}: ${reason}`);
      report.dropped.push({ reason, eventId: event.envelope.id });
    };
    if (event.kind !== 'resource' || !matchesRoute(EVENT_ROUTES.vmWritten, event)) {
      drop(`not a VM write (${event.eventType})`);
      continue;
    }
    const vmId = event.data.resourceUri;
    // A create may first report a temporary deployment URI: only real VM and scale set ids go on.
    const scaleSet = isScaleSetId(vmId);
    let subscriptionId: string;
    try {
      subscriptionId = scaleSet ? parseResourceId(vmId).subscriptionId : parseVmId(vmId, 'data.resourceUri').subscriptionId;
    } catch {
      drop(`resourceUri is not a VM or scale set id: ${String(event.data.resourceUri).slice(0, 200)}`);
      continue;
    }
    if (scaleSet && (!deps.getScaleSet || !deps.startScaleSet)) {
      drop(`${vmId} is a scale set and this handler has no scale set client`);
      continue;
    }
    const outOfScope = subscriptionScopeProblem(deps.policy, subscriptionId);
    if (outOfScope) {
      drop(outOfScope);
      continue;
    }
    if (!selfKnown) {
      selfKnown = true;
      self = await deps.selfObjectId().catch(() => undefined);
    }
    const caller = callerObjectId(event);
    if (self && caller && sameObjectId(self, caller)) {
      // Info, not debug: operators should see why a write to the VM did not start a run.
      drop(`${vmId} was written by ade-autopilot itself (extension deployment, model update or outcome tags)`, 'info');
      continue;
    }
    const key = normaliseResourceId(vmId);
    const targets = scaleSet ? scaleSetIds : vmIds;
    if (!targets.has(key)) targets.set(key, vmId);
    const time = event.envelope.eventTime;
    if (!scaleSet && time !== undefined && !(Date.parse(writeTimes.get(key) ?? '') >= Date.parse(time))) writeTimes.set(key, time);
  }

  const failed: Array<{ vmId: string; error: string }> = [];
  for (const [key, vmId] of vmIds) {
    try {
      report.vms.push(await handleVm(vmId, deps, writeTimes.get(key)));
    } catch (error) {
      const message = toErrorInfo(error).message;
      deps.log('error', `vmWritten: ${vmId}: ${message}`);
      failed.push({ vmId, error: message });
      report.vms.push({ vmId, action: 'failed', error: message });
    }
  }
  for (const scaleSetId of scaleSetIds.values()) {
    try {
      report.vms.push(await handleScaleSet(scaleSetId, deps));
    } catch (error) {
      const message = toErrorInfo(error).message;
      deps.log('error', `vmWritten: ${scaleSetId}: ${message}`);
      failed.push({ vmId: scaleSetId, error: message });
      report.vms.push({ vmId: scaleSetId, action: 'failed', error: message });
    }
  }
  if (failed.length > 0) throw new VmWrittenError(failed);
  return report;
}

async function handleVm(vmId: string, deps: VmWrittenDeps, writtenAt: string | undefined): Promise<VmDecision> {
  const active = deps.policy.dryRun ? undefined : await deps.activeRun?.(vmId);
  if (active) {
    const instanceId = orchestrationInstanceId(vmId);
    deps.log('info', `vmWritten: encryptVm ${instanceId} for ${vmId} is already ${active}; no re-read`);
    return { vmId, action: 'already-running', instanceId };
  }
  let vm: VmSnapshot;
  try {
    vm = await deps.getVm(vmId);
  } catch (error) {
    if (toErrorInfo(error).kind === 'not-found') {
      deps.log('info', `vmWritten: ${vmId} no longer exists`);
      return { vmId, action: 'gone' };
    }
    throw error;
  }
  const assessment = assessVm(vm, deps.policy);
  const summary = describeAssessment(assessment);
  if (assessment.decision !== 'encrypt') {
    deps.log('info', `vmWritten: ${vm.id}: ${summary}`, { decision: assessment.decision });
    return { vmId: vm.id, action: 'not-encrypting', decision: assessment.decision, summary };
  }
  if (deps.policy.dryRun) {
    deps.log('info', `vmWritten (dry run, nothing started): ${vm.id}: would ${summary}`, { decision: 'encrypt', dryRun: true });
    return { vmId: vm.id, action: 'planned', plan: summary };
  }
  const started = await deps.start(vm.id, writtenAt);
  deps.log(
    'info',
    started.started
      ? `vmWritten: started encryptVm ${started.instanceId} for ${vm.id}`
      : `vmWritten: encryptVm ${started.instanceId} for ${vm.id} is already ${started.runtimeStatus}`,
  );
  return { vmId: vm.id, action: started.started ? 'started' : 'already-running', instanceId: started.instanceId };
}

function isScaleSetId(id: unknown): boolean {
  try {
    return isResourceType(parseResourceId(id), 'Microsoft.Compute/virtualMachineScaleSets');
  } catch {
    return false;
  }
}

/** A scale set write: re-read the model, judge it with the app's policy, start encryptVmss (its run checks instances). */
async function handleScaleSet(scaleSetId: string, deps: VmWrittenDeps): Promise<VmDecision> {
  let set: ScaleSetSnapshot;
  try {
    set = await deps.getScaleSet!(scaleSetId);
  } catch (error) {
    if (toErrorInfo(error).kind === 'not-found') {
      deps.log('info', `vmWritten: scale set ${scaleSetId} no longer exists`);
      return { vmId: scaleSetId, action: 'gone' };
    }
    throw error;
  }
  const assessment = assessScaleSet(set, scaleSetPolicy(deps.policy, set));
  const summary = describeAssessment(assessment);
  // already-encrypted: ADE is on the model, but a Manual set's instances may still be on an older one; the run checks.
  if (assessment.decision !== 'encrypt' && assessment.decision !== 'already-encrypted') {
    deps.log('info', `vmWritten: scale set ${set.id}: ${summary}`, { decision: assessment.decision });
    return { vmId: set.id, action: 'not-encrypting', decision: assessment.decision, summary };
  }
  if (deps.policy.dryRun) {
    deps.log('info', `vmWritten (dry run, nothing started): scale set ${set.id}: would ${summary}`, { decision: 'encrypt', dryRun: true });
    return { vmId: set.id, action: 'planned', plan: summary };
  }
  const started = await deps.startScaleSet!(set.id);
  deps.log(
    'info',
    started.started
      ? `vmWritten: started encryptVmss ${started.instanceId} for ${set.id}`
      : `vmWritten: encryptVmss ${started.instanceId} for ${set.id} is already ${started.runtimeStatus}`,
  );
  return { vmId: set.id, action: started.started ? 'started' : 'already-running', instanceId: started.instanceId };
}

/** The caller's Entra object id from the event's claims or RBAC evidence, when present. */
function callerObjectId(event: ResourceEvent | AdeEvent): string | undefined {
  if (event.kind !== 'resource') return undefined;
  const claims = (event.data.claims ?? {}) as Record<string, unknown>;
  const oid = claims['http://schemas.microsoft.com/identity/claims/objectidentifier'] ?? claims.oid;
  if (typeof oid === 'string' && oid !== '') return oid;
  const evidence = (event.data.authorization?.evidence ?? {}) as Record<string, unknown>;
  return typeof evidence.principalId === 'string' && evidence.principalId !== '' ? evidence.principalId : undefined;
}

/** Object ids appear with or without dashes (RBAC evidence drops them). */
function sameObjectId(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/-/g, '').toLowerCase();
  return norm(a) === norm(b);
}
