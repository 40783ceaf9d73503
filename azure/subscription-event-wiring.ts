/**
 * SubscriptionEventWiringPort over @azure/arm-eventgrid and @azure/arm-resources: gives one subscription the Resource
 * Manager and Policy Insights event wiring infra/main.json and infra/event-subscriptions.json deploy
 * (core/events/subscription-wiring.ts), for subscriptions discovered under a management group after the templates ran.
 * For the `Microsoft.Resources.Subscriptions` topic, then (when the request has policy subscriptions) the
 * `Microsoft.PolicyInsights.PolicyStates` topic:
 *
 *  1. Find the subscription's system topic of that type in any resource group (Azure allows one per source and type,
 *     https://learn.microsoft.com/azure/event-grid/system-topics) and reuse it; add the app's identity to it when
 *     missing (it writes the dead letters), as infra/deploy.sh does for a topic that existed before.
 *  2. Otherwise create the resource group when missing and the topic (`ade-autopilot-resource-events`,
 *     `ade-autopilot-policy-events`) in it.
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
  POLICY_EVENTS_TOPIC_NAME,
  POLICY_EVENTS_TOPIC_TYPE,
  RESOURCE_EVENTS_TOPIC_NAME,
  RESOURCE_EVENTS_TOPIC_TYPE,
  type EventSubscriptionProperties,
  type PlannedEventSubscription,
} from '../core/events/subscription-wiring';
import { parseResourceId, sameResourceId } from '../core/resource-ids';
import { ClientsBySubscription, pollOptionsOf } from './arm-clients';
import { callAzure, callAzureOrUndefined } from './errors';
import type { SubscriptionEventWiringPort, TopicWiringReport, WiringReport, WiringRequest } from './ports';

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
    const group: GroupState = {};
    const resources = await this.ensureTopic(request, group, {
      topicType: RESOURCE_EVENTS_TOPIC_TYPE,
      topicName: RESOURCE_EVENTS_TOPIC_NAME,
      subscriptions: request.subscriptions,
    });
    const policySubscriptions = request.policySubscriptions ?? [];
    const policy =
      policySubscriptions.length > 0
        ? await this.ensureTopic(request, group, {
            topicType: POLICY_EVENTS_TOPIC_TYPE,
            topicName: POLICY_EVENTS_TOPIC_NAME,
            subscriptions: policySubscriptions,
          })
        : undefined;
    return {
      subscriptionId,
      dryRun,
      ...(group.state ? { resourceGroup: group.state } : {}),
      ...resources,
      ...(policy ? { policy } : {}),
    };
  }

  /** One system topic of the subscription (reused or created) and its event subscriptions. */
  private async ensureTopic(request: WiringRequest, group: GroupState, wanted: TopicDefinition): Promise<TopicWiringReport> {
    const { subscriptionId, dryRun } = request;
    const client = this.eventGrid.get(subscriptionId);
    const poll = pollOptionsOf(this.options.pollIntervalMs);
    const report: TopicWiringReport = { topic: { action: 'reused' }, subscriptions: [] };

    let topic = await this.findTopic(subscriptionId, wanted.topicType);
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
      const groupName = request.resourceGroup;
      const resources = this.resources.get(subscriptionId);
      if (!group.state) {
        const existingGroup = await callAzureOrUndefined(`Read resource group ${groupName} in subscription ${subscriptionId}`, () =>
          resources.resourceGroups.get(groupName),
        );
        group.state = existingGroup ? 'exists' : dryRun ? 'would-create' : 'created';
        if (!existingGroup && !dryRun)
          await callAzure(`Create resource group ${groupName} in subscription ${subscriptionId}`, () =>
            resources.resourceGroups.createOrUpdate(groupName, {
              location: request.location,
              tags: { 'ade-autopilot': 'event-wiring' },
            }),
          );
      }
      const topicId =
        `/subscriptions/${subscriptionId}/resourceGroups/${groupName}` + `/providers/Microsoft.EventGrid/systemTopics/${wanted.topicName}`;
      report.topic = { action: dryRun ? 'would-create' : 'created', id: topicId };
      if (dryRun) {
        report.subscriptions = wanted.subscriptions.map((s) => ({ name: s.name, action: 'would-create' }));
        return report;
      }
      try {
        const created = await callAzure(`Create system topic ${topicId}`, () =>
          client.systemTopics.beginCreateOrUpdateAndWait(
            groupName,
            wanted.topicName,
            {
              location: 'global',
              source: `/subscriptions/${subscriptionId}`,
              topicType: wanted.topicType,
              identity: withIdentity(undefined, request.identityResourceId),
            },
            poll,
          ),
        );
        topic = toTopic(created);
      } catch (error) {
        // Someone created the subscription's topic meanwhile (Azure allows one per source and type): reuse theirs.
        const raced = await this.findTopic(subscriptionId, wanted.topicType);
        if (!raced) throw error;
        topic = raced;
        report.topic = { action: 'reused', id: raced.id };
      }
      if (!topic) throw new ValidationError(`Event Grid returned no system topic for ${topicId}`);
    }

    const where = parseResourceId(topic!.id);
    for (const planned of wanted.subscriptions) {
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

  /** The subscription's system topic of this type, wherever it lives (needs systemTopics/read on the subscription). */
  private async findTopic(subscriptionId: string, topicType: string): Promise<LiveTopic | undefined> {
    return callAzure(`List Event Grid system topics in subscription ${subscriptionId}`, async () => {
      for await (const t of this.eventGrid.get(subscriptionId).systemTopics.listBySubscription()) {
        if (
          (t.topicType ?? '').toLowerCase() === topicType.toLowerCase() &&
          t.source !== undefined &&
          sameResourceId(t.source, `/subscriptions/${subscriptionId}`)
        )
          return toTopic(t);
      }
      return undefined;
    });
  }
}

/** The vault resource group, read (and created) at most once per subscription and run. */
interface GroupState {
  state?: 'exists' | 'created' | 'would-create';
}

interface TopicDefinition {
  topicType: string;
  topicName: string;
  subscriptions: PlannedEventSubscription[];
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
