/**
 * DTFx history events and orchestrator actions, in the exact JSON shapes durable-functions 3 reads
 * (PascalCase events, numeric EventType; see durable-functions' src/history and src/orchestrations:
 * https://github.com/Azure/azure-functions-durable-js).
 */

export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
  GenericEvent: 17,
  HistoryState: 18,
  ExecutionSuspended: 19,
  ExecutionResumed: 20,
} as const;

export const EVENT_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(EventType).map(([k, v]) => [v, k]));

export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

/**
 * The out-of-proc replay schema the host advertises in every orchestrator trigger, as the Durable
 * extension that Azure loads does. durable-functions reads `upperSchemaVersionNew ?? upperSchemaVersion`
 * (ReplaySchema: V1 = 0, V2 = 1, V3 = 2, V4 = 3). The extension bundle range in host.json (`[4.*, 5.0.0)`)
 * cannot be shown to ship Microsoft.Azure.WebJobs.Extensions.DurableTask 3.13.0 or later, the first
 * release that advertises V4 (critical sections), so the host advertises V3: `context.df.lock` throws,
 * and LockEntities / ReleaseEntities actions are refused, as they would be in Azure. Evidence: README.md.
 */
export const OOPROC_SCHEMA = { upperSchemaVersion: 1, upperSchemaVersionNew: 2 } as const;

/** ReplaySchema.V4: the first schema with LockEntities / ReleaseEntities (critical sections). */
export const SCHEMA_V4 = 3;

export const ACTION_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ActionType).map(([k, v]) => [v, k]));

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  [field: string]: unknown;
}

export function historyEvent(type: number, now: number, fields: Record<string, unknown> = {}, eventId = -1): HistoryEvent {
  return { EventType: type, EventId: eventId, IsPlayed: false, Timestamp: new Date(now).toISOString(), ...fields };
}

export interface RetryOptionsJson {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

/** Delay before retry number `failures` (1-based), as DTFx RetryInterceptor computes it. */
export function retryDelayMs(opts: RetryOptionsJson, failures: number): number {
  const coefficient = opts.backoffCoefficient && opts.backoffCoefficient > 0 ? opts.backoffCoefficient : 1;
  let delay = opts.firstRetryIntervalInMilliseconds * Math.pow(coefficient, Math.max(0, failures - 1));
  if (opts.maxRetryIntervalInMilliseconds && opts.maxRetryIntervalInMilliseconds > 0)
    delay = Math.min(delay, opts.maxRetryIntervalInMilliseconds);
  return Math.max(0, delay);
}

/** Depth-first flattening of WhenAll/WhenAny, the order in which the replay allocates ids. */
export function flattenActions(actions: any[], out: any[] = []): any[] {
  for (const a of actions ?? []) {
    if (a && (a.actionType === ActionType.WhenAll || a.actionType === ActionType.WhenAny)) flattenActions(a.compoundActions, out);
    else if (a) out.push(a);
  }
  return out;
}

/** What identifies an action for the nondeterminism check. */
export function actionLabel(a: any): string {
  switch (a.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry:
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry:
      return String(a.functionName);
    case ActionType.WaitForExternalEvent:
      return String(a.externalEventName);
    case ActionType.CallEntity:
    case ActionType.SignalEntity:
      return `${a.instanceId}:${a.operation}`;
    default:
      return '';
  }
}

/** JSON text of an activity/continueAsNew input: the library already JSON-encoded strings (Utils.processInput). */
export function processedInputToJsonText(input: unknown): string {
  if (typeof input === 'string') return input;
  return JSON.stringify(input ?? null);
}

/** JSON text of a raw value, undefined → "null". */
export function toJsonText(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? 'null' : text;
}

export function parseJsonText(text: string | null | undefined): unknown {
  if (text === null || text === undefined || text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Status payload time format: yyyy-MM-ddTHH:mm:ssZ. */
export function statusTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
