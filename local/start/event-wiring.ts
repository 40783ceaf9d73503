/**
 * Wires the subscription's events to the local host the way infra/event-subscriptions.json wires them
 * to the function app in Azure: system topics in the vault resource group, one event subscription per
 * Event Grid-triggered function, filters taken from core/events/routes (the single source of truth).
 * Locally the destination is a WebHook to the host's Event Grid endpoint instead of AzureFunction.
 */
import type { TokenCredential } from '@azure/core-auth';
import { EventGridManagementClient, type EventSubscription } from '@azure/arm-eventgrid';
import { EVENT_ROUTES, advancedFilters, type AdvancedFilter, type EventRoute, type RouteConfiguration } from '../../core/events/routes';

export const RESOURCE_EVENTS_TOPIC = 'ade-autopilot-resource-events';
export const POLICY_EVENTS_TOPIC = 'ade-autopilot-policy-events';

export interface PlannedSubscription {
  topic: { name: string; topicType: string };
  /** Event subscription name (as in the infra template). */
  name: string;
  functionName: string;
  includedEventTypes: string[];
  advancedFilters: AdvancedFilter[];
}

/** Subscription-level functions that get events from a system topic (secretEvents is wired per vault by the app). */
const SUBSCRIPTION_FUNCTIONS: ReadonlyArray<{
  functionName: keyof typeof EVENT_ROUTES;
  name: string;
  topic: { name: string; topicType: string };
}> = [
  { functionName: 'vmWritten', name: 'vm-written', topic: { name: RESOURCE_EVENTS_TOPIC, topicType: 'Microsoft.Resources.Subscriptions' } },
  { functionName: 'armDrift', name: 'arm-drift', topic: { name: RESOURCE_EVENTS_TOPIC, topicType: 'Microsoft.Resources.Subscriptions' } },
  {
    functionName: 'policyStates',
    name: 'policy-states',
    topic: { name: POLICY_EVENTS_TOPIC, topicType: 'Microsoft.PolicyInsights.PolicyStates' },
  },
];

/** The event subscriptions for the functions the app actually registers. */
export function planEventSubscriptions(registeredFunctions: readonly string[], configuration: RouteConfiguration): PlannedSubscription[] {
  const registered = new Set(registeredFunctions);
  return SUBSCRIPTION_FUNCTIONS.filter((f) => registered.has(f.functionName)).map((f) => {
    const route: EventRoute = EVENT_ROUTES[f.functionName];
    return {
      topic: f.topic,
      name: f.name,
      functionName: f.functionName,
      includedEventTypes: [...route.eventTypes],
      advancedFilters: advancedFilters(route, configuration),
    };
  });
}

export function webhookUrl(hostUrl: string, functionName: string, eventGridKey: string): string {
  return `${hostUrl}/runtime/webhooks/eventgrid?functionName=${encodeURIComponent(functionName)}&code=${encodeURIComponent(eventGridKey)}`;
}

export interface WireEventsOptions {
  credential: TokenCredential;
  subscriptionId: string;
  resourceGroup: string;
  hostUrl: string;
  eventGridKey: string;
  registeredFunctions: readonly string[];
  /** The app's configured policy definitions and vault resource group, as the templates receive them. */
  routeConfiguration: RouteConfiguration;
}

export interface WiringResult {
  wired: PlannedSubscription[];
  /** Optional subscriptions the target refused (e.g. a topic type the simulator does not model), with the reason. */
  skipped: Array<{ planned: PlannedSubscription; reason: string }>;
}

/**
 * Creates (or updates) the topics and subscriptions through the official SDK. vmWritten's subscription
 * is the pipeline's trigger, so failing to create it is fatal; the others (drift, policy) are reported
 * as skipped so the encryption pipeline still runs where, say, Policy Insights topics do not exist.
 */
export async function wireSubscriptionEvents(options: WireEventsOptions): Promise<WiringResult> {
  const client = new EventGridManagementClient(options.credential, options.subscriptionId);
  const result: WiringResult = { wired: [], skipped: [] };
  const topicProblems = new Map<string, string | undefined>();
  for (const planned of planEventSubscriptions(options.registeredFunctions, options.routeConfiguration)) {
    const required = planned.functionName === 'vmWritten';
    try {
      if (!topicProblems.has(planned.topic.name)) {
        topicProblems.set(planned.topic.name, undefined);
        try {
          await client.systemTopics.beginCreateOrUpdateAndWait(
            options.resourceGroup,
            planned.topic.name,
            {
              location: 'global',
              source: `/subscriptions/${options.subscriptionId}`,
              topicType: planned.topic.topicType,
            },
            { updateIntervalInMs: 100 },
          );
        } catch (error) {
          topicProblems.set(planned.topic.name, messageOf(error));
        }
      }
      const topicProblem = topicProblems.get(planned.topic.name);
      if (topicProblem !== undefined) throw new Error(`system topic ${planned.topic.name}: ${topicProblem}`);
      const subscription: EventSubscription = {
        destination: {
          endpointType: 'WebHook',
          endpointUrl: webhookUrl(options.hostUrl, planned.functionName, options.eventGridKey),
          maxEventsPerBatch: 1,
          preferredBatchSizeInKilobytes: 64,
        },
        filter: {
          includedEventTypes: planned.includedEventTypes,
          advancedFilters: planned.advancedFilters.map((f) => ({ operatorType: f.operatorType, key: f.key, values: f.values })),
        },
        eventDeliverySchema: 'EventGridSchema',
      };
      await client.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(
        options.resourceGroup,
        planned.topic.name,
        planned.name,
        subscription,
        { updateIntervalInMs: 100 },
      );
      result.wired.push(planned);
    } catch (error) {
      if (required) throw new Error(`Could not wire ${planned.name} → ${planned.functionName}: ${messageOf(error)}`);
      result.skipped.push({ planned, reason: messageOf(error) });
    }
  }
  return result;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
