/**
 * SubscriptionEventWiringPort over @azure/arm-eventgrid and @azure/arm-resources: gives one subscription the Resource
 * Manager event wiring infra/event-subscriptions.json deploys (core/events/subscription-wiring.ts), for subscriptions
 * discovered under a management group after the templates ran.
 *
 *  1. Find the subscription's `Microsoft.Resources.Subscriptions` system topic in any resource group (Azure allows one
 *     per source, https://learn.microsoft.com/azure/event-grid/system-topics) and reuse it; add the app's identity to it
 *     when missing (it writes the dead letters), as infra/deploy.sh does for a topic that existed before.
 *  2. Otherwise create the resource group when missing and the topic `ade-autopilot-resource-events` in it.
 *  3. Create or update each event subscription whose live properties differ.
 *
 * Every step reads first and writes only what differs, so a second run is read-only; with `dryRun` nothing is written
 * and the report says what would be.
 */
import {
  EventGridManagementClient,
  type EventSubscription,
  type EventGridManagementClientOptionalParams,
  type SystemTopic,
} from '@azure/arm-eventgrid';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { TokenCredential } from '@azure/core-auth';
import { ValidationError } from '../core/errors';
import {
  RESOURCE_EVENTS_TOPIC_NAME,
  RESOURCE_EVENTS_TOPIC_TYPE,
  type EventSubscriptionProperties,
  type PlannedEventSubscription,
} from '../core/events/subscription-wiring';
import { parseResourceId, sameResourceId } from '../core/resource-ids';
import { ClientsBySubscription, pollOptionsOf } from './arm-clients';
import { callAzure, callAzureOrUndefined } from './errors';
import type { SubscriptionEventWiringPort, WiringReport, WiringRequest } from './ports';

export interface SubscriptionEventWiringOptions {
  clientOptions?: EventGridManagementClientOptionalParams;
  pollIntervalMs?: number;
}

export class SubscriptionEventWiringAdapter implements SubscriptionEventWiringPort {
  private readonly eventGrid = new ClientsBySubscription(
    (subscriptionId, defaults) =>
      new EventGridManagementClient(this.credential, subscriptionId, { ...defaults, ...this.options.clientOptions }),
  );
  private readonly resources = new ClientsBySubscription(
    (subscriptionId, defaults) => new ResourceManagementClient(this.credential, subscriptionId, defaults),
  );

  constructor(
    private readonly credential: TokenCredential,
    private readonly options: SubscriptionEventWiringOptions = {},
  ) {}

  async ensureResourceEventWiring(request: WiringRequest): Promise<WiringReport> {
    const { subscriptionId, dryRun } = request;
    const client = this.eventGrid.get(subscriptionId);
    const poll = pollOptionsOf(this.options.pollIntervalMs);
    const report: WiringReport = { subscriptionId, dryRun, topic: { action: 'reused' }, subscriptions: [] };

    let topic = await this.findTopic(subscriptionId);
    if (topic) {
      report.topic = { action: 'reused', id: topic.id };
      if (!hasIdentity(topic, request.identityResourceId)) {
        report.topic.identity = dryRun ? 'would-add' : 'added';
        if (!dryRun) {
          const where = parseResourceId(topic.id);
          topic = await callAzure(`Add the app's identity to system topic ${topic.id}`, () =>
            client.systemTopics.beginUpdateAndWait(
              where.resourceGroup!,
              topic!.name,
              { identity: withIdentity(topic!.identity, request.identityResourceId) },
              poll,
            ),
          ).then((t) => toTopic(t) ?? topic);
        }
      }
    } else {
      const group = request.resourceGroup;
      const resources = this.resources.get(subscriptionId);
      const existingGroup = await callAzureOrUndefined(`Read resource group ${group} in subscription ${subscriptionId}`, () =>
        resources.resourceGroups.get(group),
      );
      report.resourceGroup = existingGroup ? 'exists' : dryRun ? 'would-create' : 'created';
      const topicId =
        `/subscriptions/${subscriptionId}/resourceGroups/${group}` +
        `/providers/Microsoft.EventGrid/systemTopics/${RESOURCE_EVENTS_TOPIC_NAME}`;
      report.topic = { action: dryRun ? 'would-create' : 'created', id: topicId };
      if (dryRun) {
        report.subscriptions = request.subscriptions.map((s) => ({ name: s.name, action: 'would-create' }));
        return report;
      }
      if (!existingGroup)
        await callAzure(`Create resource group ${group} in subscription ${subscriptionId}`, () =>
          resources.resourceGroups.createOrUpdate(group, { location: request.location, tags: { 'ade-autopilot': 'event-wiring' } }),
        );
      try {
        const created = await callAzure(`Create system topic ${topicId}`, () =>
          client.systemTopics.beginCreateOrUpdateAndWait(
            group,
            RESOURCE_EVENTS_TOPIC_NAME,
            {
              location: 'global',
              source: `/subscriptions/${subscriptionId}`,
              topicType: RESOURCE_EVENTS_TOPIC_TYPE,
              identity: withIdentity(undefined, request.identityResourceId),
            },
            poll,
          ),
        );
        topic = toTopic(created);
      } catch (error) {
        // Someone created the subscription's topic meanwhile (Azure allows one): reuse theirs on the next run.
        const raced = await this.findTopic(subscriptionId);
        if (!raced) throw error;
        topic = raced;
        report.topic = { action: 'reused', id: raced.id };
      }
      if (!topic) throw new ValidationError(`Event Grid returned no system topic for ${topicId}`);
    }

    const where = parseResourceId(topic!.id);
    for (const planned of request.subscriptions) {
      const existing = await callAzureOrUndefined(`Read event subscription ${planned.name} on ${topic!.id}`, () =>
        client.systemTopicEventSubscriptions.get(where.resourceGroup!, topic!.name, planned.name),
      );
      if (existing && sameSubscription(existing, planned.properties)) {
        report.subscriptions.push({ name: planned.name, action: 'unchanged' });
        continue;
      }
      if (dryRun) {
        report.subscriptions.push({ name: planned.name, action: existing ? 'would-update' : 'would-create' });
        continue;
      }
      await callAzure(`${existing ? 'Update' : 'Create'} event subscription ${planned.name} on ${topic!.id}`, () =>
        client.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(
          where.resourceGroup!,
          topic!.name,
          planned.name,
          toSdkSubscription(planned),
          poll,
        ),
      );
      report.subscriptions.push({ name: planned.name, action: existing ? 'updated' : 'created' });
    }
    return report;
  }

  /** The subscription's Resource Manager system topic, wherever it lives (needs systemTopics/read on the subscription). */
  private async findTopic(subscriptionId: string): Promise<LiveTopic | undefined> {
    return callAzure(`List Event Grid system topics in subscription ${subscriptionId}`, async () => {
      for await (const t of this.eventGrid.get(subscriptionId).systemTopics.listBySubscription()) {
        if (
          (t.topicType ?? '').toLowerCase() === RESOURCE_EVENTS_TOPIC_TYPE.toLowerCase() &&
          t.source !== undefined &&
          sameResourceId(t.source, `/subscriptions/${subscriptionId}`)
        )
          return toTopic(t);
      }
      return undefined;
    });
  }
}

interface LiveTopic {
  id: string;
  name: string;
  identity?: SystemTopic['identity'];
}

function toTopic(t: SystemTopic): LiveTopic | undefined {
  if (!t.id || !t.name) return undefined;
  return { id: t.id, name: t.name, ...(t.identity ? { identity: t.identity } : {}) };
}

function hasIdentity(topic: LiveTopic, identityResourceId: string): boolean {
  const type = (topic.identity?.type ?? '').toLowerCase();
  return (
    type.includes('userassigned') &&
    Object.keys(topic.identity?.userAssignedIdentities ?? {}).some((id) => sameResourceId(id, identityResourceId))
  );
}

/** Adds the user-assigned identity, keeping a system-assigned one and any other user-assigned identities. */
function withIdentity(current: SystemTopic['identity'], identityResourceId: string): NonNullable<SystemTopic['identity']> {
  const system = (current?.type ?? '').toLowerCase().includes('systemassigned');
  return {
    type: system ? 'SystemAssigned, UserAssigned' : 'UserAssigned',
    userAssignedIdentities: { ...(current?.userAssignedIdentities ?? {}), [identityResourceId]: {} },
  };
}

/** The REST-shaped definition as the SDK's flattened model. */
export function toSdkSubscription(planned: PlannedEventSubscription): EventSubscription {
  const p = planned.properties;
  return {
    destination: {
      endpointType: 'AzureFunction',
      resourceId: p.destination.properties.resourceId,
      maxEventsPerBatch: p.destination.properties.maxEventsPerBatch,
      preferredBatchSizeInKilobytes: p.destination.properties.preferredBatchSizeInKilobytes,
    },
    filter: {
      includedEventTypes: [...p.filter.includedEventTypes],
      advancedFilters: p.filter.advancedFilters.map((f) => ({ operatorType: f.operatorType, key: f.key, values: [...f.values] })),
    },
    eventDeliverySchema: p.eventDeliverySchema,
    retryPolicy: { ...p.retryPolicy },
    deadLetterWithResourceIdentity: {
      identity: { type: 'UserAssigned', userAssignedIdentity: p.deadLetterWithResourceIdentity.identity.userAssignedIdentity },
      deadLetterDestination: {
        endpointType: 'StorageBlob',
        resourceId: p.deadLetterWithResourceIdentity.deadLetterDestination.properties.resourceId,
        blobContainerName: p.deadLetterWithResourceIdentity.deadLetterDestination.properties.blobContainerName,
      },
    } as EventSubscription['deadLetterWithResourceIdentity'],
  };
}

/** True when the live subscription has the definition's destination, filters, delivery and dead-letter settings. */
export function sameSubscription(live: EventSubscription, wanted: EventSubscriptionProperties): boolean {
  if (live.provisioningState === 'Failed') return false;
  const d = live.destination as
    { endpointType?: string; resourceId?: string; maxEventsPerBatch?: number; preferredBatchSizeInKilobytes?: number } | undefined;
  const w = wanted.destination.properties;
  const sameDestination =
    d?.endpointType === 'AzureFunction' &&
    d.resourceId !== undefined &&
    sameResourceId(d.resourceId, w.resourceId) &&
    (d.maxEventsPerBatch ?? 1) === w.maxEventsPerBatch &&
    (d.preferredBatchSizeInKilobytes ?? 64) === w.preferredBatchSizeInKilobytes;
  const filters = (live.filter?.advancedFilters ?? []) as Array<{ operatorType?: string; key?: string; values?: unknown[] }>;
  const norm = (fs: Array<{ operatorType?: string; key?: string; values?: unknown[] }>) =>
    fs.map((f) => JSON.stringify([f.operatorType, f.key, [...(f.values ?? [])].map(String).sort()])).sort();
  const sameFilter =
    JSON.stringify([...(live.filter?.includedEventTypes ?? [])].sort()) === JSON.stringify([...wanted.filter.includedEventTypes].sort()) &&
    JSON.stringify(norm(filters)) === JSON.stringify(norm(wanted.filter.advancedFilters));
  const retry = live.retryPolicy ?? {};
  const sameRetry =
    retry.maxDeliveryAttempts === wanted.retryPolicy.maxDeliveryAttempts &&
    retry.eventTimeToLiveInMinutes === wanted.retryPolicy.eventTimeToLiveInMinutes &&
    (live.eventDeliverySchema ?? 'EventGridSchema') === wanted.eventDeliverySchema;
  const dl = live.deadLetterWithResourceIdentity as
    | {
        identity?: { type?: string; userAssignedIdentity?: string };
        deadLetterDestination?: { endpointType?: string; resourceId?: string; blobContainerName?: string };
      }
    | undefined;
  const wdl = wanted.deadLetterWithResourceIdentity;
  const sameDeadLetter =
    dl?.identity?.type === 'UserAssigned' &&
    dl.identity.userAssignedIdentity !== undefined &&
    sameResourceId(dl.identity.userAssignedIdentity, wdl.identity.userAssignedIdentity) &&
    dl.deadLetterDestination?.endpointType === 'StorageBlob' &&
    dl.deadLetterDestination.resourceId !== undefined &&
    sameResourceId(dl.deadLetterDestination.resourceId, wdl.deadLetterDestination.properties.resourceId) &&
    dl.deadLetterDestination.blobContainerName === wdl.deadLetterDestination.properties.blobContainerName;
  return sameDestination && sameFilter && sameRetry && sameDeadLetter;
}
