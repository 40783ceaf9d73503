/**
 * Names and plain-JSON shapes of the `wireSubscriptionEvents` orchestration (ADE_EVENT_WIRING=auto): the Resource
 * Manager event wiring of subscriptions discovered under ADE_SCOPE's management groups. No secrets: every value ends up
 * in durable history.
 */
import type { WiringReport } from '../azure/ports';

export const EVENT_WIRING_ORCHESTRATOR = 'wireSubscriptionEvents';
/** One run at a time, under this instance id. */
export const EVENT_WIRING_INSTANCE_ID = 'ade-event-wiring';

export const EVENT_WIRING_ACTIVITY = {
  ensure: 'ensureSubscriptionEvents',
} as const;

export interface EventWiringInput {
  /** Discovered subscriptions to check; each is re-checked against the app's own scope by the activity. */
  subscriptions: string[];
  /** Report only (ADE_DRY_RUN, or asked for): the activity also honours the app's own ADE_DRY_RUN. */
  dryRun: boolean;
}

export interface EventWiringOutput {
  reports: WiringReport[];
  /** Subscriptions whose wiring failed, with the reason (e.g. the event wiring role is missing); retried next run. */
  failed: Array<{ subscriptionId: string; reason: string; kind?: string }>;
}
