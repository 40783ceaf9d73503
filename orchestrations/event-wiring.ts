/**
 * Orchestrator `wireSubscriptionEvents`: for each discovered subscription, one `ensureSubscriptionEvents` activity
 * (idempotent: it reads first and writes only what is missing). A subscription that fails (missing role, throttling
 * past the retries) is reported with the reason and does not stop the others; the timer's next run tries it again.
 */
import type { OrchestrationContext } from 'durable-functions';
import { EVENT_WIRING_ACTIVITY, type EventWiringInput, type EventWiringOutput } from './event-wiring-contracts';
import { callActivity, inputOf, StepFailure, type Step } from './steps';

export function* wireSubscriptionEventsOrchestrator(context: OrchestrationContext): Step<EventWiringOutput> {
  const input = inputOf<EventWiringInput>(context);
  const subscriptions = Array.isArray(input.subscriptions) ? input.subscriptions.filter((s) => typeof s === 'string') : [];
  const dryRun = input.dryRun === true;
  const output: EventWiringOutput = { reports: [], failed: [] };
  for (const subscriptionId of subscriptions) {
    try {
      output.reports.push(yield* callActivity(context, EVENT_WIRING_ACTIVITY.ensure, { subscriptionId, dryRun }));
    } catch (error) {
      if (!(error instanceof StepFailure)) throw error;
      output.failed.push({ subscriptionId, reason: error.reason, ...(error.kind ? { kind: error.kind } : {}) });
    }
    context.df.setCustomStatus({ done: output.reports.length + output.failed.length, of: subscriptions.length });
  }
  return output;
}
