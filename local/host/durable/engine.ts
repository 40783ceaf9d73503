/**
 * The durable dispatcher. It drives the app's real durable-functions code through `FunctionRuntime.invoke`:
 * history in → OrchestratorState (actions) out, one new event per orchestrator episode so the ids the
 * library allocates (including the hidden retry-timer ids) stay predictable (the id rules of the Durable
 * extension's OutOfProcOrchestrationShim, https://github.com/Azure/azure-functions-durable-extension).
 *
 * Everything an episode produces (history, status, new messages, consumed message) commits in one SQLite
 * transaction. In-memory state is only a cache of "who is ready"; it is rebuilt from the store on start.
 */
import { randomUUID } from 'node:crypto';
import type { DurableEngineOptions, FunctionRuntime, HostClock, HostLogger, RpcTypedData } from '../contract';
import {
  ActionType,
  ACTION_TYPE_NAMES,
  actionLabel,
  EventType,
  flattenActions,
  historyEvent,
  HistoryEvent,
  OOPROC_SCHEMA,
  parseJsonText,
  processedInputToJsonText,
  retryDelayMs,
  RetryOptionsJson,
  SCHEMA_V4,
  toJsonText,
} from './history';
import { DurableStore, InstanceRow, MessageRow, NewMessage, RuntimeStatus, TERMINAL_STATUSES } from './store';

/** Per-instance bookkeeping persisted in instances.state. */
interface EngineState {
  executionId: string;
  /** Next sequence id the replay will allocate. */
  nextSeq: number;
  /** Actions already turned into history, in flattened order: type, label, id. */
  seen: { t: number; l: string; id?: number }[];
  /** Retryable tasks keyed by the id of what we are waiting for (the attempt or the hidden retry timer). */
  retries: Record<string, RetryRecord>;
  /** Scheduler ids of entities locked by this instance. */
  locks: string[];
}
interface RetryRecord {
  kind: 'activity' | 'sub';
  name: string;
  /** Activity: JSON text; sub-orchestration: JSON text. */
  input: string;
  childInstanceId?: string;
  opts: RetryOptionsJson;
  failures: number;
  waitingOnTimer: boolean;
}

type OrchPayload = { event: HistoryEvent } | { control: 'terminate' | 'suspend' | 'resume'; reason?: string };

interface ActivityPayload {
  instanceId: string;
  executionId: string;
  taskId: number;
  name: string;
  input: string;
}

interface EntityPayload {
  op: 'signal' | 'call' | 'lock' | 'release';
  /** Operation name for signal/call. */
  name?: string;
  /** JSON text of the operation input. */
  input?: string;
  requestId?: string;
  /** Orchestration that sent it (calls, locks, releases, signals from orchestrations). */
  parent?: string;
  lockSet?: string[];
  position?: number;
}

export interface StartOptions {
  name: string;
  instanceId?: string;
  /** JSON text of the input. */
  input: string | null;
  parentId?: string;
  parentTaskId?: number;
}

export class StartConflictError extends Error {}
export class UnknownFunctionError extends Error {}

/**
 * `extensions.durableTask.overridableExistingInstanceStates` (OverridableStates): which existing instance a start with
 * the same id may replace. `NonRunningStates` replaces only a Completed, Failed or Terminated one; `AnyState` replaces
 * any (https://learn.microsoft.com/dotnet/api/microsoft.azure.webjobs.extensions.durabletask.overridablestates).
 * Unset means `AnyState`, the Durable Functions 2.x default: the less forgiving of the extension's defaults.
 */
export type OverridableStates = 'AnyState' | 'NonRunningStates';

export function overridableStatesOf(durableTask: Record<string, unknown> | undefined): OverridableStates {
  const value = durableTask?.overridableExistingInstanceStates;
  if (value === undefined || value === null) return 'AnyState';
  if (typeof value === 'string') {
    const match = (['AnyState', 'NonRunningStates'] as const).find((v) => v.toLowerCase() === value.toLowerCase());
    if (match) return match;
  }
  if (value === 0) return 'AnyState';
  if (value === 1) return 'NonRunningStates';
  throw new Error(
    `host.json extensions.durableTask.overridableExistingInstanceStates must be AnyState or NonRunningStates: got ${JSON.stringify(value)}`,
  );
}

const ORCH_LIMIT_DEFAULT = 10;
/** Upper bound of completions one orchestrator episode delivers (keeps an episode's commit small). */
const MAX_EVENTS_PER_EPISODE = 64;
const ACTIVITY_LIMIT_DEFAULT = 10;

function newState(): EngineState {
  return { executionId: randomUUID(), nextSeq: 0, seen: [], retries: {}, locks: [] };
}

function decodeTypedData(data: RpcTypedData | undefined): unknown {
  if (!data) return undefined;
  if (data.json !== undefined && data.json !== null) return JSON.parse(data.json);
  if (data.string !== undefined && data.string !== null) {
    try {
      return JSON.parse(data.string);
    } catch {
      return data.string;
    }
  }
  if (data.int !== undefined && data.int !== null) return Number(data.int);
  if (data.double !== undefined && data.double !== null) return data.double;
  if (data.bytes) return Buffer.from(data.bytes).toString('base64');
  return undefined;
}

const OUT_OF_PROC_LABEL = '$OutOfProcData$:';

/** The V3 extension's OutOfProcOrchestrationShim message for an action type it does not know. */
function unexpectedActionType(actionType: number): string {
  return `Received an unexpected action type from the out-of-proc function: '$${actionType}'.`;
}

/** Failing orchestrators throw `<x>\n\n$OutOfProcData$:<OrchestratorState JSON>` (durable-functions' Orchestrator). */
function parseOrchestratorFailure(message: string): { state?: any; error: string } {
  const at = message.indexOf(OUT_OF_PROC_LABEL);
  if (at >= 0) {
    try {
      const state = JSON.parse(message.slice(at + OUT_OF_PROC_LABEL.length));
      return { state, error: String(state?.error ?? message.slice(0, at).trim()) };
    } catch {
      /* fall through */
    }
  }
  return { error: message };
}

export function entitySchedulerId(name: string, key: string): string {
  return `@${name.toLowerCase()}@${key}`;
}
export function parseSchedulerId(id: string): { name: string; key: string } {
  const at = id.indexOf('@', 1);
  return { name: id.substring(1, at), key: id.substring(at + 1) };
}

export class DurableDispatcher {
  readonly store: DurableStore;
  private readonly runtime: FunctionRuntime;
  private readonly clock: HostClock;
  private readonly logger: HostLogger;
  private readonly orchLimit: number;
  private readonly activityLimit: number;
  private readonly overridable: OverridableStates;

  private running = false;
  private readonly orchReady = new Set<string>();
  private readonly orchBusy = new Set<string>();
  private readonly entityReady = new Set<string>();
  private readonly entityBusy = new Set<string>();
  private readonly activityQueue: MessageRow[] = [];
  private readonly activityQueued = new Set<number>();
  private readonly activityInFlight = new Set<number>();
  private readonly timers = new Set<{ cancel(): void }>();
  private idleWaiters: (() => void)[] = [];
  /** Waiters for an instance reaching a terminal state (used by startNew ?timeout=). */
  private readonly completionWaiters = new Map<string, Set<() => void>>();

  constructor(options: DurableEngineOptions) {
    this.runtime = options.runtime;
    this.clock = options.clock;
    this.logger = options.logger;
    this.store = new DurableStore(options.stateDir);
    const dt = options.hostJson?.extensions?.durableTask ?? {};
    this.orchLimit = positiveInt(dt.maxConcurrentOrchestratorFunctions, ORCH_LIMIT_DEFAULT);
    this.activityLimit = positiveInt(dt.maxConcurrentActivityFunctions, ACTIVITY_LIMIT_DEFAULT);
    this.overridable = overridableStatesOf(dt);
  }

  /** Why a start may not replace this existing instance (undefined: it may). */
  private startConflict(existing: InstanceRow | undefined): string | undefined {
    if (!existing || this.overridable === 'AnyState' || TERMINAL_STATUSES.has(existing.status)) return undefined;
    return `An Orchestration instance with the status ${existing.status} already exists.`;
  }

  get activityConcurrency(): number {
    return this.activityLimit;
  }

  // ───────────────────────────── lifecycle ─────────────────────────────

  start(): void {
    if (this.running) return;
    this.running = true;
    // Rebuild the ready sets from what the store still holds (this is the crash-recovery path too).
    for (const m of this.store.allMessages()) this.track(m);
    this.pump();
  }

  stop(): void {
    this.running = false;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    this.orchReady.clear();
    this.entityReady.clear();
    this.activityQueue.length = 0;
    this.activityQueued.clear();
    this.store.close();
    this.notifyIdle(true);
  }

  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  waitForTerminal(instanceId: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.completionWaiters.get(instanceId) ?? new Set();
      this.completionWaiters.set(instanceId, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      set.add(done);
    });
  }

  private isIdle(): boolean {
    const now = this.clock.now();
    const orchPending = [...this.orchReady].some((id) => this.nextOrchMessage(id, now) !== undefined);
    const entityPending = [...this.entityReady].some((id) => this.nextEntityMessage(id, now) !== undefined);
    return (
      !orchPending &&
      !entityPending &&
      this.orchBusy.size === 0 &&
      this.entityBusy.size === 0 &&
      this.activityQueue.length === 0 &&
      this.activityInFlight.size === 0
    );
  }

  private notifyIdle(force = false): void {
    if (this.idleWaiters.length === 0) return;
    if (!force && !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  // ───────────────────────────── scheduling ─────────────────────────────

  /** Makes a stored message visible to the dispatcher (now, or via the clock when it is due later). */
  private track(m: MessageRow): void {
    if (!this.running) return;
    const delay = m.dueAt - this.clock.now();
    if (delay > 0) {
      const handle = this.clock.setTimeout(() => {
        this.timers.delete(handle);
        this.track({ ...m, dueAt: 0 });
        this.pump();
      }, delay);
      this.timers.add(handle);
      return;
    }
    if (m.kind === 'orch') this.orchReady.add(m.target);
    else if (m.kind === 'entity') this.entityReady.add(m.target);
    else if (!this.activityInFlight.has(m.id) && !this.activityQueued.has(m.id)) {
      this.activityQueued.add(m.id);
      this.activityQueue.push(m);
    }
  }

  private pumpScheduled = false;
  /**
   * Coalesces wake-ups into one pass. setImmediate (not a microtask) so HTTP I/O interleaves with dispatch:
   * with synchronous activities a whole orchestration could otherwise run inside one microtask chain.
   */
  private pump(): void {
    if (this.pumpScheduled || !this.running) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    if (!this.running) return;
    for (const id of this.orchReady) {
      if (this.orchBusy.size >= this.orchLimit) break;
      if (this.orchBusy.has(id)) continue;
      this.orchReady.delete(id);
      this.orchBusy.add(id);
      void this.guard(
        'orchestration',
        id,
        () => this.runOrchestrationEpisode(id),
        (message) => this.failInstanceOnHostError(id, message),
      ).finally(() => this.afterWork(this.orchBusy, this.orchReady, id));
    }
    for (const id of this.entityReady) {
      if (this.entityBusy.has(id)) continue;
      this.entityReady.delete(id);
      this.entityBusy.add(id);
      void this.guard(
        'entity',
        id,
        () => this.runEntityEpisode(id),
        () => this.dropEntityMessageOnHostError(id),
      ).finally(() => this.afterWork(this.entityBusy, this.entityReady, id));
    }
    while (this.activityInFlight.size < this.activityLimit && this.activityQueue.length > 0) {
      const m = this.activityQueue.shift()!;
      this.activityQueued.delete(m.id);
      this.activityInFlight.add(m.id);
      void this.guard(
        'activity',
        m.target,
        () => this.runActivity(m),
        () => undefined,
      ).finally(() => {
        this.activityInFlight.delete(m.id);
        this.pump();
        this.notifyIdle();
      });
    }
    this.notifyIdle();
  }

  /**
   * Runs one unit of work; a host-side failure (not an app failure, those are history) is logged and handled by
   * `onError` so a bad message can neither crash the process nor spin forever.
   */
  private async guard(kind: string, target: string, work: () => Promise<void>, onError: (message: string) => void): Promise<void> {
    try {
      await work();
    } catch (err) {
      if (!this.running) return;
      const message = err instanceof Error ? err.message : String(err);
      this.logger.log('error', 'Host.Triggers.DurableTask', `host error in ${kind} '${target}': ${message}`, { kind, target });
      try {
        onError(message);
      } catch (again) {
        this.logger.log(
          'error',
          'Host.Triggers.DurableTask',
          `could not record the host error for ${kind} '${target}': ${again instanceof Error ? again.message : String(again)}`,
          { kind, target },
        );
      }
    }
  }

  private failInstanceOnHostError(instanceId: string, message: string): void {
    const now = this.clock.now();
    this.commit(() => {
      const inst = this.store.getInstance(instanceId);
      this.store.deleteMessagesFor('orch', instanceId);
      if (!inst || TERMINAL_STATUSES.has(inst.status)) return;
      const output = toJsonText(`Host error while running orchestrator function '${inst.name}': ${message}`);
      this.store.appendHistory(instanceId, [
        historyEvent(EventType.ExecutionCompleted, now, { OrchestrationStatus: 'Failed', Result: output }),
      ]);
      this.store.updateInstance({ ...inst, status: 'Failed', output, updatedAt: now });
    });
    this.notifyTerminal(instanceId);
  }

  private dropEntityMessageOnHostError(entityId: string): void {
    const next = this.nextEntityMessage(entityId, this.clock.now());
    if (next) this.commit(() => this.store.deleteMessage(next.msg.id));
  }

  private afterWork(busy: Set<string>, ready: Set<string>, id: string): void {
    busy.delete(id);
    // The instance may have more due messages; a no-op episode clears it from the ready set.
    if (this.running && this.hasDue(busy === this.orchBusy ? 'orch' : 'entity', id)) ready.add(id);
    this.pump();
    this.notifyIdle();
  }

  private hasDue(kind: 'orch' | 'entity', id: string): boolean {
    const now = this.clock.now();
    return kind === 'orch' ? this.nextOrchMessage(id, now) !== undefined : this.nextEntityMessage(id, now) !== undefined;
  }

  /** Commits `fn` and then makes the messages it queued visible. */
  private commit(fn: (queue: (m: NewMessage) => void) => void): void {
    if (!this.running) return;
    const queued: MessageRow[] = [];
    this.store.tx(() => {
      fn((m) => {
        const id = this.store.insertMessage(m);
        queued.push({ id, kind: m.kind, target: m.target, payload: '', dueAt: m.dueAt });
      });
    });
    for (const m of queued) {
      // Activities need their payload in memory; orchestration/entity messages are re-read from the store.
      if (m.kind === 'activity') this.track(this.store.getMessage(m.id) ?? m);
      else this.track(m);
    }
    this.pump();
  }

  // ───────────────────────────── client operations ─────────────────────────────

  startOrchestration(opts: StartOptions): string {
    const fn = this.runtime.get(opts.name);
    if (!fn || fn.trigger.type !== 'orchestrationTrigger')
      throw new UnknownFunctionError(`The function '${opts.name}' doesn't exist, is disabled, or is not an orchestrator function.`);
    const instanceId = opts.instanceId || randomUUID().replace(/-/g, '');
    const now = this.clock.now();
    this.commit((queue) => {
      const existing = this.store.getInstance(instanceId);
      if (existing) {
        const conflict = this.startConflict(existing);
        if (conflict) throw new StartConflictError(conflict);
        this.store.deleteInstance(instanceId);
      }
      this.store.insertInstance({
        id: instanceId,
        name: opts.name,
        status: 'Pending',
        input: opts.input,
        output: null,
        customStatus: null,
        createdAt: now,
        updatedAt: now,
        parentId: opts.parentId ?? null,
        parentTaskId: opts.parentTaskId ?? null,
        state: JSON.stringify(newState()),
      });
      queue(this.executionStartedMessage(instanceId, opts.name, opts.input, now, opts.parentId));
    });
    return instanceId;
  }

  private executionStartedMessage(
    instanceId: string,
    name: string,
    input: string | null,
    now: number,
    parentId?: string | null,
  ): NewMessage {
    const event = historyEvent(EventType.ExecutionStarted, now, {
      Name: name,
      Input: input ?? 'null',
      Version: '',
      OrchestrationInstance: { InstanceId: instanceId },
      ...(parentId ? { ParentInstance: { OrchestrationInstance: { InstanceId: parentId } } } : {}),
    });
    return { kind: 'orch', target: instanceId, payload: { event } satisfies OrchPayload, dueAt: now };
  }

  raiseEvent(instanceId: string, eventName: string, inputJson: string | null): void {
    const now = this.clock.now();
    this.commit((queue) => {
      queue({
        kind: 'orch',
        target: instanceId,
        dueAt: now,
        payload: { event: historyEvent(EventType.EventRaised, now, { Name: eventName, Input: inputJson ?? '' }) },
      });
    });
  }

  control(instanceId: string, control: 'terminate' | 'suspend' | 'resume', reason?: string): void {
    const now = this.clock.now();
    this.commit((queue) => queue({ kind: 'orch', target: instanceId, dueAt: now, payload: { control, reason } satisfies OrchPayload }));
  }

  purge(instanceId: string): boolean {
    let existed = false;
    this.commit(() => {
      existed = this.store.deleteInstance(instanceId);
    });
    return existed;
  }

  signalEntity(name: string, key: string, operation: string, inputJson: string | undefined): void {
    const now = this.clock.now();
    this.commit((queue) =>
      queue({
        kind: 'entity',
        target: entitySchedulerId(name, key),
        dueAt: now,
        payload: { op: 'signal', name: operation, input: inputJson, requestId: randomUUID() } satisfies EntityPayload,
      }),
    );
  }

  // ───────────────────────────── orchestrations ─────────────────────────────

  private nextOrchMessage(instanceId: string, now: number): { msg: MessageRow; payload: OrchPayload } | undefined {
    const inst = this.store.getInstance(instanceId);
    for (const msg of this.store.messagesFor('orch', instanceId)) {
      if (msg.dueAt > now) continue;
      const payload = JSON.parse(msg.payload) as OrchPayload;
      // While suspended only control messages are processed; events wait (Azure buffers them too).
      if (inst?.status === 'Suspended' && !('control' in payload)) continue;
      return { msg, payload };
    }
    return undefined;
  }

  private async runOrchestrationEpisode(instanceId: string): Promise<void> {
    if (!this.running) return;
    const now = this.clock.now();
    const next = this.nextOrchMessage(instanceId, now);
    if (!next) return;
    const { msg, payload } = next;
    const inst = this.store.getInstance(instanceId);
    if (!inst || TERMINAL_STATUSES.has(inst.status)) {
      // Late events for finished or purged instances are dropped, as in Azure.
      this.commit(() => this.store.deleteMessage(msg.id));
      return;
    }
    if ('control' in payload) {
      this.applyControl(inst, msg, payload, now);
      return;
    }
    const state = JSON.parse(inst.state) as EngineState;
    const event = payload.event;
    const stored = this.store.history(instanceId);
    if (event.EventType === EventType.ExecutionStarted && stored.some((e) => e.EventType === EventType.ExecutionStarted)) {
      this.commit(() => this.store.deleteMessage(msg.id));
      return;
    }
    if (event.EventType === EventType.ExecutionStarted) {
      this.logger.log('information', 'Host.Triggers.DurableTask', `Orchestration '${inst.name}' (${instanceId}) started`, {
        instanceId,
        function: inst.name,
      });
    }
    const past = stored.map((e) => ({ ...e, IsPlayed: true }));
    const newEvents: HistoryEvent[] = [historyEvent(EventType.OrchestratorStarted, now)];
    const newMessages: NewMessage[] = [];
    const consumed = this.collectBatch(instanceId, state, msg, event, now);
    for (const { event: e } of consumed) {
      newEvents.push({ ...e, Timestamp: e.Timestamp ?? new Date(now).toISOString() });
      // Hidden ids the replay allocates while processing this event (retry timers and rescheduled attempts).
      this.allocateHiddenRetryIds(instanceId, state, e, now, newEvents, newMessages);
    }

    const history = [...past, ...newEvents];
    let orchestratorState: any;
    let failure: string | undefined;
    try {
      const result = await this.runtime.invoke(inst.name, {
        triggerData: {
          string: JSON.stringify({
            history,
            input: parseJsonText(inst.input),
            instanceId,
            isReplaying: false,
            parentInstanceId: inst.parentId ?? '',
            ...OOPROC_SCHEMA,
            longRunningTimerIntervalDuration: '3.00:00:00',
            maximumShortTimerDuration: '3650.00:00:00',
            defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
          }),
        },
      });
      orchestratorState = decodeTypedData(result.returnValue);
      if (!orchestratorState || typeof orchestratorState !== 'object')
        failure = `Orchestrator function '${inst.name}' returned no orchestrator state.`;
    } catch (err) {
      const parsed = parseOrchestratorFailure(err instanceof Error ? err.message : String(err));
      orchestratorState = parsed.state;
      failure = `Orchestrator function '${inst.name}' failed: ${parsed.error}`;
    }
    if (!this.running) return;

    const fresh = this.store.getInstance(instanceId);
    if (!fresh || fresh.state !== inst.state) return; // purged or changed underneath us: drop this episode

    // Turn new actions into history + messages.
    let nondeterminism: string | undefined;
    let continueAsNewInput: string | undefined;
    if (orchestratorState?.actions) {
      const flat = flattenActions(orchestratorState.actions.flat ? orchestratorState.actions.flat() : []);
      nondeterminism = this.processActions(instanceId, inst, state, flat, now, newEvents, newMessages);
      const can = flat.find((a) => a.actionType === ActionType.ContinueAsNew);
      if (can) continueAsNewInput = processedInputToJsonText(can.input);
    }
    if (nondeterminism) failure = `Orchestrator function '${inst.name}' failed: ${nondeterminism}`;

    const customStatus =
      orchestratorState && orchestratorState.customStatus !== undefined ? toJsonText(orchestratorState.customStatus) : inst.customStatus;
    const updated: InstanceRow = { ...inst, status: 'Running', customStatus, updatedAt: now };
    let terminal = false;
    let resetForContinueAsNew = false;

    if (failure) {
      newEvents.push(historyEvent(EventType.OrchestratorCompleted, now));
      newEvents.push(historyEvent(EventType.ExecutionCompleted, now, { OrchestrationStatus: 'Failed', Result: toJsonText(failure) }));
      updated.status = 'Failed';
      updated.output = toJsonText(failure);
      terminal = true;
      this.logger.log('warning', 'Host.Triggers.DurableTask', `${instanceId}: ${failure}`, { instanceId, function: inst.name });
      if (inst.parentId !== null && inst.parentTaskId !== null) {
        newMessages.push({
          kind: 'orch',
          target: inst.parentId,
          dueAt: now,
          payload: {
            event: historyEvent(EventType.SubOrchestrationInstanceFailed, now, {
              TaskScheduledId: inst.parentTaskId,
              Reason: failure,
              Details: '',
            }),
          },
        });
      }
    } else if (orchestratorState?.isDone) {
      newEvents.push(historyEvent(EventType.OrchestratorCompleted, now));
      if (continueAsNewInput !== undefined) {
        resetForContinueAsNew = true;
        updated.input = continueAsNewInput;
        updated.status = 'Running';
      } else {
        const output = toJsonText(orchestratorState.output);
        newEvents.push(historyEvent(EventType.ExecutionCompleted, now, { OrchestrationStatus: 'Completed', Result: output }));
        updated.status = 'Completed';
        updated.output = output;
        terminal = true;
        this.logger.log('information', 'Host.Triggers.DurableTask', `Orchestration '${inst.name}' (${instanceId}) completed`, {
          instanceId,
          function: inst.name,
        });
        if (inst.parentId !== null && inst.parentTaskId !== null) {
          newMessages.push({
            kind: 'orch',
            target: inst.parentId,
            dueAt: now,
            payload: {
              event: historyEvent(EventType.SubOrchestrationInstanceCompleted, now, {
                TaskScheduledId: inst.parentTaskId,
                Result: output,
              }),
            },
          });
        }
      }
    } else {
      newEvents.push(historyEvent(EventType.OrchestratorCompleted, now));
    }

    if (terminal || resetForContinueAsNew) this.releaseLocks(instanceId, state, now, newMessages);

    this.commit((queue) => {
      for (const c of consumed) this.store.deleteMessage(c.msg.id);
      if (resetForContinueAsNew) {
        // A new execution: fresh history and ids; queued external events carry over, old completions don't.
        this.store.clearHistory(instanceId);
        for (const m of this.store.messagesFor('orch', instanceId)) {
          const p = JSON.parse(m.payload) as OrchPayload;
          if (!('control' in p) && p.event.EventType !== EventType.EventRaised) this.store.deleteMessage(m.id);
        }
        const fresh = newState();
        updated.state = JSON.stringify(fresh);
        updated.output = null;
        queue(this.executionStartedMessage(instanceId, inst.name, updated.input, now, inst.parentId));
      } else {
        this.store.appendHistory(
          instanceId,
          newEvents.map((e) => ({ ...e, IsPlayed: false })),
        );
        updated.state = JSON.stringify(state);
      }
      if (terminal) this.store.deleteMessagesFor('orch', instanceId);
      this.store.updateInstance(updated);
      for (const m of newMessages) {
        if (m.kind === 'orch' && (m.payload as any).event?.ParentInstance) this.createChild(m, now, queue);
        else queue(m);
      }
    });
    if (terminal) this.notifyTerminal(instanceId);
  }

  /** Creates a sub-orchestration instance (inside the parent's transaction), or fails the parent's task. */
  private createChild(m: NewMessage, now: number, queue: (m: NewMessage) => void): void {
    const event = (m.payload as { event: HistoryEvent }).event as any;
    const childId: string = event.OrchestrationInstance.InstanceId;
    const parentId: string = event.ParentInstance.OrchestrationInstance.InstanceId;
    const taskId: number = event.ParentInstance.TaskScheduleId;
    const fn = this.runtime.get(event.Name);
    const existing = this.store.getInstance(childId);
    let problem: string | undefined;
    if (!fn || fn.trigger.type !== 'orchestrationTrigger')
      problem = `The function '${event.Name}' doesn't exist, is disabled, or is not an orchestrator function.`;
    else problem = this.startConflict(existing);
    if (problem) {
      queue({
        kind: 'orch',
        target: parentId,
        dueAt: now,
        payload: {
          event: historyEvent(EventType.SubOrchestrationInstanceFailed, now, {
            TaskScheduledId: taskId,
            Reason: `Sub-orchestration '${event.Name}' (instance '${childId}') could not start: ${problem}`,
            Details: '',
          }),
        },
      });
      return;
    }
    if (existing) this.store.deleteInstance(childId);
    this.store.insertInstance({
      id: childId,
      name: event.Name,
      status: 'Pending',
      input: event.Input,
      output: null,
      customStatus: null,
      createdAt: now,
      updatedAt: now,
      parentId,
      parentTaskId: taskId,
      state: JSON.stringify(newState()),
    });
    queue(m);
  }

  /**
   * The events one episode delivers. Completions that make the replay allocate no hidden ids (anything not tied to
   * a retry) are batched — their order in history is their queue order, so ids stay predictable. Retry-related
   * events, external events (which must survive a continueAsNew), starts and control messages go one at a time.
   */
  private collectBatch(
    instanceId: string,
    state: EngineState,
    first: MessageRow,
    firstEvent: HistoryEvent,
    now: number,
  ): { msg: MessageRow; event: HistoryEvent }[] {
    const batch = [{ msg: first, event: firstEvent }];
    if (!this.isBatchable(state, firstEvent)) return batch;
    for (const m of this.store.messagesFor('orch', instanceId)) {
      if (m.id <= first.id || m.dueAt > now) continue;
      if (batch.length >= MAX_EVENTS_PER_EPISODE) break;
      const p = JSON.parse(m.payload) as OrchPayload;
      if ('control' in p || !this.isBatchable(state, p.event)) break;
      batch.push({ msg: m, event: p.event });
    }
    return batch;
  }

  private isBatchable(state: EngineState, e: HistoryEvent | null | undefined): boolean {
    if (!e) return false;
    switch (e.EventType) {
      case EventType.TaskCompleted:
      case EventType.SubOrchestrationInstanceCompleted:
        return true;
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceFailed:
        return state.retries[String(e.TaskScheduledId)] === undefined;
      case EventType.TimerFired:
        return state.retries[String(e.TimerId)] === undefined;
      default:
        return false;
    }
  }

  private notifyTerminal(instanceId: string): void {
    const waiters = this.completionWaiters.get(instanceId);
    if (!waiters) return;
    this.completionWaiters.delete(instanceId);
    for (const w of [...waiters]) w();
  }

  private applyControl(inst: InstanceRow, msg: MessageRow, payload: Extract<OrchPayload, { control: string }>, now: number): void {
    const state = JSON.parse(inst.state) as EngineState;
    const events: HistoryEvent[] = [];
    const newMessages: NewMessage[] = [];
    const updated: InstanceRow = { ...inst, updatedAt: now };
    let terminal = false;
    if (payload.control === 'terminate') {
      events.push(historyEvent(EventType.ExecutionTerminated, now, { Input: toJsonText(payload.reason ?? '') }));
      updated.status = 'Terminated';
      updated.output = toJsonText(payload.reason ?? '');
      terminal = true;
      this.releaseLocks(inst.id, state, now, newMessages);
      if (inst.parentId !== null && inst.parentTaskId !== null) {
        newMessages.push({
          kind: 'orch',
          target: inst.parentId,
          dueAt: now,
          payload: {
            event: historyEvent(EventType.SubOrchestrationInstanceFailed, now, {
              TaskScheduledId: inst.parentTaskId,
              Reason: `Sub-orchestration '${inst.id}' was terminated: ${payload.reason ?? ''}`,
              Details: '',
            }),
          },
        });
      }
    } else if (payload.control === 'suspend') {
      if (inst.status !== 'Suspended') {
        events.push(historyEvent(EventType.ExecutionSuspended, now, { Reason: payload.reason ?? '' }));
        updated.status = 'Suspended';
      }
    } else if (inst.status === 'Suspended') {
      events.push(historyEvent(EventType.ExecutionResumed, now, { Reason: payload.reason ?? '' }));
      updated.status = 'Running';
    }
    this.commit((queue) => {
      this.store.deleteMessage(msg.id);
      this.store.appendHistory(inst.id, events);
      updated.state = JSON.stringify(state);
      this.store.updateInstance(updated);
      if (terminal) this.store.deleteMessagesFor('orch', inst.id);
      for (const m of newMessages) queue(m);
    });
    if (terminal) this.notifyTerminal(inst.id);
  }

  private allocateHiddenRetryIds(
    instanceId: string,
    state: EngineState,
    event: HistoryEvent,
    now: number,
    events: HistoryEvent[],
    messages: NewMessage[],
  ): void {
    const failed = event.EventType === EventType.TaskFailed || event.EventType === EventType.SubOrchestrationInstanceFailed;
    if (failed) {
      const key = String(event.TaskScheduledId);
      const rec = state.retries[key];
      if (!rec || rec.waitingOnTimer) return;
      delete state.retries[key];
      rec.failures++;
      rec.waitingOnTimer = true;
      const timerId = state.nextSeq++;
      const fireAt = new Date(now + retryDelayMs(rec.opts, rec.failures)).toISOString();
      events.push(historyEvent(EventType.TimerCreated, now, { FireAt: fireAt }, timerId));
      messages.push({
        kind: 'orch',
        target: instanceId,
        dueAt: Date.parse(fireAt),
        payload: { event: historyEvent(EventType.TimerFired, Date.parse(fireAt), { TimerId: timerId, FireAt: fireAt }) },
      });
      state.retries[String(timerId)] = rec;
      return;
    }
    if (event.EventType === EventType.TimerFired) {
      const key = String(event.TimerId);
      const rec = state.retries[key];
      if (!rec) return;
      delete state.retries[key];
      rec.waitingOnTimer = false;
      if (rec.failures >= rec.opts.maxNumberOfAttempts) return; // the replay throws the last error now
      const taskId = state.nextSeq++;
      state.retries[String(taskId)] = rec;
      this.scheduleTask(instanceId, state, rec, taskId, now, events, messages);
    }
  }

  private scheduleTask(
    instanceId: string,
    state: EngineState,
    rec: RetryRecord,
    taskId: number,
    now: number,
    events: HistoryEvent[],
    messages: NewMessage[],
  ): void {
    if (rec.kind === 'activity') {
      events.push(historyEvent(EventType.TaskScheduled, now, { Name: rec.name, Input: rec.input }, taskId));
      messages.push({
        kind: 'activity',
        target: instanceId,
        dueAt: now,
        payload: { instanceId, executionId: state.executionId, taskId, name: rec.name, input: rec.input } satisfies ActivityPayload,
      });
    } else {
      const childId = rec.childInstanceId ?? `${instanceId}:${taskId}`;
      events.push(
        historyEvent(EventType.SubOrchestrationInstanceCreated, now, { Name: rec.name, InstanceId: childId, Input: rec.input }, taskId),
      );
      messages.push(...this.subOrchestrationMessages(instanceId, taskId, rec.name, childId, rec.input, now));
    }
  }

  /** Sub-orchestration start, done inside the parent's commit via a marker message handled below. */
  private subOrchestrationMessages(
    parentId: string,
    taskId: number,
    name: string,
    childId: string,
    input: string,
    now: number,
  ): NewMessage[] {
    return [
      {
        kind: 'orch',
        target: childId,
        dueAt: now,
        payload: {
          event: historyEvent(EventType.ExecutionStarted, now, {
            Name: name,
            Input: input,
            Version: '',
            OrchestrationInstance: { InstanceId: childId },
            ParentInstance: { OrchestrationInstance: { InstanceId: parentId }, TaskScheduleId: taskId },
          }),
        },
      },
    ];
  }

  /**
   * Checks the already-seen prefix and turns new actions into history events and messages.
   * Returns a nondeterminism message when the replay diverged from recorded history.
   */
  private processActions(
    instanceId: string,
    inst: InstanceRow,
    state: EngineState,
    flat: any[],
    now: number,
    events: HistoryEvent[],
    messages: NewMessage[],
  ): string | undefined {
    for (let i = 0; i < Math.min(flat.length, state.seen.length); i++) {
      const seen = state.seen[i];
      const a = flat[i];
      if (seen.t !== a.actionType || seen.l !== actionLabel(a)) {
        return (
          `Non-Deterministic workflow detected: a previous execution of this orchestration scheduled ` +
          `${ACTION_TYPE_NAMES[seen.t]} '${seen.l}'` +
          `${seen.id !== undefined ? ` with sequence ID ${seen.id}` : ''} at position ${i}, but the replay now ` +
          `schedules ${ACTION_TYPE_NAMES[a.actionType]} '${actionLabel(a)}'.` +
          ' Was a change made to the orchestrator code after this instance had already started running?'
        );
      }
      if (a.actionType === ActionType.CreateTimer && a.isCanceled && seen.id !== undefined) this.cancelTimer(instanceId, seen.id);
    }
    for (let i = state.seen.length; i < flat.length; i++) {
      const a = flat[i];
      const entry: { t: number; l: string; id?: number } = { t: a.actionType, l: actionLabel(a) };
      switch (a.actionType) {
        case ActionType.CallActivity:
        case ActionType.CallActivityWithRetry: {
          const id = (entry.id = state.nextSeq++);
          const rec: RetryRecord = {
            kind: 'activity',
            name: a.functionName,
            input: processedInputToJsonText(a.input),
            opts: a.retryOptions,
            failures: 0,
            waitingOnTimer: false,
          };
          if (a.actionType === ActionType.CallActivityWithRetry) state.retries[String(id)] = rec;
          this.scheduleTask(instanceId, state, rec, id, now, events, messages);
          break;
        }
        case ActionType.CallSubOrchestrator:
        case ActionType.CallSubOrchestratorWithRetry: {
          const id = (entry.id = state.nextSeq++);
          const rec: RetryRecord = {
            kind: 'sub',
            name: a.functionName,
            input: toJsonText(a.input),
            childInstanceId: a.instanceId || undefined,
            opts: a.retryOptions,
            failures: 0,
            waitingOnTimer: false,
          };
          if (a.actionType === ActionType.CallSubOrchestratorWithRetry) state.retries[String(id)] = rec;
          this.scheduleTask(instanceId, state, rec, id, now, events, messages);
          break;
        }
        case ActionType.CreateTimer: {
          const id = (entry.id = state.nextSeq++);
          const fireAt = new Date(a.fireAt).toISOString();
          events.push(historyEvent(EventType.TimerCreated, now, { FireAt: fireAt }, id));
          if (!a.isCanceled) {
            const due = Date.parse(fireAt);
            messages.push({
              kind: 'orch',
              target: instanceId,
              dueAt: due,
              payload: { event: historyEvent(EventType.TimerFired, due, { TimerId: id, FireAt: fireAt }) },
            });
          }
          break;
        }
        case ActionType.WaitForExternalEvent:
        case ActionType.ContinueAsNew:
          break;
        case ActionType.CallEntity:
        case ActionType.SignalEntity: {
          const id = (entry.id = state.nextSeq++);
          const isSignal = a.actionType === ActionType.SignalEntity;
          const requestId = randomUUID();
          const input = a.input === undefined ? undefined : toJsonText(a.input);
          const request = { id: requestId, op: a.operation, signal: isSignal, input, parent: instanceId };
          events.push(historyEvent(EventType.EventSent, now, { InstanceId: a.instanceId, Name: 'op', Input: JSON.stringify(request) }, id));
          messages.push({
            kind: 'entity',
            target: a.instanceId,
            dueAt: now,
            payload: { op: isSignal ? 'signal' : 'call', name: a.operation, input, requestId, parent: instanceId } satisfies EntityPayload,
          });
          break;
        }
        case ActionType.LockEntities: {
          // An extension below schema V4 has no such action type and fails the orchestration with this message.
          if (OOPROC_SCHEMA.upperSchemaVersionNew < SCHEMA_V4) return unexpectedActionType(a.actionType);
          const id = (entry.id = state.nextSeq++);
          const lockSet = [...new Set((a.lockSet as { name: string; key: string }[]).map((e) => entitySchedulerId(e.name, e.key)))].sort();
          state.locks = lockSet;
          events.push(
            historyEvent(
              EventType.EventSent,
              now,
              {
                InstanceId: lockSet[0],
                Name: 'op',
                Input: JSON.stringify({ id: a.lockRequestId, op: null, lockset: lockSet, pos: 0, parent: instanceId }),
              },
              id,
            ),
          );
          messages.push({
            kind: 'entity',
            target: lockSet[0],
            dueAt: now,
            payload: { op: 'lock', requestId: a.lockRequestId, parent: instanceId, lockSet, position: 0 } satisfies EntityPayload,
          });
          break;
        }
        case ActionType.ReleaseEntities: {
          if (OOPROC_SCHEMA.upperSchemaVersionNew < SCHEMA_V4) return unexpectedActionType(a.actionType);
          for (const entity of state.locks) {
            const id = state.nextSeq++;
            entry.id ??= id;
            events.push(
              historyEvent(
                EventType.EventSent,
                now,
                { InstanceId: entity, Name: 'release', Input: JSON.stringify({ parent: instanceId }) },
                id,
              ),
            );
            messages.push({
              kind: 'entity',
              target: entity,
              dueAt: now,
              payload: { op: 'release', parent: instanceId } satisfies EntityPayload,
            });
          }
          state.locks = [];
          break;
        }
        case ActionType.CallHttp:
          return `callHttp is not supported by the local host (action ${i}: ${a.httpRequest?.method ?? ''} ${a.httpRequest?.uri ?? ''}).`;
        default:
          return `unknown orchestrator action type ${a.actionType} at position ${i}.`;
      }
      state.seen.push(entry);
    }
    void inst;
    return undefined;
  }

  private cancelTimer(instanceId: string, timerId: number): void {
    for (const m of this.store.messagesFor('orch', instanceId)) {
      const p = JSON.parse(m.payload) as OrchPayload;
      if (!('control' in p) && p.event.EventType === EventType.TimerFired && p.event.TimerId === timerId) {
        this.store.deleteMessage(m.id);
      }
    }
  }

  private releaseLocks(instanceId: string, state: EngineState, now: number, messages: NewMessage[]): void {
    for (const entity of state.locks)
      messages.push({ kind: 'entity', target: entity, dueAt: now, payload: { op: 'release', parent: instanceId } satisfies EntityPayload });
    state.locks = [];
  }

  // ───────────────────────────── activities ─────────────────────────────

  private async runActivity(m: MessageRow): Promise<void> {
    if (!this.running) return;
    const p = JSON.parse(m.payload) as ActivityPayload;
    let completion: HistoryEvent;
    const started = Date.now();
    try {
      const result = await this.runtime.invoke(p.name, {
        triggerData: { string: p.input },
        triggerMetadata: { instanceId: { string: p.instanceId } },
      });
      const value = decodeTypedData(result.returnValue);
      completion = historyEvent(EventType.TaskCompleted, this.clock.now(), { TaskScheduledId: p.taskId, Result: toJsonText(value) });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      completion = historyEvent(EventType.TaskFailed, this.clock.now(), {
        TaskScheduledId: p.taskId,
        Reason: `Activity function '${p.name}' failed: ${message}`,
        Details: JSON.stringify({ Message: `Result: Failure\nException: ${message}` }),
      });
    }
    if (!this.running) return;
    this.logger.log('debug', 'Host.Triggers.DurableTask', `activity ${p.name} for ${p.instanceId} finished in ${Date.now() - started} ms`, {
      instanceId: p.instanceId,
      function: p.name,
    });
    this.commit((queue) => {
      if (!this.store.deleteMessage(m.id)) return; // purged meanwhile
      const inst = this.store.getInstance(p.instanceId);
      if (!inst || TERMINAL_STATUSES.has(inst.status)) return;
      if ((JSON.parse(inst.state) as EngineState).executionId !== p.executionId) return; // stale (continueAsNew)
      queue({ kind: 'orch', target: p.instanceId, dueAt: this.clock.now(), payload: { event: completion } satisfies OrchPayload });
    });
  }

  // ───────────────────────────── entities ─────────────────────────────

  private nextEntityMessage(entityId: string, now: number): { msg: MessageRow; payload: EntityPayload } | undefined {
    const entity = this.store.getEntity(entityId);
    const owner = entity?.lockOwner ?? null;
    for (const msg of this.store.messagesFor('entity', entityId)) {
      if (msg.dueAt > now) continue;
      const payload = JSON.parse(msg.payload) as EntityPayload;
      // A locked entity only serves its lock owner; everyone else queues (critical section).
      if (owner !== null && payload.parent !== owner) continue;
      return { msg, payload };
    }
    return undefined;
  }

  private findEntityFunction(name: string): string | undefined {
    const lower = name.toLowerCase();
    return this.runtime.list().find((f) => f.trigger.type === 'entityTrigger' && f.name.toLowerCase() === lower)?.name;
  }

  private async runEntityEpisode(entityId: string): Promise<void> {
    if (!this.running) return;
    const now = this.clock.now();
    const next = this.nextEntityMessage(entityId, now);
    if (!next) return;
    const { msg, payload } = next;
    const { name, key } = parseSchedulerId(entityId);
    const entity = this.store.getEntity(entityId) ?? {
      id: entityId,
      name,
      key,
      exists: false,
      state: null,
      lockOwner: null,
      updatedAt: now,
    };
    const messages: NewMessage[] = [];

    if (payload.op === 'lock' || payload.op === 'release') {
      if (payload.op === 'lock') {
        entity.lockOwner = payload.parent ?? null;
        const lockSet = payload.lockSet ?? [];
        const position = (payload.position ?? 0) + 1;
        if (position < lockSet.length) {
          messages.push({ kind: 'entity', target: lockSet[position], dueAt: now, payload: { ...payload, position } });
        } else if (payload.parent) {
          messages.push({
            kind: 'orch',
            target: payload.parent,
            dueAt: now,
            payload: {
              event: historyEvent(EventType.EventRaised, now, {
                Name: payload.requestId,
                Input: JSON.stringify({ result: JSON.stringify('Lock Acquisition Completed') }),
              }),
            },
          });
        }
      } else if (entity.lockOwner === payload.parent) {
        entity.lockOwner = null;
      }
      entity.updatedAt = now;
      this.commit((queue) => {
        this.store.deleteMessage(msg.id);
        this.store.saveEntity(entity);
        for (const m of messages) queue(m);
      });
      return;
    }

    const fnName = this.findEntityFunction(name);
    let response: { result?: string; exceptionType?: string } = {};
    if (!fnName) {
      response = { result: JSON.stringify(`No entity function named '${name}' is registered.`), exceptionType: 'EntitySchedulerException' };
      this.logger.log('error', 'Host.Triggers.DurableTask', `entity ${entityId}: no entity function named '${name}'`, { entityId });
    } else {
      try {
        const result = await this.runtime.invoke(fnName, {
          triggerData: {
            string: JSON.stringify({
              self: { name, key },
              exists: entity.exists,
              state: entity.state ?? undefined,
              batch: [{ id: payload.requestId, name: payload.name, input: payload.input, isSignal: payload.op === 'signal' }],
            }),
          },
        });
        const out = decodeTypedData(result.returnValue) as any;
        entity.exists = Boolean(out?.entityExists);
        entity.state = entity.exists ? (out?.entityState ?? null) : null;
        const op = out?.results?.[0];
        if (op?.isError) response = { result: op.result, exceptionType: 'Error' };
        else response = { result: op?.result };
        for (const s of out?.signals ?? []) {
          messages.push({
            kind: 'entity',
            target: entitySchedulerId(s.target.name, s.target.key),
            dueAt: now,
            payload: {
              op: 'signal',
              name: s.name,
              input: s.input === '' ? undefined : s.input,
              requestId: randomUUID(),
            } satisfies EntityPayload,
          });
        }
      } catch (err) {
        response = { result: JSON.stringify(err instanceof Error ? err.message : String(err)), exceptionType: 'Error' };
      }
    }
    if (!this.running) return;
    if (payload.op === 'call' && payload.parent) {
      messages.push({
        kind: 'orch',
        target: payload.parent,
        dueAt: now,
        payload: {
          event: historyEvent(EventType.EventRaised, now, {
            Name: payload.requestId,
            Input: JSON.stringify(response),
          }),
        },
      });
    }
    entity.updatedAt = now;
    this.commit((queue) => {
      this.store.deleteMessage(msg.id);
      this.store.saveEntity(entity);
      for (const m of messages) queue(m);
    });
  }

  /** Status of an instance for the HTTP API. */
  getInstance(instanceId: string): InstanceRow | undefined {
    return this.store.getInstance(instanceId);
  }

  static readonly statuses: RuntimeStatus[] = [
    'Pending',
    'Running',
    'Completed',
    'ContinuedAsNew',
    'Failed',
    'Canceled',
    'Terminated',
    'Suspended',
  ];
}

function positiveInt(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
