/**
 * Durable registrations of the remediation orchestrators (restoreBek, remediateVm, sweep) and their
 * activities, plus the thin handler cores the remediation triggers share (healVmHttp, alertsHttp,
 * policyStates, armDrift, sweepHttp, bekHealthSweep). Handler cores take their Durable client and
 * logger as arguments, so tests drive them without a host.
 *
 * Settings: core/config `AppConfig.remediation` (via functions/lib/app), validated once with every other setting.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { createCredential } from '../azure/clients';
import { createOutcomePublisher } from '../azure/remediation-outcomes';
import {
  EVENT_ROUTES,
  matchesRoute,
  parseCommonAlert,
  parseDelivery,
  splitDelivery,
  type PolicyStateEvent,
  type ResourceEvent,
} from '../core/events';
import type { EncryptionPolicy } from '../core/policy';
import { remediationInstanceId, SWEEP_INSTANCE_ID, vaultRemediationInstanceId } from '../core/remediation/ids';
import type { RemediationSettings } from '../core/remediation/settings';
import { alertTargets, selectArmDriftSignals, selectPolicySignals, type IgnoredSignal, type VmSignal } from '../core/remediation/signals';
import { parseVmId } from '../core/resource-ids';
import {
  remediateVmOrchestrator,
  REMEDIATE_VM_ORCHESTRATOR,
  type RemediateVmInput,
  type RemediationTarget,
} from '../orchestrations/remediateVm';
import {
  CLIENT_ACTIVITIES,
  createRemediationActivities,
  REMEDIATION_ACTIVITY,
  type OrchestrationControl,
  type OrchestrationStart,
  type RemediationActivities,
} from '../orchestrations/remediation-activities';
import { restoreBekOrchestrator, RESTORE_BEK_ORCHESTRATOR, type HealSettings } from '../orchestrations/restoreBek';
import { sweepOrchestrator, SWEEP_ORCHESTRATOR, type SweepInput } from '../orchestrations/sweep';
import { appContext } from './lib/app';
import { contextLog, type Log } from './lib/log';

// ---------------------------------------------------------------------------------------------
// Settings and starting orchestrations

/** The process's remediation settings (validated at app load; a bad setting throws ConfigError). */
export function remediationSettings(): RemediationSettings {
  return appContext().config.remediation;
}

export function healSettingsOf(s: RemediationSettings): HealSettings {
  return { action: s.healAction, ...(s.maintenanceWindow ? { window: s.maintenanceWindow } : {}) };
}

export type StarterClient = Pick<DurableClient, 'getStatus' | 'startNew'>;

const ACTIVE = new Set(['Pending', 'Running', 'ContinuedAsNew', 'Suspended']);

async function runtimeStatusOf(
  client: Pick<DurableClient, 'getStatus'>,
  instanceId: string,
): Promise<{ runtimeStatus: string; output?: unknown }> {
  try {
    const status = await client.getStatus(instanceId, { showHistory: false, showHistoryOutput: false, showInput: false });
    return { runtimeStatus: typeof status?.runtimeStatus === 'string' ? status.runtimeStatus : 'Unknown', output: status?.output };
  } catch (error) {
    if (/not found|no instance|could not find|HTTP 404/i.test(error instanceof Error ? error.message : String(error)))
      return { runtimeStatus: 'Unknown' };
    throw error;
  }
}

/** Starts unless an instance with that id is active: two signals for one VM → one remediation. */
export async function startSingleton(
  client: StarterClient,
  start: OrchestrationStart,
): Promise<{ instanceId: string; started: boolean; runtimeStatus?: string }> {
  const before = await runtimeStatusOf(client, start.instanceId);
  if (ACTIVE.has(before.runtimeStatus)) return { instanceId: start.instanceId, started: false, runtimeStatus: before.runtimeStatus };
  try {
    await client.startNew(start.orchestrator, { instanceId: start.instanceId, input: start.input });
    return { instanceId: start.instanceId, started: true };
  } catch (error) {
    const now = await runtimeStatusOf(client, start.instanceId).catch(() => ({ runtimeStatus: 'Unknown' }));
    if (ACTIVE.has(now.runtimeStatus)) return { instanceId: start.instanceId, started: false, runtimeStatus: now.runtimeStatus };
    throw error;
  }
}

export interface HandlerDeps {
  client: StarterClient;
  policy: EncryptionPolicy;
  settings: RemediationSettings;
  log: Log;
}

export type StartOutcome = { target: string; instanceId: string; started: boolean; runtimeStatus?: string; why: string };

export function remediationStart(
  target: RemediationTarget,
  signal: RemediateVmInput['signal'],
  deps: Pick<HandlerDeps, 'policy' | 'settings'>,
): OrchestrationStart {
  const input: RemediateVmInput = { target, policy: deps.policy, heal: healSettingsOf(deps.settings), signal };
  const instanceId = target.kind === 'vm' ? remediationInstanceId(target.vmId) : vaultRemediationInstanceId(target.vaultId);
  return { orchestrator: REMEDIATE_VM_ORCHESTRATOR, instanceId, input };
}

async function startVmSignals(signals: VmSignal[], deps: HandlerDeps): Promise<{ started: StartOutcome[]; ignored: IgnoredSignal[] }> {
  const started: StartOutcome[] = [];
  const ignored: IgnoredSignal[] = [];
  for (const s of signals) {
    if (!inScope(s.vmId, deps.policy)) {
      ignored.push({ target: s.vmId, reason: "the VM's subscription is not in ADE_SUBSCRIPTIONS" });
      continue;
    }
    const result = await startSingleton(
      deps.client,
      remediationStart(
        { kind: 'vm', vmId: s.vmId },
        { source: s.source, why: s.why, ...(s.observedAt ? { observedAt: s.observedAt } : {}) },
        deps,
      ),
    );
    started.push({ target: s.vmId, why: s.why, ...result });
  }
  return { started, ignored };
}

function inScope(vmId: string, policy: EncryptionPolicy): boolean {
  try {
    const sub = parseVmId(vmId).subscriptionId.toLowerCase();
    return policy.scope.subscriptions.some((s) => s.toLowerCase() === sub);
  } catch {
    return false;
  }
}

function logStarts(name: string, started: StartOutcome[], ignored: IgnoredSignal[], log: Log): void {
  for (const s of started)
    log('info', `${name}: ${s.started ? 'started' : `already ${s.runtimeStatus ?? 'active'}:`} ${s.instanceId} for ${s.target} (${s.why})`);
  for (const i of ignored) log('debug', `${name}: ignored ${i.target}: ${i.reason}`);
}

// ---------------------------------------------------------------------------------------------
// Handler cores

/** Policy state events (Event Grid trigger). Malformed events are logged naming the problem; nothing starts for them. */
export async function handlePolicyStates(
  body: unknown,
  deps: HandlerDeps,
): Promise<{ started: StartOutcome[]; ignored: IgnoredSignal[]; malformed: string[] }> {
  const parsed = parseDelivery(body);
  if (!parsed.ok) {
    deps.log('warn', `policyStates: dropped an unusable delivery: ${parsed.error.message}`);
    return { started: [], ignored: [], malformed: [parsed.error.message] };
  }
  const { events, errors } = splitDelivery(parsed.value);
  for (const e of errors) deps.log('warn', `policyStates: dropped a malformed policy event: ${e.message}`);
  const policyEvents = events.filter((e): e is PolicyStateEvent => e.kind === 'policy-state' && matchesRoute(EVENT_ROUTES.policyStates, e));
  const selection = selectPolicySignals(policyEvents, deps.settings.policyDefinitionIds);
  const { started, ignored } = await startVmSignals(selection.selected, deps);
  const allIgnored = [...selection.ignored, ...ignored];
  logStarts('policyStates', started, allIgnored, deps.log);
  return { started, ignored: allIgnored, malformed: errors.map((e) => e.message) };
}

/** Resource Manager drift events (Event Grid trigger): ADE extension deleted, managed vault written. */
export async function handleArmDrift(
  body: unknown,
  deps: HandlerDeps,
): Promise<{ started: StartOutcome[]; ignored: IgnoredSignal[]; malformed: string[] }> {
  const parsed = parseDelivery(body);
  if (!parsed.ok) {
    deps.log('warn', `armDrift: dropped an unusable delivery: ${parsed.error.message}`);
    return { started: [], ignored: [], malformed: [parsed.error.message] };
  }
  const { events, errors } = splitDelivery(parsed.value);
  for (const e of errors) deps.log('warn', `armDrift: dropped a malformed event: ${e.message}`);
  const resourceEvents = events.filter((e): e is ResourceEvent => e.kind === 'resource' && matchesRoute(EVENT_ROUTES.armDrift, e));
  const selection = selectArmDriftSignals(resourceEvents, deps.policy);
  const vmSignals = selection.selected.filter((s): s is VmSignal => 'vmId' in s);
  const { started, ignored } = await startVmSignals(vmSignals, deps);
  for (const s of selection.selected) {
    if ('vmId' in s) continue;
    const result = await startSingleton(
      deps.client,
      remediationStart({ kind: 'vault', vaultId: s.vaultId }, { source: s.source, why: s.why }, deps),
    );
    started.push({ target: s.vaultId, why: s.why, ...result });
  }
  const allIgnored = [...selection.ignored, ...ignored];
  logStarts('armDrift', started, allIgnored, deps.log);
  return { started, ignored: allIgnored, malformed: errors.map((e) => e.message) };
}

export interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
}

async function jsonBody(request: Pick<HttpRequest, 'text'>): Promise<{ ok: true; value: unknown } | { ok: false; problem: string }> {
  const text = await request.text();
  if (text.trim() === '') return { ok: false, problem: 'the request body is empty; expected JSON' };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, problem: 'the request body is not valid JSON' };
  }
}

/** `POST /api/alerts`: the common alert schema; each VM target gets a remediation. */
export async function handleAlert(request: Pick<HttpRequest, 'text'>, deps: HandlerDeps): Promise<HttpAnswer> {
  const body = await jsonBody(request);
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
  return {
    status: 202,
    body: {
      remediations: started.map(({ target, instanceId, started: s, runtimeStatus }) => ({
        vmId: target,
        instanceId,
        started: s,
        ...(runtimeStatus ? { runtimeStatus } : {}),
      })),
      ignored: allIgnored,
    },
  };
}

/** `POST /api/vms/heal`: body `{ "vmId": … }`; runs the BEK check (and any other remediation) for one VM now. */
export async function handleHeal(request: Pick<HttpRequest, 'text'>, deps: HandlerDeps): Promise<HttpAnswer & { instanceId?: string }> {
  const body = await jsonBody(request);
  if (!body.ok)
    return {
      status: 400,
      body: {
        error: `${body.problem}: { "vmId": "/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>" }`,
      },
    };
  const vmId = body.value && typeof body.value === 'object' ? (body.value as Record<string, unknown>).vmId : undefined;
  if (typeof vmId !== 'string' || vmId.trim() === '')
    return { status: 400, body: { error: 'vmId is required: the full ARM id of the virtual machine' } };
  try {
    parseVmId(vmId.trim(), 'vmId');
  } catch (error) {
    return { status: 400, body: { error: (error as Error).message } };
  }
  if (!inScope(vmId.trim(), deps.policy)) return { status: 400, body: { error: "the VM's subscription is not in ADE_SUBSCRIPTIONS" } };
  const result = await startSingleton(
    deps.client,
    remediationStart({ kind: 'vm', vmId: vmId.trim() }, { source: 'on-demand', why: 'POST /api/vms/heal' }, deps),
  );
  deps.log('info', `healVmHttp: ${result.started ? 'started' : `already ${result.runtimeStatus ?? 'active'}:`} ${result.instanceId}`);
  return { status: 202, body: { ...result }, instanceId: result.instanceId };
}

/** `POST /api/sweep?dryRun=true&kind=backfill|bek-health` (or the same fields in a JSON body). */
export async function handleSweep(
  request: Pick<HttpRequest, 'text' | 'query'>,
  deps: HandlerDeps,
): Promise<HttpAnswer & { instanceId?: string }> {
  const text = await request.text();
  let fields: Record<string, unknown> = {};
  if (text.trim() !== '') {
    try {
      const value = JSON.parse(text) as unknown;
      if (!value || typeof value !== 'object' || Array.isArray(value))
        return {
          status: 400,
          body: { error: 'the body must be a JSON object: { "dryRun": true|false, "kind": "backfill"|"bek-health" }' },
        };
      fields = value as Record<string, unknown>;
    } catch {
      return { status: 400, body: { error: 'the request body is not valid JSON' } };
    }
  }
  const dryRunRaw = request.query.get('dryRun') ?? fields.dryRun;
  const dryRun = dryRunRaw === undefined || dryRunRaw === null ? false : String(dryRunRaw).toLowerCase();
  if (dryRun !== false && dryRun !== 'true' && dryRun !== 'false')
    return { status: 400, body: { error: `dryRun must be true or false, got ${JSON.stringify(dryRunRaw)}` } };
  const kind = String(request.query.get('kind') ?? fields.kind ?? 'backfill');
  if (kind !== 'backfill' && kind !== 'bek-health')
    return { status: 400, body: { error: `kind must be "backfill" or "bek-health", got ${JSON.stringify(kind)}` } };
  return startSweep(kind, dryRun === 'true', deps);
}

export async function startSweep(
  kind: SweepInput['kind'],
  dryRun: boolean,
  deps: HandlerDeps,
): Promise<HttpAnswer & { instanceId?: string }> {
  const input: SweepInput = {
    kind,
    policy: deps.policy,
    heal: healSettingsOf(deps.settings),
    dryRun: dryRun || deps.policy.dryRun,
    concurrency: deps.settings.sweepConcurrency,
    readsPerSecond: deps.settings.sweepReadsPerSecond,
    ...(deps.settings.outcomeTopicEndpoint !== undefined ? { publishOutcome: true } : {}),
  };
  const result = await startSingleton(deps.client, { orchestrator: SWEEP_ORCHESTRATOR, instanceId: SWEEP_INSTANCE_ID[kind], input });
  deps.log(
    'info',
    `sweep ${kind}${input.dryRun ? ' (dry run)' : ''}: ${result.started ? 'started' : `already ${result.runtimeStatus ?? 'running'}`} ${result.instanceId}`,
  );
  if (!result.started)
    return {
      status: 409,
      body: { error: `a ${kind} sweep is already ${result.runtimeStatus ?? 'running'}`, instanceId: result.instanceId },
      instanceId: result.instanceId,
    };
  return { status: 202, body: { ...result, dryRun: input.dryRun, kind }, instanceId: result.instanceId };
}

/** 202 answers carry the Durable check-status links, like the other starters. */
export function answer(client: DurableClient, result: HttpAnswer & { instanceId?: string }): HttpResponseInit {
  if (result.status === 202 && result.instanceId) {
    const links = client.createHttpManagementPayload(result.instanceId);
    return { status: 202, jsonBody: { ...result.body, ...links }, headers: { location: links.statusQueryGetUri, 'retry-after': '10' } };
  }
  return { status: result.status, jsonBody: result.body };
}

/** Everything a trigger needs, built per invocation over the process-wide app context. */
export function handlerDeps(client: DurableClient, context: InvocationContext): HandlerDeps {
  const app = appContext();
  return { client, policy: app.policy, settings: remediationSettings(), log: contextLog(context) };
}

// ---------------------------------------------------------------------------------------------
// Durable registrations

function control(client: DurableClient): OrchestrationControl {
  return {
    startIfIdle: (start) => startSingleton(client, start),
    status: async (instanceId) => ({ instanceId, ...(await runtimeStatusOf(client, instanceId)) }),
  };
}

function activitiesFor(context: InvocationContext, client?: DurableClient): RemediationActivities {
  const app = appContext();
  const s = remediationSettings();
  return createRemediationActivities({
    compute: app.ports.compute,
    vaults: app.ports.vaults,
    keyVault: app.ports.keyVault,
    identity: app.identity,
    ...(client ? { orchestrations: control(client) } : {}),
    ...(s.outcomeTopicEndpoint ? { publisher: outcomePublisher(s.outcomeTopicEndpoint) } : {}),
    log: contextLog(context),
  });
}

let publisher: ReturnType<typeof createOutcomePublisher> | undefined;
function outcomePublisher(endpoint: string) {
  publisher ??= createOutcomePublisher(endpoint, createCredential(appContext().config));
  return publisher;
}

df.app.orchestration(RESTORE_BEK_ORCHESTRATOR, restoreBekOrchestrator);
df.app.orchestration(REMEDIATE_VM_ORCHESTRATOR, remediateVmOrchestrator);
df.app.orchestration(SWEEP_ORCHESTRATOR, sweepOrchestrator);

for (const name of Object.values(REMEDIATION_ACTIVITY)) {
  const needsClient = CLIENT_ACTIVITIES.includes(name);
  df.app.activity(name, {
    ...(needsClient ? { extraInputs: [df.input.durableClient()] } : {}),
    handler: (input: unknown, context: InvocationContext) => {
      const activity = activitiesFor(context, needsClient ? df.getClient(context) : undefined)[name] as (
        input: unknown,
      ) => Promise<unknown>;
      return activity(input);
    },
  });
}
