/**
 * Activity `ensureSubscriptionEvents`: gives one discovered subscription the Resource Manager event wiring and, with
 * policy definitions configured (ADE_POLICY_DEFINITION_IDS), the Policy Insights event wiring infra/main.json and
 * infra/event-subscriptions.json deploy (core/events/subscription-wiring.ts), through SubscriptionEventWiringPort.
 *
 * Everything that decides what is written comes from the app's validated configuration, never from the input: the
 * destination (ADE_FUNCTION_APP_RESOURCE_ID), the dead-letter container and identity, the topic's resource group
 * (ADE_VAULT_RESOURCE_GROUP) and whether the subscription is one the app discovered under ADE_SCOPE's management groups.
 * The input only names the subscription and may ask for a dry run (ADE_DRY_RUN forces one).
 */
import type { SubscriptionEventWiringPort, WiringReport } from '../azure/ports';
import { PermissionError, ValidationError } from '../core/errors';
import { policyEventSubscriptions, resourceEventSubscriptions, type WiringSettings } from '../core/events/subscription-wiring';
import { isGuid } from '../core/resource-ids';
import { runActivity, type ActivityLog } from './activities';
import type { ActivityResult } from './contracts';

export interface EventWiringDeps {
  subscriptionEvents?: SubscriptionEventWiringPort;
  /** Undefined when ADE_EVENT_WIRING is off (or a required setting is missing): the activity then refuses. */
  settings?: WiringSettings & { resourceGroup: string; location: string };
  /** Subscriptions discovered under the management groups right now (the app's scope minus ADE_SUBSCRIPTIONS). */
  discovered: () => readonly string[];
  /** ADE_DRY_RUN. */
  dryRun: boolean;
  log: ActivityLog;
}

export function createEventWiringActivities(deps: EventWiringDeps) {
  return {
    ensureSubscriptionEvents: (input: { subscriptionId: string; dryRun?: boolean }): Promise<ActivityResult<WiringReport>> =>
      runActivity(deps.log, 'ensureSubscriptionEvents', async () => {
        const subscriptionId = String(input?.subscriptionId ?? '').toLowerCase();
        if (!isGuid(subscriptionId)) throw new ValidationError(`ensureSubscriptionEvents: "${subscriptionId}" is not a subscription id`);
        const settings = deps.settings;
        if (!settings || !deps.subscriptionEvents)
          throw new ValidationError('ensureSubscriptionEvents: ADE_EVENT_WIRING is not "auto"; the app wires no events');
        if (!deps.discovered().some((s) => s.toLowerCase() === subscriptionId))
          throw new ValidationError(
            `ensureSubscriptionEvents: subscription ${subscriptionId} is not one the app discovered under ADE_SCOPE's management groups`,
          );
        const dryRun = deps.dryRun || input.dryRun === true;
        try {
          const report = await deps.subscriptionEvents.ensureResourceEventWiring({
            subscriptionId,
            resourceGroup: settings.resourceGroup,
            location: settings.location,
            identityResourceId: settings.identityResourceId,
            subscriptions: resourceEventSubscriptions(settings),
            policySubscriptions: policyEventSubscriptions(settings),
            dryRun,
          });
          deps.log('info', `Event wiring of subscription ${subscriptionId}: ${summary(report)}`, {
            activity: 'ensureSubscriptionEvents',
            subscriptionId,
            dryRun,
          });
          return report;
        } catch (error) {
          if (error instanceof PermissionError)
            throw new PermissionError(
              `Event wiring of subscription ${subscriptionId} refused: the app's identity lacks the event wiring role there ` +
                `(infra/management-group-roles.json with enableEventWiring=true, and Managed Identity Operator on its identity ` +
                `from infra/main.json enableEventWiring). ${error.message}`,
              { cause: error, ...(error.code ? { code: error.code } : {}) },
            );
          throw error;
        }
      }),
  };
}

export type EventWiringActivities = ReturnType<typeof createEventWiringActivities>;

function summary(report: WiringReport): string {
  const parts = [
    ...(report.resourceGroup && report.resourceGroup !== 'exists' ? [`resource group ${report.resourceGroup}`] : []),
    `topic ${report.topic.action}${report.topic.identity ? ` (identity ${report.topic.identity})` : ''}`,
    ...report.subscriptions.map((s) => `${s.name} ${s.action}`),
    ...(report.policy
      ? [
          `policy topic ${report.policy.topic.action}${report.policy.topic.identity ? ` (identity ${report.policy.topic.identity})` : ''}`,
          ...report.policy.subscriptions.map((s) => `${s.name} ${s.action}`),
        ]
      : []),
  ];
  return parts.join(', ');
}
