/**
 * Orchestrator `sweep`: walk every VM in scope across the configured subscriptions, page by page,
 * and act on the ones that need it with bounded concurrency.
 *
 *  - `backfill`: assess each VM (model only, one ARM read per page) and start `encryptVm` for the
 *    eligible ones, never more than `concurrency` in flight. The encryptions are started as their
 *    own instances with the same deterministic id `vmWritten` uses, so a VM a write event is already
 *    encrypting is not encrypted twice, and the in-flight set survives continue-as-new.
 *  - `bek-health`: list VMs whose model shows ADE, read their instance views, and start `restoreBek`
 *    for the ones whose extension reports the BEK missing.
 *  - `dryRun`: no starts; the output is the report (counts per decision and reason, VMs that would change).
 *
 * ARM reads are paced to `readsPerSecond` on orchestration time (durable timers), well under the
 * subscription bucket (docs/ade-behaviour.md#platform-limits-the-app-stays-under). The history is bounded with
 * continue-as-new. Progress is in
 * the custom status.
 */
import type { OrchestrationContext } from 'durable-functions';
import { orchestrationInstanceId, restoreInstanceId } from '../core/names';
import { OUTCOME_EVENT_TYPES } from '../core/remediation/outcomes';
import {
  addToReport,
  emptyReport,
  fillSlots,
  readBudgetDelayMs,
  type SweepReport,
  type SweepRow,
  type SweepProgress,
} from '../core/remediation/sweep';
import { parseEncryptionPolicy, type EncryptionPolicy } from '../core/policy';
import {
  encryptionOrchestratorFor,
  type EncryptAtHostInput,
  REMEDIATION_ACTIVITY,
  RESTORE_BEK_ORCHESTRATOR,
  SWEEP_ORCHESTRATOR,
  type EncryptVmInput,
} from './contracts';
import type { OrchestrationStart, OrchestrationStatusView } from './remediation-activities';
import type { HealSettings, RestoreBekInput } from './restoreBek';
import { SCALE_SET_ACTIVITY, type ScaleSetSweepResult } from './scale-set-contracts';
import { callActivity, publishOutcome, setStatus, StepFailure, type Step } from './steps';

/** Iterations per execution before continue-as-new keeps the history small. */
const ITERATIONS_PER_EXECUTION = 25;
const FINISHED = new Set(['Completed', 'Failed', 'Terminated', 'Canceled', 'Unknown']);

export interface SweepInput {
  kind: 'backfill' | 'bek-health';
  policy: EncryptionPolicy;
  heal: HealSettings;
  dryRun: boolean;
  concurrency: number;
  readsPerSecond: number;
  /** Backfill: the encryptVm runs publish VmEncrypted / EncryptionFailed (the starter sets it when an outcome topic is configured). */
  publishOutcome?: boolean;
  /** Backfill: also list scale sets through Resource Graph and start encryptVmss for those that need it (once per sweep). */
  scaleSets?: boolean;
  /** How often in-flight work is checked (default 30 s). */
  pollSeconds?: number;
  /** Carried across continue-as-new; absent on the first execution. */
  state?: SweepState;
}

export interface SweepState {
  subscriptionIndex: number;
  continuationToken?: string;
  listingDone: boolean;
  queue: string[];
  inFlight: Array<{ vmId: string; instanceId: string }>;
  report: SweepReport;
  pages: number;
  reads: number;
  readWindowStartMs: number;
  started: number;
  completed: number;
  failed: number;
  peakInFlight: number;
  /** Finished runs by their outcome (`encrypted`, `skipped`, `restored`, …). */
  outcomes: Record<string, number>;
  startedAt: string;
  /** Backfill with scaleSets: what the one scale set pass found and started. */
  scaleSets?: ScaleSetSweepResult;
}

export interface SweepOutput {
  kind: SweepInput['kind'];
  dryRun: boolean;
  report: SweepReport;
  started: number;
  completed: number;
  failed: number;
  peakInFlight: number;
  outcomes: Record<string, number>;
  pages: number;
  reads: number;
  startedAt: string;
  finishedAt: string;
  scaleSets?: ScaleSetSweepResult;
  error?: string;
}

function initialState(now: Date): SweepState {
  return {
    subscriptionIndex: 0,
    listingDone: false,
    queue: [],
    inFlight: [],
    report: emptyReport(),
    pages: 0,
    reads: 0,
    readWindowStartMs: now.getTime(),
    started: 0,
    completed: 0,
    failed: 0,
    peakInFlight: 0,
    outcomes: {},
    startedAt: now.toISOString(),
  };
}

export function* sweepOrchestrator(context: OrchestrationContext): Step<SweepOutput | undefined> {
  const input = context.df.getInput() as SweepInput;
  const policy = parseEncryptionPolicy(input.policy, 'input.policy');
  const now = () => context.df.currentUtcDateTime;
  const state: SweepState = input.state ?? initialState(now());
  const cap = Math.max(1, Math.floor(input.concurrency));
  const pollMs = (input.pollSeconds ?? 30) * 1000;
  const subscriptions = policy.scope.subscriptions;

  const progress = (phase: SweepProgress['phase']): void => {
    const p: SweepProgress = {
      phase,
      subscriptionIndex: state.subscriptionIndex,
      subscriptions: subscriptions.length,
      pages: state.pages,
      report: { total: state.report.total, byDecision: state.report.byDecision },
      started: state.started,
      inFlight: state.inFlight.length,
      completed: state.completed,
      failed: state.failed,
    };
    setStatus(context, { orchestration: SWEEP_ORCHESTRATOR, kind: input.kind, dryRun: input.dryRun, queued: state.queue.length, ...p });
  };

  function* spendReads(cost: number): Step<void> {
    const wait = readBudgetDelayMs(state.reads, cost, state.readWindowStartMs, now().getTime(), input.readsPerSecond);
    if (wait > 0) yield context.df.createTimer(new Date(now().getTime() + wait));
    state.reads += cost;
  }

  function* listNextPage(): Step<void> {
    const subscriptionId = subscriptions[state.subscriptionIndex];
    const cursor = { subscriptionId, ...(state.continuationToken ? { continuationToken: state.continuationToken } : {}), policy };
    let next: string | undefined;
    yield* spendReads(1);
    if (input.kind === 'backfill') {
      // With Resource Graph the activity pages every subscription in scope at once (allSubscriptions).
      const page = yield* callActivity(context, REMEDIATION_ACTIVITY.listSweepPage, { ...cursor, subscriptionIds: [...subscriptions] });
      state.report = addToReport(state.report, page.rows);
      if (!input.dryRun) state.queue.push(...page.rows.filter((r) => r.decision === 'encrypt').map((r) => r.vmId));
      next = page.continuationToken;
      if (page.allSubscriptions && !next) state.subscriptionIndex = subscriptions.length - 1;
    } else {
      const page = yield* callActivity(context, REMEDIATION_ACTIVITY.listBekPage, cursor);
      next = page.continuationToken;
      const rows: SweepRow[] = [];
      // Instance views in small batches, each paced against the read budget.
      for (let i = 0; i < page.candidates.length; i += 10) {
        const batch = page.candidates.slice(i, i + 10);
        yield* spendReads(batch.length);
        const health = yield* callActivity(context, REMEDIATION_ACTIVITY.bekHealth, {
          vmIds: batch,
        });
        for (const h of health) {
          const missing = h.health.status === 'bek-missing';
          rows.push({
            vmId: h.vmId,
            name: h.vmId.split('/').at(-1) ?? h.vmId,
            osType: 'Windows',
            decision: missing ? 'bek-missing' : 'bek-healthy',
            reason: missing ? 'bek-missing' : h.health.status,
          });
          if (missing && !input.dryRun) state.queue.push(h.vmId);
        }
      }
      state.report = addToReport(state.report, rows);
    }
    state.pages++;
    if (next) state.continuationToken = next;
    else {
      delete state.continuationToken;
      state.subscriptionIndex++;
      if (state.subscriptionIndex >= subscriptions.length) state.listingDone = true;
    }
  }

  function startFor(vmId: string): OrchestrationStart {
    if (input.kind === 'backfill') {
      const encryptInput: EncryptVmInput | EncryptAtHostInput = {
        vmId,
        policy,
        ...(input.publishOutcome === true ? { publishOutcome: true } : {}),
        ...(policy.mode === 'encryption-at-host' && input.heal ? { heal: input.heal } : {}),
      };
      return { orchestrator: encryptionOrchestratorFor(policy.mode), instanceId: orchestrationInstanceId(vmId), input: encryptInput };
    }
    const restoreInput: RestoreBekInput = { vmId, policy, heal: input.heal, trigger: 'BEK health sweep' };
    return { orchestrator: RESTORE_BEK_ORCHESTRATOR, instanceId: restoreInstanceId(vmId), input: restoreInput };
  }

  try {
    if (subscriptions.length === 0) state.listingDone = true;
    if (input.kind === 'backfill' && input.scaleSets === true && state.scaleSets === undefined)
      state.scaleSets = yield* callActivity(context, SCALE_SET_ACTIVITY.sweep, {
        dryRun: input.dryRun,
        ...(input.publishOutcome ? { publishOutcome: true } : {}),
      });
    for (let iteration = 0; iteration < ITERATIONS_PER_EXECUTION; iteration++) {
      if (state.listingDone && state.queue.length === 0 && state.inFlight.length === 0) break;
      progress(state.listingDone ? 'encrypting' : 'listing');

      // Keep the queue short: list more only when it cannot fill the free slots.
      if (!state.listingDone && (input.dryRun || state.queue.length < cap)) yield* listNextPage();

      if (!input.dryRun && state.queue.length > 0 && state.inFlight.length < cap) {
        const { start, rest } = fillSlots(state.queue, state.inFlight.length, cap);
        state.queue = rest;
        const results = yield* callActivity(context, REMEDIATION_ACTIVITY.startOrchestrations, {
          starts: start.map(startFor),
        });
        results.forEach((r, i) => {
          state.inFlight.push({ vmId: start[i], instanceId: r.instanceId });
          if (r.started) state.started++;
        });
        state.peakInFlight = Math.max(state.peakInFlight, state.inFlight.length);
      }

      const mustWait = state.inFlight.length > 0 && (state.listingDone || state.inFlight.length >= cap);
      if (mustWait) {
        yield context.df.createTimer(new Date(now().getTime() + pollMs));
        const statuses = yield* callActivity(context, REMEDIATION_ACTIVITY.orchestrationStatuses, {
          instanceIds: state.inFlight.map((f) => f.instanceId),
        });
        const finished = new Set(statuses.filter((s) => FINISHED.has(s.runtimeStatus)).map((s) => s.instanceId));
        for (const s of statuses.filter((x) => finished.has(x.instanceId))) {
          const outcome = outcomeOf(s);
          state.outcomes[outcome] = (state.outcomes[outcome] ?? 0) + 1;
          if (outcome === 'failed' || s.runtimeStatus !== 'Completed') state.failed++;
          else state.completed++;
        }
        state.inFlight = state.inFlight.filter((f) => !finished.has(f.instanceId));
      }
    }
  } catch (error) {
    if (!(error instanceof StepFailure)) throw error;
    return yield* finishSteps(error.message);
  }

  if (!(state.listingDone && state.queue.length === 0 && state.inFlight.length === 0)) {
    progress(state.listingDone ? 'encrypting' : 'listing');
    context.df.continueAsNew({ ...input, state });
    return undefined;
  }
  return yield* finishSteps();

  function* finishSteps(error?: string): Step<SweepOutput> {
    progress('done');
    const output: SweepOutput = {
      kind: input.kind,
      dryRun: input.dryRun,
      report: state.report,
      started: state.started,
      completed: state.completed,
      failed: state.failed,
      peakInFlight: state.peakInFlight,
      outcomes: state.outcomes,
      pages: state.pages,
      reads: state.reads,
      startedAt: state.startedAt,
      finishedAt: now().toISOString(),
      ...(state.scaleSets ? { scaleSets: state.scaleSets } : {}),
      ...(error ? { error } : {}),
    };
    yield* publishOutcome(context, 'sweep', OUTCOME_EVENT_TYPES.sweepCompleted, {
      reason:
        `${input.kind}${input.dryRun ? ' dry run' : ''}: ${state.report.total} VMs assessed, ${state.started} started, ` +
        `${state.completed} completed, ${state.failed} failed${error ? `; stopped: ${error}` : ''}`,
      counts: {
        total: state.report.total,
        started: state.started,
        completed: state.completed,
        failed: state.failed,
        ...prefixed(state.report.byDecision),
      },
    });
    return output;
  }
}

function prefixed(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [`decision:${k}`, v]));
}

function outcomeOf(status: OrchestrationStatusView): string {
  if (status.runtimeStatus !== 'Completed') return status.runtimeStatus.toLowerCase();
  const out = status.output as { outcome?: unknown } | undefined;
  return typeof out?.outcome === 'string' ? out.outcome : 'completed';
}
