/**
 * Outcome events every orchestration publishes to the optional custom Event Grid topic, so teams can
 * route them to mail, chat or tickets. Event Grid schema (what `EventGridPublisherClient` sends);
 * the id is derived from the orchestration instance, a per-run value, the event type and the VM, so a
 * replayed or retried publish is the same event (subscribers can de-duplicate on it) while a later run
 * on the same VM, which reuses the instance id, publishes a new one.
 *
 * Data carries ids, names, reasons and operator guidance only: never a secret value (the app never
 * reads one), never a credential.
 */
import { createHash } from 'node:crypto';

export const OUTCOME_EVENT_TYPES = {
  vmEncrypted: 'AdeAutopilot.VmEncrypted',
  encryptionFailed: 'AdeAutopilot.EncryptionFailed',
  bekRestored: 'AdeAutopilot.BekRestored',
  driftRemediated: 'AdeAutopilot.DriftRemediated',
  unrecoverable: 'AdeAutopilot.Unrecoverable',
  sweepCompleted: 'AdeAutopilot.SweepCompleted',
  /** The fix needs a person (notify-only heal action, a disabled secret, an RBAC vault). */
  actionRequired: 'AdeAutopilot.ActionRequired',
} as const;

export type OutcomeEventType = (typeof OUTCOME_EVENT_TYPES)[keyof typeof OUTCOME_EVENT_TYPES];

export const OUTCOME_DATA_VERSION = '1.0';

export type OrchestrationName = 'encryptVm' | 'encryptAtHost' | 'encryptVmss' | 'restoreBek' | 'remediateVm' | 'sweep';

export interface OutcomeData {
  orchestration: OrchestrationName;
  instanceId: string;
  /** The affected VM; absent for sweep summaries and vault-only repairs. */
  vmId?: string;
  vaultId?: string;
  /** What was done (`encrypt`, `restore`, `repair-vault`, …) or attempted. */
  action?: string;
  /** Human-readable why / what happened. */
  reason: string;
  /** Unrecoverable only: what an operator can do. */
  operatorAction?: string;
  /** Unrecoverable BEK: which secret(s) and vault(s), by name (not value). */
  secrets?: Array<{ secretName: string; vaultName: string; secretUrl: string }>;
  /** Sweep summaries: counts. */
  counts?: Record<string, number>;
  steps?: string[];
}

export interface OutcomeEvent {
  id: string;
  eventType: OutcomeEventType;
  /** The VM id (or vault id / sweep instance), so Event Grid subject filters work per resource. */
  subject: string;
  eventTime: string;
  dataVersion: typeof OUTCOME_DATA_VERSION;
  data: OutcomeData;
}

/**
 * Builds the event. `eventTime` and `runId` come from the caller: orchestrations pass
 * `currentUtcDateTime` and a `context.df.newGuid(...)` value, both deterministic under replay;
 * `runId` must differ between runs, because instance ids are reused per VM.
 */
export function buildOutcomeEvent(eventType: OutcomeEventType, data: OutcomeData, eventTime: Date, runId: string): OutcomeEvent {
  if (runId === '')
    throw new Error('buildOutcomeEvent: runId is empty; pass a per-run value so later runs on the same VM get new event ids');
  const subject = data.vmId ?? data.vaultId ?? `/ade-autopilot/${data.orchestration}/${data.instanceId}`;
  const id = createHash('sha256').update(`${data.instanceId}|${runId}|${eventType}|${subject.toLowerCase()}`).digest('hex').slice(0, 32);
  const uuid = `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`;
  return {
    id: uuid,
    eventType,
    subject,
    eventTime: eventTime.toISOString(),
    dataVersion: OUTCOME_DATA_VERSION,
    data: pruneUndefined(data),
  };
}

function pruneUndefined(data: OutcomeData): OutcomeData {
  return Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined)) as unknown as OutcomeData;
}

/** The outcome event type for a remediation's action and result. */
export function remediationEventType(action: string, succeeded: boolean): OutcomeEventType {
  if (!succeeded) return action === 'encrypt' ? OUTCOME_EVENT_TYPES.encryptionFailed : OUTCOME_EVENT_TYPES.unrecoverable;
  if (action === 'encrypt') return OUTCOME_EVENT_TYPES.vmEncrypted;
  if (action === 'restore') return OUTCOME_EVENT_TYPES.bekRestored;
  return OUTCOME_EVENT_TYPES.driftRemediated;
}
