/**
 * Handler cores of the remediation triggers (healVmHttp, alertsHttp, policyStates, armDrift,
 * sweepHttp, bekHealthSweep). They take their Durable client and logger as arguments, so tests drive
 * them without a host; importing this module registers nothing.
 */
import type { HttpRequest } from '@azure/functions';
import { EVENT_ROUTES, matchesRoute, parseCommonAlert, type PolicyStateEvent, type ResourceEvent } from '../../core/events';
import { remediationInstanceId, SWEEP_INSTANCE_ID, vaultRemediationInstanceId } from '../../core/names';
import { subscriptionScopeProblem, type EncryptionPolicy } from '../../core/policy';
import type { RemediationSettings } from '../../core/remediation/settings';
import {
  alertTargets,
  selectArmDriftSignals,
  selectPolicySignals,
  type IgnoredSignal,
  type VmSignal,
} from '../../core/remediation/signals';
import { parseVmId } from '../../core/resource-ids';
import { REMEDIATE_VM_ORCHESTRATOR, SWEEP_ORCHESTRATOR, type RemediationTarget } from '../../orchestrations/contracts';
import type { OrchestrationStart } from '../../orchestrations/remediation-activities';
import type { RemediateVmInput } from '../../orchestrations/remediateVm';
import type { HealSettings } from '../../orchestrations/restoreBek';
import type { SweepInput } from '../../orchestrations/sweep';
import { eventsOf } from './delivery';
import { readJsonBody, readVmIdBody } from './http-body';
import type { Log } from './log';
import { startSingleton, type StarterClient, type StartResult } from './start';

export interface HandlerDeps {
  client: StarterClient;
  policy: EncryptionPolicy;
  settings: RemediationSettings;
  log: Log;
  /** Whether Resource Manager has this VM (a read); throws for failures other than not-found, so Event Grid retries. */
  vmExists(vmId: string): Promise<boolean>;
}

export type StartOutcome = StartResult & { target: string; why: string };

export interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
  /** Set on a 202 (and a sweep's 409): the answer carries the instance id and its `GET /api/runs/{id}` URL (functions/lib/runs.ts). */
  instanceId?: string;
}

export interface EventAnswer {
  started: StartOutcome[];
  ignored: IgnoredSignal[];
  malformed: string[];
}

export function healSettingsOf(s: RemediationSettings): HealSettings {
  return { action: s.healAction, ...(s.maintenanceWindow ? { window: s.maintenanceWindow } : {}) };
}

function remediationStart(
  target: RemediationTarget,
  signal: RemediateVmInput['signal'],
  deps: Pick<HandlerDeps, 'policy' | 'settings'>,
): OrchestrationStart {
  const input: RemediateVmInput = { target, policy: deps.policy, heal: healSettingsOf(deps.settings), signal };
  const instanceId = target.kind === 'vm' ? remediationInstanceId(target.vmId) : vaultRemediationInstanceId(target.vaultId);
  return { orchestrator: REMEDIATE_VM_ORCHESTRATOR, instanceId, input };
}

function scopeProblemOf(vmId: string, policy: EncryptionPolicy): string | undefined {
  try {
    return subscriptionScopeProblem(policy, parseVmId(vmId).subscriptionId);
  } catch (error) {
    return (error as Error).message;
  }
}

async function startVmSignals(signals: VmSignal[], deps: HandlerDeps): Promise<{ started: StartOutcome[]; ignored: IgnoredSignal[] }> {
  const started: StartOutcome[] = [];
  const ignored: IgnoredSignal[] = [];
  for (const s of signals) {
    const outOfScope = scopeProblemOf(s.vmId, deps.policy);
    if (outOfScope) {
      ignored.push({ target: s.vmId, reason: outOfScope });
      continue;
    }
    // A made-up target starts nothing: no run, no instance id to squat on.
    if (!(await deps.vmExists(s.vmId))) {
      ignored.push({ target: s.vmId, reason: 'no such virtual machine' });
      continue;
    }
    const signal = { source: s.source, why: s.why, ...(s.observedAt ? { observedAt: s.observedAt } : {}) };
    const result = await startSingleton(deps.client, remediationStart({ kind: 'vm', vmId: s.vmId }, signal, deps));
    started.push({ target: s.vmId, why: s.why, ...result });
  }
  return { started, ignored };
}

function describeStart(result: StartResult): string {
  return `${result.started ? 'started' : `already ${result.runtimeStatus}:`} ${result.instanceId}`;
}

function logStarts(name: string, started: StartOutcome[], ignored: IgnoredSignal[], log: Log): void {
  for (const s of started) log('info', `${name}: ${describeStart(s)} for ${s.target} (${s.why})`);
  for (const i of ignored) log('debug', `${name}: ignored ${i.target}: ${i.reason}`);
}

/** Policy state events (Event Grid trigger). Malformed events are logged naming the problem; nothing starts for them. */
export async function handlePolicyStates(body: unknown, deps: HandlerDeps): Promise<EventAnswer> {
  const { events, malformed } = eventsOf(body, 'policyStates', deps.log, 'policy event');
  const policyEvents = events.filter((e): e is PolicyStateEvent => e.kind === 'policy-state' && matchesRoute(EVENT_ROUTES.policyStates, e));
  const selection = selectPolicySignals(policyEvents, deps.settings.policyDefinitionIds);
  const { started, ignored } = await startVmSignals(selection.selected, deps);
  const allIgnored = [...selection.ignored, ...ignored];
  logStarts('policyStates', started, allIgnored, deps.log);
  return { started, ignored: allIgnored, malformed };
}

/** Resource Manager drift events (Event Grid trigger): ADE extension deleted, managed vault written. */
export async function handleArmDrift(body: unknown, deps: HandlerDeps): Promise<EventAnswer> {
  const { events, malformed } = eventsOf(body, 'armDrift', deps.log);
  const resourceEvents = events.filter((e): e is ResourceEvent => e.kind === 'resource' && matchesRoute(EVENT_ROUTES.armDrift, e));
  const selection = selectArmDriftSignals(resourceEvents, deps.policy);
  const vmSignals = selection.selected.filter((s): s is VmSignal => 'vmId' in s);
  const { started, ignored } = await startVmSignals(vmSignals, deps);
  for (const s of selection.selected) {
    if ('vmId' in s) continue;
    const start = remediationStart({ kind: 'vault', vaultId: s.vaultId }, { source: s.source, why: s.why }, deps);
    started.push({ target: s.vaultId, why: s.why, ...(await startSingleton(deps.client, start)) });
  }
  const allIgnored = [...selection.ignored, ...ignored];
  logStarts('armDrift', started, allIgnored, deps.log);
  return { started, ignored: allIgnored, malformed };
}

/** `POST /api/alerts`: the common alert schema; each VM target gets a remediation. */
export async function handleAlert(request: Pick<HttpRequest, 'text'>, deps: HandlerDeps): Promise<HttpAnswer> {
  const body = await readJsonBody(request);
  if (!body.ok) return { status: 400, body: { error: body.problem } };
  const alert = parseCommonAlert(body.value);
  if (!alert.ok) return { status: 400, body: { error: alert.error.message, field: alert.error.field } };
  const selection = alertTargets(alert.value);
  const { started, ignored } = await startVmSignals(selection.selected, deps);
  const allIgnored = [...selection.ignored, ...ignored];
  logStarts('alerts', started, allIgnored, deps.log);
  if (started.length === 0) {
    return { status: 422, body: { error: 'the alert names no virtual machine this app can remediate', ignored: allIgnored } };
  }
  const remediations = started.map(({ target, why: _why, ...result }) => ({ vmId: target, ...result }));
  return { status: 202, body: { remediations, ignored: allIgnored } };
}

/** `POST /api/vms/heal`: body `{ "vmId": … }`; runs the BEK check (and any other remediation) for one VM now. */
export async function handleHeal(request: Pick<HttpRequest, 'text'>, deps: HandlerDeps): Promise<HttpAnswer> {
  const vmId = await readVmIdBody(request, deps.policy);
  if (!vmId.ok) return { status: 400, body: { error: vmId.problem } };
  if (!(await deps.vmExists(vmId.value))) return { status: 404, body: { error: `vmId: no such virtual machine ${vmId.value}` } };
  const start = remediationStart({ kind: 'vm', vmId: vmId.value }, { source: 'on-demand', why: 'POST /api/vms/heal' }, deps);
  const result = await startSingleton(deps.client, start);
  deps.log('info', `healVmHttp: ${describeStart(result)}`);
  return { status: 202, body: { ...result }, instanceId: result.instanceId };
}

/** `POST /api/sweep?dryRun=true&kind=backfill|bek-health` (or the same fields in a JSON body). */
export async function handleSweep(request: Pick<HttpRequest, 'text' | 'query'>, deps: HandlerDeps): Promise<HttpAnswer> {
  const expected = 'a JSON object: { "dryRun": true|false, "kind": "backfill"|"bek-health" }';
  let fields: Record<string, unknown> = {};
  const body = await readJsonBody(request, expected);
  if (body.ok) {
    if (!body.value || typeof body.value !== 'object' || Array.isArray(body.value))
      return { status: 400, body: { error: `the body must be ${expected}` } };
    fields = body.value as Record<string, unknown>;
  } else if (!body.empty) return { status: 400, body: { error: body.problem } };
  const dryRunRaw = request.query.get('dryRun') ?? fields.dryRun;
  const dryRun = dryRunRaw === undefined || dryRunRaw === null ? false : String(dryRunRaw).toLowerCase();
  if (dryRun !== false && dryRun !== 'true' && dryRun !== 'false')
    return { status: 400, body: { error: `dryRun must be true or false, got ${JSON.stringify(dryRunRaw)}` } };
  const kind = String(request.query.get('kind') ?? fields.kind ?? 'backfill');
  if (kind !== 'backfill' && kind !== 'bek-health')
    return { status: 400, body: { error: `kind must be "backfill" or "bek-health", got ${JSON.stringify(kind)}` } };
  return startSweep(kind, dryRun === 'true', deps);
}

export async function startSweep(kind: SweepInput['kind'], dryRun: boolean, deps: HandlerDeps): Promise<HttpAnswer> {
  const input: SweepInput = {
    kind,
    policy: deps.policy,
    heal: healSettingsOf(deps.settings),
    dryRun: dryRun || deps.policy.dryRun,
    concurrency: deps.settings.sweepConcurrency,
    readsPerSecond: deps.settings.sweepReadsPerSecond,
    ...(deps.settings.outcomeTopicEndpoint !== undefined ? { publishOutcome: true } : {}),
    ...(kind === 'backfill' ? { scaleSets: true } : {}),
  };
  const result = await startSingleton(deps.client, { orchestrator: SWEEP_ORCHESTRATOR, instanceId: SWEEP_INSTANCE_ID[kind], input });
  deps.log('info', `sweep ${kind}${input.dryRun ? ' (dry run)' : ''}: ${describeStart(result)}`);
  if (!result.started) {
    const error = `a ${kind} sweep is already ${result.runtimeStatus}`;
    return { status: 409, body: { error, instanceId: result.instanceId }, instanceId: result.instanceId };
  }
  return { status: 202, body: { ...result, dryRun: input.dryRun, kind }, instanceId: result.instanceId };
}
