/**
 * Starting and querying orchestrations, for every starter of the app (HTTP, Event Grid, timers) and
 * for the activities that start or watch other runs (sweeps).
 *
 * Singleton per id: no start while an instance with that id is active, so two signals for one VM
 * make one run. A concurrent duplicate start that the Durable backend refuses ("already exists")
 * counts as already running, not as an error.
 */
import type { DurableClient } from 'durable-functions';
import { orchestrationInstanceId } from '../../core/names';
import type { EncryptionPolicy } from '../../core/policy';
import { encryptionOrchestratorFor, type EncryptAtHostInput, type EncryptVmInput } from '../../orchestrations/contracts';
import type { OrchestrationControl, OrchestrationStart, OrchestrationStatusView } from '../../orchestrations/remediation-activities';

/** The subset of DurableClient the starters use (tests may pass a fake). */
export type StarterClient = Pick<DurableClient, 'getStatus' | 'startNew'>;

export type StartResult = { instanceId: string; started: true } | { instanceId: string; started: false; runtimeStatus: string };

const ACTIVE = new Set(['Pending', 'Running', 'ContinuedAsNew', 'Suspended']);

/** The JS Durable client throws for an unknown instance (HTTP 404) instead of returning nothing. */
export function isInstanceNotFound(error: unknown): boolean {
  return /not found|no instance|could not find|\b404\b/i.test(error instanceof Error ? error.message : String(error));
}

/** Runtime status and output of an instance; `Unknown` when it does not exist. */
async function instanceStatus(client: Pick<DurableClient, 'getStatus'>, instanceId: string): Promise<OrchestrationStatusView> {
  try {
    const status = await client.getStatus(instanceId, { showHistory: false, showHistoryOutput: false, showInput: false });
    const runtimeStatus = typeof status?.runtimeStatus === 'string' ? status.runtimeStatus : 'Unknown';
    return { instanceId, runtimeStatus, ...(status?.output !== undefined ? { output: status.output } : {}) };
  } catch (error) {
    if (isInstanceNotFound(error)) return { instanceId, runtimeStatus: 'Unknown' };
    throw error;
  }
}

/** Runtime status of an instance; `Unknown` when it does not exist. */
export async function runtimeStatusOf(client: Pick<DurableClient, 'getStatus'>, instanceId: string): Promise<string> {
  return (await instanceStatus(client, instanceId)).runtimeStatus;
}

async function activeStatus(client: StarterClient, instanceId: string): Promise<string | undefined> {
  const { runtimeStatus } = await instanceStatus(client, instanceId);
  return ACTIVE.has(runtimeStatus) ? runtimeStatus : undefined;
}

/** Starts unless an instance with that id is active. */
export async function startSingleton(client: StarterClient, start: OrchestrationStart): Promise<StartResult> {
  const { instanceId } = start;
  const active = await activeStatus(client, instanceId);
  if (active) return { instanceId, started: false, runtimeStatus: active };
  try {
    await client.startNew(start.orchestrator, { instanceId, input: start.input });
    return { instanceId, started: true };
  } catch (error) {
    // Lost a race with another start for the same id: fine when that one is now active.
    const now = await activeStatus(client, instanceId).catch(() => undefined);
    if (now) return { instanceId, started: false, runtimeStatus: now };
    throw error;
  }
}

export interface StartOptions {
  /** An outcome topic is configured (ADE_OUTCOME_TOPIC_ENDPOINT): the run publishes VmEncrypted / EncryptionFailed. */
  publishOutcome?: boolean;
  /** ADE_HEAL_ACTION / ADE_MAINTENANCE_WINDOW, for encryption at host (which needs the VM deallocated). */
  heal?: EncryptAtHostInput['heal'];
  /** The triggering VM write's time (EncryptVmInput.readSince). */
  readSince?: string;
}

/**
 * The encryption run for one VM, under the VM's deterministic instance id: `encryptVm` (ADE) or `encryptAtHost`, as
 * the mode an `encrypt` assessment carries (the policy's; a dual-pass VM keeps ADE) selects.
 */
export function startEncryptVm(
  client: StarterClient,
  vmId: string,
  policy: EncryptionPolicy,
  options: StartOptions = {},
): Promise<StartResult> {
  const input: EncryptVmInput | EncryptAtHostInput = {
    vmId,
    policy,
    ...(options.publishOutcome ? { publishOutcome: true } : {}),
    ...(policy.mode === 'encryption-at-host' && options.heal ? { heal: options.heal } : {}),
    ...(options.readSince !== undefined ? { readSince: options.readSince } : {}),
  };
  return startSingleton(client, { orchestrator: encryptionOrchestratorFor(policy.mode), instanceId: orchestrationInstanceId(vmId), input });
}

/** The runtime status of the VM's `encryptVm` run when it is active (Pending, Running, …), else undefined. */
export function activeEncryptVm(client: StarterClient, vmId: string): Promise<string | undefined> {
  return activeStatus(client, orchestrationInstanceId(vmId));
}

/** What the sweep's activities use to start and watch runs. */
export function orchestrationControl(client: StarterClient): OrchestrationControl {
  return {
    startIfIdle: (start) => startSingleton(client, start),
    status: (instanceId) => instanceStatus(client, instanceId),
  };
}
