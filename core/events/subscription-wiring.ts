/**
 * The one definition of a target subscription's event wiring: the `Microsoft.Resources.Subscriptions` system topic and
 * its `vm-written` / `arm-drift` event subscriptions, and the `Microsoft.PolicyInsights.PolicyStates` system topic and
 * its `policy-states` event subscription, to the app's functions, with the filters of core/events/routes.ts, the
 * delivery settings and the identity-based dead-letter container. infra/main.json and infra/event-subscriptions.json
 * deploy it for `targetSubscriptionIds` (test/infra/event-wiring-definition.test.ts proves the template's properties
 * equal {@link resourceEventSubscriptions} and {@link policyEventSubscriptions}); with ADE_EVENT_WIRING=auto the app
 * writes the same bodies itself in subscriptions discovered under ADE_SCOPE's management groups
 * (orchestrations/event-wiring.ts).
 *
 * Bodies are in the Event Grid REST shape (https://learn.microsoft.com/rest/api/eventgrid/controlplane/system-topic-event-subscriptions/create-or-update).
 */
import { EVENT_ROUTES, advancedFilters, type AdvancedFilter, type RouteConfiguration } from './routes';

export const RESOURCE_EVENTS_TOPIC_TYPE = 'Microsoft.Resources.Subscriptions';
/** Name of the topic the app (and main.json) creates when the subscription has none. */
export const RESOURCE_EVENTS_TOPIC_NAME = 'ade-autopilot-resource-events';

export const POLICY_EVENTS_TOPIC_TYPE = 'Microsoft.PolicyInsights.PolicyStates';
/** Name of the Policy Insights topic the app (and main.json) creates when the subscription has none. */
export const POLICY_EVENTS_TOPIC_NAME = 'ade-autopilot-policy-events';

/** Event Grid's defaults and maxima (https://learn.microsoft.com/azure/event-grid/delivery-and-retry). */
export const DELIVERY = {
  maxDeliveryAttempts: 30,
  eventTimeToLiveInMinutes: 1440,
  maxEventsPerBatch: 1,
  preferredBatchSizeInKilobytes: 64,
  eventDeliverySchema: 'EventGridSchema',
} as const;

/** The event subscriptions on the Resource Manager topic, by name, and the function each one calls. */
export const RESOURCE_EVENT_SUBSCRIPTIONS = [
  { name: 'vm-written', functionName: 'vmWritten' },
  { name: 'arm-drift', functionName: 'armDrift' },
] as const satisfies ReadonlyArray<{ name: string; functionName: keyof typeof EVENT_ROUTES }>;

/** The event subscription on the Policy Insights topic (https://learn.microsoft.com/azure/event-grid/event-schema-policy). */
export const POLICY_EVENT_SUBSCRIPTIONS = [{ name: 'policy-states', functionName: 'policyStates' }] as const satisfies ReadonlyArray<{
  name: string;
  functionName: keyof typeof EVENT_ROUTES;
}>;

export interface WiringSettings extends RouteConfiguration {
  /** ADE_FUNCTION_APP_RESOURCE_ID. */
  functionAppResourceId: string;
  /** ADE_EVENTS_IDENTITY_RESOURCE_ID: the user-assigned identity on the topic that writes dead letters. */
  identityResourceId: string;
  /** ADE_DEAD_LETTER_CONTAINER_ID. */
  deadLetter: { storageAccountId: string; containerName: string };
  maxDeliveryAttempts?: number;
  eventTimeToLiveInMinutes?: number;
}

export interface EventSubscriptionProperties {
  destination: {
    endpointType: 'AzureFunction';
    properties: { resourceId: string; maxEventsPerBatch: number; preferredBatchSizeInKilobytes: number };
  };
  filter: { includedEventTypes: string[]; advancedFilters: AdvancedFilter[] };
  eventDeliverySchema: string;
  retryPolicy: { maxDeliveryAttempts: number; eventTimeToLiveInMinutes: number };
  deadLetterWithResourceIdentity: {
    identity: { type: 'UserAssigned'; userAssignedIdentity: string };
    deadLetterDestination: { endpointType: 'StorageBlob'; properties: { resourceId: string; blobContainerName: string } };
  };
}

export interface PlannedEventSubscription {
  name: string;
  functionName: string;
  properties: EventSubscriptionProperties;
}

/** The `vm-written` and `arm-drift` subscriptions, as event-subscriptions.json deploys them. */
export function resourceEventSubscriptions(settings: WiringSettings): PlannedEventSubscription[] {
  return RESOURCE_EVENT_SUBSCRIPTIONS.map(({ name, functionName }) => planned(name, functionName, settings));
}

/**
 * The `policy-states` subscription, as event-subscriptions.json deploys it: the configured definitions' NonCompliant
 * states. The template always deploys it with its `policyDefinitionIds` (ADE_POLICY_DEFINITION_IDS, at least one); with
 * no definition configured there is no policy drift to react to (and Event Grid refuses an empty `StringIn`), so none.
 */
export function policyEventSubscriptions(settings: WiringSettings): PlannedEventSubscription[] {
  if (settings.policyDefinitionIds.length === 0) return [];
  return POLICY_EVENT_SUBSCRIPTIONS.map(({ name, functionName }) => planned(name, functionName, settings));
}

function planned(name: string, functionName: keyof typeof EVENT_ROUTES, settings: WiringSettings): PlannedEventSubscription {
  const route = EVENT_ROUTES[functionName];
  return {
    name,
    functionName,
    properties: {
      destination: {
        endpointType: 'AzureFunction',
        properties: {
          resourceId: `${settings.functionAppResourceId}/functions/${functionName}`,
          maxEventsPerBatch: DELIVERY.maxEventsPerBatch,
          preferredBatchSizeInKilobytes: DELIVERY.preferredBatchSizeInKilobytes,
        },
      },
      filter: { includedEventTypes: [...route.eventTypes], advancedFilters: advancedFilters(route, settings) },
      eventDeliverySchema: DELIVERY.eventDeliverySchema,
      retryPolicy: {
        maxDeliveryAttempts: settings.maxDeliveryAttempts ?? DELIVERY.maxDeliveryAttempts,
        eventTimeToLiveInMinutes: settings.eventTimeToLiveInMinutes ?? DELIVERY.eventTimeToLiveInMinutes,
      },
      deadLetterWithResourceIdentity: {
        identity: { type: 'UserAssigned', userAssignedIdentity: settings.identityResourceId },
        deadLetterDestination: {
          endpointType: 'StorageBlob',
          properties: { resourceId: settings.deadLetter.storageAccountId, blobContainerName: settings.deadLetter.containerName },
        },
      },
    },
  };
}
