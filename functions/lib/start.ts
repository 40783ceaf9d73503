/**
 * Starts `encryptVm` for one VM as a singleton: the deterministic instance id from core/names, and
 * no start while an instance with that id is Pending/Running. A concurrent duplicate start that the
 * Durable backend refuses ("already exists") counts as already running, not as an error.
 */
import type { DurableClient } from 'durable-functions';
import { orchestrationInstanceId } from '../../core/names';
import type { EncryptionPolicy } from '../../core/policy';
import { ENCRYPT_VM_ORCHESTRATOR, type EncryptVmInput } from '../../orchestrations/contracts';

/** The subset of DurableClient the starters use (tests may pass a fake). */
export type StarterClient = Pick<DurableClient, 'getStatus' | 'startNew'>;

export type StartResult = { instanceId: string; started: true } | { instanceId: string; started: false; runtimeStatus: string };

const ACTIVE = new Set(['Pending', 'Running', 'ContinuedAsNew', 'Suspended']);

export interface StartOptions {
  /** An outcome topic is configured (ADE_OUTCOME_TOPIC_ENDPOINT): the run publishes VmEncrypted / EncryptionFailed. */
  publishOutcome?: boolean;
}

export async function startEncryptVm(
  client: StarterClient,
  vmId: string,
  policy: EncryptionPolicy,
  options: StartOptions = {},
): Promise<StartResult> {
  const instanceId = orchestrationInstanceId(vmId);
  const active = await activeStatus(client, instanceId);
  if (active) return { instanceId, started: false, runtimeStatus: active };
  const input: EncryptVmInput = { vmId, policy, ...(options.publishOutcome ? { publishOutcome: true } : {}) };
  try {
    await client.startNew(ENCRYPT_VM_ORCHESTRATOR, { instanceId, input });
    return { instanceId, started: true };
  } catch (error) {
    // Lost a race with another start for the same VM: fine when that one is now active.
    const now = await activeStatus(client, instanceId).catch(() => undefined);
    if (now) return { instanceId, started: false, runtimeStatus: now };
    throw error;
  }
}

async function activeStatus(client: StarterClient, instanceId: string): Promise<string | undefined> {
  let status: { runtimeStatus?: unknown } | undefined;
  try {
    status = await client.getStatus(instanceId, { showHistory: false, showHistoryOutput: false, showInput: false });
  } catch (error) {
    // The JS client throws for an unknown instance (HTTP 404).
    if (/not found|no instance|could not find|\b404\b/i.test(error instanceof Error ? error.message : String(error))) return undefined;
    throw error;
  }
  const runtimeStatus = typeof status?.runtimeStatus === 'string' ? status.runtimeStatus : undefined;
  return runtimeStatus && ACTIVE.has(runtimeStatus) ? runtimeStatus : undefined;
}
