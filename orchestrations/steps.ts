/**
 * What every orchestrator of the app does the same way: call an activity (with retries, its
 * non-retryable failure as data), publish an outcome event, set the custom status.
 *
 * Activity calls are typed from the activity implementations themselves (`import type` only, so no
 * activity code loads into an orchestrator): a changed activity signature breaks its callers' build.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { writeLogRecord } from '../azure/telemetry';
import { errorInfoOf, type ErrorKind } from '../core/errors';
import { runOutcomeRecord } from '../core/telemetry';
import { buildOutcomeEvent, type OrchestrationName, type OutcomeData, type OutcomeEventType } from '../core/remediation/outcomes';
import type { Activities } from './activities';
import { REMEDIATION_ACTIVITY, type ActivityResult, type OrchestrationStatus } from './contracts';
import type { EncryptAtHostActivities } from './encrypt-at-host-activities';
import type { EventWiringActivities } from './event-wiring-activities';
import type { RemediationActivities } from './remediation-activities';
import type { ScaleSetActivities } from './scale-set-activities';

export type Step<T> = Generator<df.Task, T, unknown>;

/** Every activity of the app, by its registered name. */
export type AppActivities = Activities & RemediationActivities & EncryptAtHostActivities & ScaleSetActivities & EventWiringActivities;
export type ActivityName = keyof AppActivities & string;
/** The activity's parameters: `[input]`, or `[]` for one that takes none. */
export type ActivityArgs<N extends ActivityName> = Parameters<AppActivities[N]>;
/** The value an activity returns when it succeeds. */
export type ActivityValue<N extends ActivityName> = Awaited<ReturnType<AppActivities[N]>> extends ActivityResult<infer T> ? T : never;

/** The activity's one input as Durable delivers it (`void` for an activity that takes none). */
export type ActivityInput<N extends ActivityName> = ActivityArgs<N> extends [infer I, ...unknown[]] ? I : void;

/** Every activity as the registration sees it: the same functions, indexed by name. */
export type ActivityTable = {
  [N in ActivityName]: (input: ActivityInput<N>) => Promise<ActivityResult<ActivityValue<N>>>;
};

/** A step failed for good (after retries, or a non-retryable error); the message names the activity. */
export class StepFailure extends Error {
  constructor(
    readonly reason: string,
    /** The activity's error kind, when it failed with one (not after exhausted retries). */
    readonly kind?: ErrorKind,
    /** The service's (or the activity's) error code, when there is one. */
    readonly code?: string,
  ) {
    super(reason);
  }
}

/** Retries for retryable activity failures (non-retryable ones come back as data and are not retried). */
function activityRetryOptions(): df.RetryOptions {
  const options = new df.RetryOptions(5_000, 5);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = 5 * 60_000;
  return options;
}

/** Calls an activity with retries and unwraps its result; throws StepFailure naming the activity. */
export function* callActivity<N extends ActivityName>(
  context: OrchestrationContext,
  name: N,
  ...args: ActivityArgs<N>
): Step<ActivityValue<N>> {
  let result: ActivityResult<ActivityValue<N>>;
  try {
    // The one place an activity's result crosses durable history untyped.
    result = (yield context.df.callActivityWithRetry(name, activityRetryOptions(), args[0])) as ActivityResult<ActivityValue<N>>;
  } catch (error) {
    const message = errorInfoOf(error)?.message ?? (error instanceof Error ? error.message : String(error));
    throw new StepFailure(`${name}: ${message} (gave up after retries)`);
  }
  if (!result.ok) throw new StepFailure(`${name}: ${result.error.message}`, result.error.kind, result.error.code);
  return result.value;
}

/** Publishes an outcome event; a failed publish is reported as false, never fails the run. */
export function* publishOutcome(
  context: OrchestrationContext,
  orchestration: OrchestrationName,
  eventType: OutcomeEventType,
  data: Omit<OutcomeData, 'orchestration' | 'instanceId'>,
): Step<boolean> {
  const event = buildOutcomeEvent(
    eventType,
    { orchestration, instanceId: context.df.instanceId, ...data },
    context.df.currentUtcDateTime,
    context.df.newGuid(`${context.df.instanceId}|outcome`),
  );
  try {
    const sent = yield* callActivity(context, REMEDIATION_ACTIVITY.publishOutcome, { event });
    return sent.published;
  } catch {
    // Retries exhausted or refused: the run's own result stands.
    return false;
  }
}

/** Sets the custom status (the one typed shape every orchestration reports). */
export function setStatus(context: OrchestrationContext, status: OrchestrationStatus): void {
  context.df.setCustomStatus(status);
}

/** The orchestration's input, or an empty object to validate field by field. */
export function inputOf<T>(context: OrchestrationContext): Partial<T> {
  return (context.df.getInput() ?? {}) as Partial<T>;
}

/**
 * Wraps an orchestrator so that it writes one structured outcome record (core/telemetry.ts) when it ends: on the
 * episode that completes it, never on replay: on one path to Application Insights (azure/telemetry.ts `writeLogRecord`).
 * Logging is no Durable action, so replay is unaffected.
 */
export function withOutcomeLog<T>(name: string, orchestrator: (context: OrchestrationContext) => Step<T>) {
  return function* logged(context: OrchestrationContext): Step<T> {
    const output = yield* orchestrator(context);
    if (!context.df.isReplaying) {
      const record = runOutcomeRecord(name, context.df.instanceId, output);
      if (record) {
        const level = record.fields.phase === 'failed' ? 'warn' : 'info';
        writeLogRecord(context, level, record.message, record.fields);
      }
    }
    return output;
  };
}
