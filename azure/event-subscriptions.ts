/**
 * EventSubscriptionPort over @azure/arm-eventgrid: the Key Vault system topic of a dedicated vault
 * and the subscription that routes its secret events to the app. Both calls are idempotent and
 * write only when something differs (a vault can have only one system topic, and each write costs
 * from the subscription's ARM write budget).
 */
import {
  EventGridManagementClient,
  type EventGridManagementClientOptionalParams,
  type EventSubscription,
  type SystemTopic,
} from '@azure/arm-eventgrid';
import type { TokenCredential } from '@azure/core-auth';
import { ValidationError } from '../core/errors';
import { parseResourceId, sameResourceId } from '../core/resource-ids';
import { ClientsBySubscription, pollOptionsOf } from './arm-clients';
import { callAzure, callAzureOrUndefined } from './errors';
import type {
  EventDestination,
  EventSubscriptionInfo,
  EventSubscriptionPort,
  EventSubscriptionSpec,
  SystemTopicInfo,
  VaultInfo,
} from './ports';

export const KEY_VAULT_TOPIC_TYPE = 'Microsoft.KeyVault.vaults';

export interface EventSubscriptionAdapterOptions {
  clientOptions?: EventGridManagementClientOptionalParams;
  pollIntervalMs?: number;
}

/** Deterministic system topic name for a vault (`<vault>-events`, within the 3–128 char limit). */
export function systemTopicNameFor(vaultName: string): string {
  return `${vaultName.toLowerCase()}-events`;
}

export class EventSubscriptionAdapter implements EventSubscriptionPort {
  private readonly clients = new ClientsBySubscription(
    (subscriptionId, defaults) =>
      new EventGridManagementClient(this.credential, subscriptionId, { ...defaults, ...this.options.clientOptions }),
  );

  constructor(
    private readonly credential: TokenCredential,
    private readonly options: EventSubscriptionAdapterOptions = {},
  ) {}

  private client(subscriptionId: string): EventGridManagementClient {
    return this.clients.get(subscriptionId);
  }

  private get pollOptions(): { updateIntervalInMs?: number } {
    return pollOptionsOf(this.options.pollIntervalMs);
  }

  async ensureVaultSystemTopic(
    vault: Pick<VaultInfo, 'id' | 'name' | 'location' | 'subscriptionId' | 'resourceGroup'>,
  ): Promise<SystemTopicInfo> {
    const client = this.client(vault.subscriptionId);
    const name = systemTopicNameFor(vault.name);
    const byName = await callAzureOrUndefined(`Read Event Grid system topic ${name}`, () =>
      client.systemTopics.get(vault.resourceGroup, name),
    );
    if (byName && byName.source && sameResourceId(byName.source, vault.id))
      return toTopicInfo(byName, vault.resourceGroup, vault.subscriptionId);

    // A vault has at most one system topic; someone (the portal, a template) may have created it
    // under another name. Reuse it rather than fail.
    const other = await this.findTopicForSource(vault);
    if (other) return other;

    try {
      const created = await callAzure(`Create Event Grid system topic ${name} for ${vault.id}`, () =>
        client.systemTopics.beginCreateOrUpdateAndWait(
          vault.resourceGroup,
          name,
          { location: vault.location, source: vault.id, topicType: KEY_VAULT_TOPIC_TYPE },
          this.pollOptions,
        ),
      );
      return toTopicInfo(created, vault.resourceGroup, vault.subscriptionId);
    } catch (error) {
      // A concurrent run may have won the race; its topic is just as good.
      const raced = await this.findTopicForSource(vault);
      if (raced) return raced;
      throw error;
    }
  }

  private async findTopicForSource(
    vault: Pick<VaultInfo, 'id' | 'subscriptionId' | 'resourceGroup'>,
  ): Promise<SystemTopicInfo | undefined> {
    return callAzure(`List Event Grid system topics in ${vault.resourceGroup}`, async () => {
      for await (const topic of this.client(vault.subscriptionId).systemTopics.listByResourceGroup(vault.resourceGroup)) {
        if (topic.source && sameResourceId(topic.source, vault.id)) return toTopicInfo(topic, vault.resourceGroup, vault.subscriptionId);
      }
      return undefined;
    });
  }

  async ensureEventSubscription(
    topic: Pick<SystemTopicInfo, 'name' | 'resourceGroup' | 'subscriptionId'>,
    spec: EventSubscriptionSpec,
  ): Promise<EventSubscriptionInfo> {
    validateSpec(spec);
    const client = this.client(topic.subscriptionId);
    const existing = await callAzureOrUndefined(`Read event subscription ${spec.name} on ${topic.name}`, () =>
      client.systemTopicEventSubscriptions.get(topic.resourceGroup, topic.name, spec.name),
    );
    if (existing && subscriptionMatches(existing, spec)) return toSubscriptionInfo(existing, spec.name, 'unchanged');

    const body: EventSubscription = {
      destination: toSdkDestination(spec.destination),
      filter: {
        includedEventTypes: [...spec.includedEventTypes],
        ...(spec.subjectBeginsWith ? { subjectBeginsWith: spec.subjectBeginsWith } : {}),
        ...(spec.subjectEndsWith ? { subjectEndsWith: spec.subjectEndsWith } : {}),
      },
      eventDeliverySchema: 'EventGridSchema',
      retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 },
      ...(spec.deadLetter
        ? {
            deadLetterDestination: {
              endpointType: 'StorageBlob',
              resourceId: spec.deadLetter.storageAccountId,
              blobContainerName: spec.deadLetter.containerName,
            },
          }
        : {}),
    };
    const written = await callAzure(`${existing ? 'Update' : 'Create'} event subscription ${spec.name} on ${topic.name}`, () =>
      client.systemTopicEventSubscriptions.beginCreateOrUpdateAndWait(topic.resourceGroup, topic.name, spec.name, body, this.pollOptions),
    );
    return toSubscriptionInfo(written, spec.name, existing ? 'updated' : 'created');
  }
}

/** True when the live subscription already routes the same events to the same place. */
export function subscriptionMatches(existing: EventSubscription, spec: EventSubscriptionSpec): boolean {
  const filter = existing.filter ?? {};
  const sameTypes = sameSet(filter.includedEventTypes ?? [], spec.includedEventTypes);
  const sameSubject =
    (filter.subjectBeginsWith ?? '') === (spec.subjectBeginsWith ?? '') && (filter.subjectEndsWith ?? '') === (spec.subjectEndsWith ?? '');
  const destination = existing.destination as
    { endpointType?: string; endpointBaseUrl?: string; endpointUrl?: string; resourceId?: string } | undefined;
  let sameDestination = false;
  if (spec.destination.kind === 'webhook' && destination?.endpointType === 'WebHook') {
    // ARM never returns the full webhook URL (it may hold a function key); compare without the query.
    const live = destination.endpointBaseUrl ?? destination.endpointUrl ?? '';
    sameDestination = stripQuery(live).toLowerCase() === stripQuery(spec.destination.endpointUrl).toLowerCase();
  } else if (spec.destination.kind === 'azure-function' && destination?.endpointType === 'AzureFunction') {
    sameDestination = destination.resourceId !== undefined && sameResourceId(destination.resourceId, spec.destination.resourceId);
  }
  const deadLetter = existing.deadLetterDestination as
    { endpointType?: string; resourceId?: string; blobContainerName?: string } | undefined;
  const sameDeadLetter = spec.deadLetter
    ? deadLetter?.endpointType === 'StorageBlob' &&
      deadLetter.resourceId !== undefined &&
      sameResourceId(deadLetter.resourceId, spec.deadLetter.storageAccountId) &&
      deadLetter.blobContainerName === spec.deadLetter.containerName
    : deadLetter === undefined || deadLetter === null;
  return sameTypes && sameSubject && sameDestination && sameDeadLetter && existing.provisioningState !== 'Failed';
}

function toSdkDestination(destination: EventDestination): NonNullable<EventSubscription['destination']> {
  if (destination.kind === 'webhook') {
    return { endpointType: 'WebHook', endpointUrl: destination.endpointUrl, maxEventsPerBatch: destination.maxEventsPerBatch ?? 1 };
  }
  return { endpointType: 'AzureFunction', resourceId: destination.resourceId, maxEventsPerBatch: destination.maxEventsPerBatch ?? 1 };
}

function toTopicInfo(topic: SystemTopic, resourceGroup: string, subscriptionId: string): SystemTopicInfo {
  return {
    id: topic.id ?? '',
    name: topic.name ?? '',
    resourceGroup,
    subscriptionId,
    location: topic.location,
    source: topic.source ?? '',
    topicType: topic.topicType ?? KEY_VAULT_TOPIC_TYPE,
  };
}

function toSubscriptionInfo(sub: EventSubscription, name: string, action: EventSubscriptionInfo['action']): EventSubscriptionInfo {
  const endpointType = (sub.destination as { endpointType?: string } | undefined)?.endpointType;
  const info: EventSubscriptionInfo = {
    id: sub.id ?? '',
    name: sub.name ?? name,
    includedEventTypes: [...(sub.filter?.includedEventTypes ?? [])],
    destinationKind: endpointType === 'WebHook' ? 'webhook' : endpointType === 'AzureFunction' ? 'azure-function' : 'other',
    action,
  };
  if (sub.provisioningState) info.provisioningState = sub.provisioningState;
  return info;
}

function validateSpec(spec: EventSubscriptionSpec): void {
  if (!/^[A-Za-z0-9-]{3,64}$/.test(spec.name))
    throw new ValidationError(`Event subscription name must be 3–64 letters, digits or hyphens: got ${JSON.stringify(spec.name)}`, {
      field: 'name',
    });
  if (spec.includedEventTypes.length === 0)
    throw new ValidationError('includedEventTypes must name at least one event type', { field: 'includedEventTypes' });
  if (spec.destination.kind === 'webhook') {
    let url: URL;
    try {
      url = new URL(spec.destination.endpointUrl);
    } catch {
      throw new ValidationError('Webhook endpoint is not a URL', { field: 'destination.endpointUrl' });
    }
    // Event Grid delivers to HTTPS only; plain HTTP is allowed for loopback (the local host).
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
      throw new ValidationError('Event Grid delivers to HTTPS webhooks only', { field: 'destination.endpointUrl' });
    }
  } else {
    const id = parseResourceId(spec.destination.resourceId, 'destination.resourceId');
    if (id.provider?.toLowerCase() !== 'microsoft.web' || id.resourceTypes.map((t) => t.toLowerCase()).join('/') !== 'sites/functions') {
      throw new ValidationError('destination.resourceId must be a function id (Microsoft.Web/sites/<app>/functions/<name>)', {
        field: 'destination.resourceId',
      });
    }
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a.map((x) => x.toLowerCase()));
  const right = new Set(b.map((x) => x.toLowerCase()));
  return left.size === right.size && [...left].every((x) => right.has(x));
}

function stripQuery(url: string): string {
  const at = url.indexOf('?');
  return (at < 0 ? url : url.slice(0, at)).replace(/\/+$/, '');
}
