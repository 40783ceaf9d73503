/**
 * Microsoft.EventGrid on Resource Manager: system topics (subscription and Key Vault sources), custom topics
 * (endpoint + keys), and event subscriptions under both (WebHook / AzureFunction destinations, filters,
 * retry policy). https://learn.microsoft.com/rest/api/eventgrid/controlplane/system-topics,
 * .../system-topic-event-subscriptions, .../topics, .../topic-event-subscriptions.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SimResponse } from '../contract';
import { filterProblem } from '../eventgrid/filters';
import { eventGridLink } from '../eventgrid/link';
import type { ArmCore, RequestScope } from './core';
import {
  armError,
  bodyObject,
  eq,
  isObject,
  json,
  key,
  normalizeLocation,
  resourceId,
  stringRecord,
  truncate,
  validateName,
  type ArmPath,
} from './http';
import type { CustomTopicRecord, EventSubscriptionRecord, SystemTopicRecord } from './state';
import { invalidType, methodNotAllowed } from './compute';

const NAME = /^[A-Za-z0-9-]+$/;
const TOPIC_TYPES: Record<string, RegExp> = {
  'microsoft.resources.subscriptions': /^\/subscriptions\/[^/]+$/i,
  'microsoft.resources.resourcegroups': /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+$/i,
  'microsoft.keyvault.vaults': /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.KeyVault\/vaults\/[^/]+$/i,
  // Azure Policy compliance states of a subscription (management-group sources are not simulated).
  'microsoft.policyinsights.policystates': /^\/subscriptions\/[^/]+$/i,
};
const POLICY_TOPIC_TYPE = 'Microsoft.PolicyInsights.PolicyStates';
const MAX_SUBSCRIPTIONS_PER_TOPIC = 500;

export class EventGridArm {
  constructor(private readonly core: ArmCore) {
    const link = eventGridLink(core.ctx);
    link.subscriptionsFor = (source) => {
      const k = key(source);
      return Object.values(this.core.state.eventSubscriptions).filter((s) => key(s.source) === k && s.provisioningState === 'Succeeded');
    };
    // A subscription is the source of two system topic types (ARM events and policy states): each topic
    // receives only its own kind of event.
    link.accepts = (sub, event) => {
      const topic = this.core.state.systemTopics[key(sub.topicId)];
      if (!topic) return true;
      const isPolicyEvent = event.eventType.toLowerCase().startsWith('microsoft.policyinsights.');
      return eq(topic.topicType, POLICY_TOPIC_TYPE) === isPolicyEvent;
    };
    link.topicByHost = (host) => Object.values(this.core.state.customTopics).find((t) => new URL(t.endpoint).hostname === host);
  }

  private get state() {
    return this.core.state;
  }

  async handle(path: ArmPath, scope: RequestScope): Promise<SimResponse> {
    const { req } = scope;
    const sub = this.core.subscription(path.subscriptionId, scope.principal);
    const t = path.types.map((x) => x.toLowerCase());
    if (t[0] === 'locations' && (t[1] === 'operationsstatus' || t[1] === 'operationresults') && path.names[1]) {
      return t[1] === 'operationsstatus'
        ? this.core.asyncOperationStatus(path.names[1])
        : this.core.locationStatus(path.names[1], `https://management.azure.com${req.path}?${req.query.toString()}`);
    }
    if (!path.resourceGroup) {
      if (t.length === 1 && path.collection && req.method === 'GET' && (t[0] === 'systemtopics' || t[0] === 'topics')) {
        const table: Record<string, SystemTopicRecord | CustomTopicRecord> =
          t[0] === 'systemtopics' ? this.state.systemTopics : this.state.customTopics;
        const prefix = `/subscriptions/${sub.subscriptionId}/`.toLowerCase();
        return json(200, {
          value: Object.values(table)
            .filter((x) => key(x.id).startsWith(prefix))
            .map((x) => ('topicType' in x ? systemTopicJson(x) : customTopicJson(x))),
        });
      }
      throw invalidType(path);
    }
    this.core.resourceGroup(sub.subscriptionId, path.resourceGroup);
    const rgPrefix = `/subscriptions/${sub.subscriptionId}/resourcegroups/${path.resourceGroup}/`.toLowerCase();
    if (t[0] === 'systemtopics' || t[0] === 'topics') {
      const system = t[0] === 'systemtopics';
      if (t.length === 1 && path.collection) {
        if (req.method !== 'GET') throw methodNotAllowed(req.method);
        const table: Record<string, SystemTopicRecord | CustomTopicRecord> = system ? this.state.systemTopics : this.state.customTopics;
        return json(200, {
          value: Object.values(table)
            .filter((x) => key(x.id).startsWith(rgPrefix))
            .map((x) => ('topicType' in x ? systemTopicJson(x) : customTopicJson(x))),
        });
      }
      const topicName = path.names[0]!;
      const topicId = resourceId(
        sub.subscriptionId,
        path.resourceGroup,
        'Microsoft.EventGrid',
        system ? 'systemTopics' : 'topics',
        topicName,
      );
      if (t.length === 1)
        return system
          ? this.systemTopicVerb(scope, sub.subscriptionId, path.resourceGroup, topicName, topicId)
          : this.customTopicVerb(scope, sub.subscriptionId, path.resourceGroup, topicName, topicId);
      if (t.length === 2 && !system && (t[1] === 'listkeys' || t[1] === 'regeneratekey') && path.collection) {
        if (req.method !== 'POST') throw methodNotAllowed(req.method);
        const topic =
          this.state.customTopics[key(topicId)] ?? this.core.notFound('Microsoft.EventGrid/topics', topicName, path.resourceGroup);
        if (t[1] === 'regeneratekey') {
          const which = String(bodyObject(req).keyName ?? '').toLowerCase();
          if (which !== 'key1' && which !== 'key2') throw armError(400, 'InvalidRequest', "keyName must be 'key1' or 'key2'.");
          topic[which] = randomBytes(32).toString('base64');
        }
        return json(200, { key1: topic.key1, key2: topic.key2 });
      }
      if (t[1] === 'eventsubscriptions') {
        const topic = system ? this.state.systemTopics[key(topicId)] : this.state.customTopics[key(topicId)];
        if (!topic)
          this.core.notFound(system ? 'Microsoft.EventGrid/systemTopics' : 'Microsoft.EventGrid/topics', topicName, path.resourceGroup);
        const source = 'source' in topic ? topic.source : topic.id;
        if (t.length === 2 && path.collection) {
          if (req.method !== 'GET') throw methodNotAllowed(req.method);
          const prefix = `${topicId}/eventSubscriptions/`.toLowerCase();
          return json(200, {
            value: Object.values(this.state.eventSubscriptions)
              .filter((s) => key(s.id).startsWith(prefix))
              .map(eventSubscriptionJson),
          });
        }
        const subName = path.names[1]!;
        const subId = `${topicId}/eventSubscriptions/${subName}`;
        if (t.length === 2) return this.eventSubscriptionVerb(scope, sub.subscriptionId, topic.location, subId, subName, topicId, source);
        if (t.length === 3 && (t[2] === 'getfullurl' || t[2] === 'getdeliveryattributes') && path.collection) {
          if (req.method !== 'POST') throw methodNotAllowed(req.method);
          const record =
            this.state.eventSubscriptions[key(subId)] ??
            this.core.notFound('Microsoft.EventGrid/eventSubscriptions', subName, path.resourceGroup);
          if (t[2] === 'getdeliveryattributes')
            return json(200, { value: record.properties.destination?.properties?.deliveryAttributeMappings ?? [] });
          const destination = record.properties.destination ?? {};
          if (String(destination.endpointType).toLowerCase() !== 'webhook')
            throw armError(400, 'InvalidRequest', 'getFullUrl is only supported for WebHook destinations.');
          return json(200, { endpointUrl: destination.properties?.endpointUrl });
        }
      }
    }
    throw invalidType(path);
  }

  private systemTopicVerb(scope: RequestScope, subscriptionId: string, resourceGroup: string, name: string, id: string): SimResponse {
    const { req } = scope;
    const existing = this.state.systemTopics[key(id)];
    switch (req.method) {
      case 'GET':
        if (!existing) this.core.notFound('Microsoft.EventGrid/systemTopics', name, resourceGroup);
        return json(200, systemTopicJson(existing));
      case 'PUT':
      case 'PATCH': {
        validateName(name, 'a system topic', NAME, 128);
        const body = bodyObject(req);
        const identity = body.identity === undefined ? undefined : this.topicIdentity(scope, body.identity, existing?.identity);
        if (existing) {
          if (body.tags !== undefined) existing.tags = stringRecord(body.tags, 'tags');
          if (identity !== undefined) existing.identity = identity ?? undefined;
          if (identity === null) delete existing.identity;
          this.core.emit('Write', scope, subscriptionId, id, 'Microsoft.EventGrid/systemTopics/write', { existing: true });
          return json(200, systemTopicJson(existing));
        }
        if (req.method === 'PATCH') this.core.notFound('Microsoft.EventGrid/systemTopics', name, resourceGroup);
        const props = isObject(body.properties) ? body.properties : {};
        const source = String(props.source ?? '');
        const topicType = String(props.topicType ?? '');
        const pattern = TOPIC_TYPES[topicType.toLowerCase()];
        if (!pattern)
          throw armError(
            400,
            'InvalidRequest',
            `Topic type '${truncate(topicType, 60)}' is not supported by this simulator (supported: ` +
              `Microsoft.Resources.Subscriptions, Microsoft.Resources.ResourceGroups, Microsoft.KeyVault.vaults, ` +
              `Microsoft.PolicyInsights.PolicyStates).`,
          );
        if (!pattern.test(source))
          throw armError(400, 'InvalidRequest', `Source '${truncate(source, 200)}' is not valid for topic type '${topicType}'.`);
        if (!this.sourceExists(source))
          throw armError(404, 'ResourceNotFound', `The source resource '${truncate(source, 200)}' was not found.`);
        // One system topic per source and topic type (a subscription may have both an ARM-events and a policy-states topic).
        const clash = Object.values(this.state.systemTopics).find(
          (x) => eq(x.source, source) && eq(x.topicType, canonicalTopicType(topicType)),
        );
        if (clash)
          throw armError(
            400,
            'InvalidRequest',
            `Only one system topic is allowed per source. System topic '${clash.id}' already exists for source '${source}'.`,
          );
        const location = normalizeLocation(String(body.location ?? ''));
        if (!location) throw armError(400, 'LocationRequired', 'The location property is required for this definition.');
        const record: SystemTopicRecord = {
          id,
          name,
          location,
          tags: stringRecord(body.tags, 'tags'),
          source,
          topicType: canonicalTopicType(topicType),
          metricResourceId: crypto.randomUUID(),
          ...(identity ? { identity } : {}),
        };
        this.state.systemTopics[key(id)] = record;
        this.core.emit('Write', scope, subscriptionId, id, 'Microsoft.EventGrid/systemTopics/write');
        return json(201, systemTopicJson(record));
      }
      case 'DELETE':
        if (!existing) return { status: 204 };
        this.deleteTopic(id);
        this.core.emit('Delete', scope, subscriptionId, id, 'Microsoft.EventGrid/systemTopics/delete', { existing: true });
        return { status: 200 };
      default:
        throw methodNotAllowed(req.method);
    }
  }

  private customTopicVerb(scope: RequestScope, subscriptionId: string, resourceGroup: string, name: string, id: string): SimResponse {
    const { req } = scope;
    const existing = this.state.customTopics[key(id)];
    switch (req.method) {
      case 'GET':
        if (!existing) this.core.notFound('Microsoft.EventGrid/topics', name, resourceGroup);
        return json(200, customTopicJson(existing));
      case 'PUT':
      case 'PATCH': {
        validateName(name, 'a topic', NAME, 50);
        if (name.length < 3) throw armError(400, 'InvalidRequest', 'Topic names must be between 3 and 50 characters.');
        const body = bodyObject(req);
        const props = isObject(body.properties) ? body.properties : {};
        if (existing) {
          if (body.tags !== undefined) existing.tags = stringRecord(body.tags, 'tags');
          if (typeof props.disableLocalAuth === 'boolean') existing.disableLocalAuth = props.disableLocalAuth;
          this.core.emit('Write', scope, subscriptionId, id, 'Microsoft.EventGrid/topics/write', { existing: true });
          return json(200, customTopicJson(existing));
        }
        if (req.method === 'PATCH') this.core.notFound('Microsoft.EventGrid/topics', name, resourceGroup);
        const clash = Object.values(this.state.customTopics).find(
          (x) => eq(x.name, name) && x.location === normalizeLocation(String(body.location ?? '')),
        );
        if (clash) throw armError(409, 'Conflict', `Topic name '${name}' is already in use in this region.`);
        if (
          Object.values(this.state.customTopics).filter((x) => key(x.id).startsWith(`/subscriptions/${subscriptionId}/`.toLowerCase()))
            .length >= 100
        ) {
          throw armError(400, 'InvalidRequest', 'The maximum number of custom topics (100) per subscription has been reached.');
        }
        const location = normalizeLocation(String(body.location ?? ''));
        if (!location) throw armError(400, 'LocationRequired', 'The location property is required for this definition.');
        const inputSchema = String(props.inputSchema ?? 'EventGridSchema');
        if (!['eventgridschema', 'cloudeventschemav1_0'].includes(inputSchema.toLowerCase()))
          throw armError(400, 'InvalidRequest', `Input schema '${truncate(inputSchema, 40)}' is not supported by this simulator.`);
        const record: CustomTopicRecord = {
          id,
          name,
          location,
          tags: stringRecord(body.tags, 'tags'),
          endpoint: `https://${name.toLowerCase()}.${location}-1.eventgrid.azure.net/api/events`,
          inputSchema,
          key1: randomBytes(32).toString('base64'),
          key2: randomBytes(32).toString('base64'),
          disableLocalAuth: props.disableLocalAuth === true,
        };
        this.state.customTopics[key(id)] = record;
        this.core.emit('Write', scope, subscriptionId, id, 'Microsoft.EventGrid/topics/write');
        return json(201, customTopicJson(record));
      }
      case 'DELETE': {
        if (!existing) return { status: 204 };
        this.deleteTopic(id);
        const op = this.core.startOperation(0);
        this.core.completeOperation(op);
        this.core.emit('Delete', scope, subscriptionId, id, 'Microsoft.EventGrid/topics/delete', { existing: true });
        return { status: 200 };
      }
      default:
        throw methodNotAllowed(req.method);
    }
  }

  /**
   * A topic's managed identity (https://learn.microsoft.com/azure/event-grid/enable-identity-system-topics): null for
   * `None`. Putting a user-assigned identity on a resource is a linked access check on that identity
   * (`Microsoft.ManagedIdentity/userAssignedIdentities/assign/action`), made for the ones the topic does not have yet.
   */
  private topicIdentity(scope: RequestScope, value: unknown, current: SystemTopicRecord['identity']): SystemTopicRecord['identity'] | null {
    const body = isObject(value) ? value : {};
    const type = String(body.type ?? '');
    const known = ['None', 'SystemAssigned', 'UserAssigned', 'SystemAssigned, UserAssigned'].find((t) =>
      eq(t, type.replace(/\s*,\s*/, ', ')),
    );
    if (!known) throw armError(400, 'InvalidRequest', `Identity type '${truncate(type, 40)}' is not valid.`);
    if (known === 'None') return null;
    const ids = Object.keys(isObject(body.userAssignedIdentities) ? body.userAssignedIdentities : {});
    const userAssigned = known.includes('UserAssigned');
    if (userAssigned && ids.length === 0)
      throw armError(400, 'InvalidRequest', `Identity type '${known}' needs at least one user-assigned identity.`);
    if (!userAssigned && ids.length > 0)
      throw armError(400, 'InvalidRequest', `User-assigned identities are only allowed with identity type 'UserAssigned'.`);
    for (const identityId of ids) {
      if (
        !/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[^/]+$/i.test(
          identityId,
        )
      )
        throw armError(400, 'InvalidRequest', `'${truncate(identityId, 200)}' is not a user-assigned identity resource id.`);
      if (!(current?.userAssignedIdentities ?? []).some((x) => eq(x, identityId)))
        this.core.authz.demand(scope.principal, 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action', identityId);
    }
    return { type: known, userAssignedIdentities: ids };
  }

  /**
   * Dead-lettering (or delivering) with the resource's identity uses the topic's own managed identity
   * (https://learn.microsoft.com/azure/event-grid/managed-service-identity): Azure refuses one the topic does not have.
   */
  private deliveryIdentityProblem(props: Record<string, any>, topicId: string): void {
    const identity = isObject(props.deadLetterWithResourceIdentity) ? props.deadLetterWithResourceIdentity.identity : undefined;
    if (!isObject(identity)) return;
    const topic = this.state.systemTopics[key(topicId)] as SystemTopicRecord | undefined;
    const type = String(identity.type ?? '');
    if (eq(type, 'UserAssigned')) {
      const wanted = String(identity.userAssignedIdentity ?? '');
      if (!(topic?.identity?.userAssignedIdentities ?? []).some((u) => eq(u, wanted)))
        throw armError(
          400,
          'InvalidRequest',
          `The user-assigned identity '${truncate(wanted, 200)}' is not assigned to the topic '${truncate(topicId, 200)}'.`,
        );
    } else if (eq(type, 'SystemAssigned')) {
      if (!topic?.identity?.type.includes('SystemAssigned'))
        throw armError(400, 'InvalidRequest', `The topic '${truncate(topicId, 200)}' has no system-assigned identity.`);
    } else throw armError(400, 'InvalidRequest', `Identity type '${truncate(type, 40)}' is not valid for dead-lettering.`);
  }

  private deleteTopic(id: string): void {
    delete this.state.systemTopics[key(id)];
    delete this.state.customTopics[key(id)];
    const prefix = `${id}/eventSubscriptions/`.toLowerCase();
    for (const subId of Object.keys(this.state.eventSubscriptions))
      if (subId.startsWith(prefix)) delete this.state.eventSubscriptions[subId];
  }

  private sourceExists(source: string): boolean {
    const parts = source.split('/');
    if (parts.length === 3) return this.state.subscriptions[key(parts[2]!)] !== undefined;
    if (/\/providers\/Microsoft\.KeyVault\/vaults\//i.test(source)) return this.state.vaults[key(source)] !== undefined;
    return this.state.resourceGroups[key(source)] !== undefined;
  }

  private eventSubscriptionVerb(
    scope: RequestScope,
    subscriptionId: string,
    location: string,
    id: string,
    name: string,
    topicId: string,
    source: string,
  ): SimResponse {
    const { req } = scope;
    const existing = this.state.eventSubscriptions[key(id)];
    switch (req.method) {
      case 'GET':
        if (!existing) this.core.notFound('Microsoft.EventGrid/eventSubscriptions', name, id.split('/')[4] ?? '');
        return json(200, eventSubscriptionJson(existing));
      case 'PUT':
      case 'PATCH': {
        validateName(name, 'an event subscription', NAME, 64);
        if (name.length < 3) throw armError(400, 'InvalidRequest', 'Event subscription names must be between 3 and 64 characters.');
        const body = bodyObject(req);
        let props: Record<string, any> = isObject(body.properties) ? body.properties : isObject(body) && req.method === 'PATCH' ? body : {};
        if (req.method === 'PATCH') {
          if (!existing) this.core.notFound('Microsoft.EventGrid/eventSubscriptions', name, id.split('/')[4] ?? '');
          props = { ...existing.properties, ...props };
        }
        this.validateSubscription(props);
        this.deliveryIdentityProblem(props, topicId);
        // Subscribing to a system topic is also checked at the source resource
        // (https://learn.microsoft.com/azure/event-grid/security-authorization#permissions-for-event-subscriptions).
        if (/\/systemTopics\//i.test(topicId))
          this.core.authz.demand(scope.principal, 'Microsoft.EventGrid/eventSubscriptions/write', source);
        const count = Object.values(this.state.eventSubscriptions).filter((s) => eq(s.topicId, topicId)).length;
        if (!existing && count >= MAX_SUBSCRIPTIONS_PER_TOPIC)
          throw armError(
            400,
            'InvalidRequest',
            `The maximum number of event subscriptions (${MAX_SUBSCRIPTIONS_PER_TOPIC}) for this topic has been reached.`,
          );
        const record: EventSubscriptionRecord = {
          id,
          name,
          topicId,
          source,
          properties: structuredClone(props),
          provisioningState: 'Creating',
        };
        this.state.eventSubscriptions[key(id)] = record;
        const op = this.core.startOperation(this.core.durations.eventSubscription, id);
        const generation = this.core.generation;
        const link = eventGridLink(this.core.ctx);
        this.core.background(`event subscription ${id}`, async () => {
          await this.core.sleep(this.core.durations.eventSubscription, generation);
          const problem = await link.validateEndpoint(record);
          if (generation !== this.core.generation) return;
          record.provisioningState = problem ? 'Failed' : 'Succeeded';
          this.core.completeOperation(op, problem ? { code: 'Url validation', message: problem } : undefined);
          this.core.emit(
            'Write',
            scope,
            subscriptionId,
            id,
            `Microsoft.EventGrid/${/\/systemTopics\//i.test(id) ? 'systemTopics' : 'topics'}/eventSubscriptions/write`,
            { outcome: problem ? 'Failure' : 'Success', existing: existing !== undefined },
          );
        });
        return json(
          existing ? 200 : 201,
          eventSubscriptionJson(record),
          this.core.lroHeaders(op, subscriptionId, 'Microsoft.EventGrid', location, scope.apiVersion, false),
        );
      }
      case 'DELETE':
        if (!existing) return { status: 204 };
        delete this.state.eventSubscriptions[key(id)];
        this.core.emit('Delete', scope, subscriptionId, id, 'Microsoft.EventGrid/eventSubscriptions/delete', { existing: true });
        return { status: 200 };
      default:
        throw methodNotAllowed(req.method);
    }
  }

  private validateSubscription(props: Record<string, any>): void {
    const destination = props.destination;
    if (!isObject(destination)) throw armError(400, 'InvalidRequest', 'The destination of the event subscription is required.');
    const type = String(destination.endpointType ?? '').toLowerCase();
    const dp = isObject(destination.properties) ? destination.properties : {};
    if (type === 'webhook') {
      const url = String(dp.endpointUrl ?? '');
      let parsed: URL | undefined;
      try {
        parsed = new URL(url);
      } catch {
        parsed = undefined;
      }
      const loopback = parsed !== undefined && parsed.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
      if (!parsed || (parsed.protocol !== 'https:' && !loopback)) {
        throw armError(
          400,
          'InvalidRequest',
          `The attempt to validate the provided endpoint ${truncate(url, 120)} failed: the endpoint URL must ` +
            `be a valid HTTPS URL (the simulator also accepts http on loopback).`,
        );
      }
    } else if (type === 'azurefunction') {
      if (
        !/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Web\/sites\/[^/]+\/functions\/[^/]+$/i.test(
          String(dp.resourceId ?? ''),
        )
      ) {
        throw armError(
          400,
          'InvalidRequest',
          `The Azure Function resource id '${truncate(String(dp.resourceId ?? ''), 200)}' is not valid.`,
        );
      }
    } else {
      throw armError(
        400,
        'InvalidRequest',
        `Endpoint type '${truncate(String(destination.endpointType), 40)}' is not supported by this simulator (WebHook, AzureFunction).`,
      );
    }
    if (
      dp.maxEventsPerBatch !== undefined &&
      (!Number.isInteger(dp.maxEventsPerBatch) || dp.maxEventsPerBatch < 1 || dp.maxEventsPerBatch > 5000)
    ) {
      throw armError(400, 'InvalidRequest', 'maxEventsPerBatch must be between 1 and 5000.');
    }
    if (
      dp.preferredBatchSizeInKilobytes !== undefined &&
      (!Number.isInteger(dp.preferredBatchSizeInKilobytes) ||
        dp.preferredBatchSizeInKilobytes < 1 ||
        dp.preferredBatchSizeInKilobytes > 1024)
    ) {
      throw armError(400, 'InvalidRequest', 'preferredBatchSizeInKilobytes must be between 1 and 1024.');
    }
    const problem = filterProblem(props.filter);
    if (problem) throw armError(400, 'InvalidRequest', problem);
    deadLetterProblem(props.deadLetterDestination, 'deadLetterDestination');
    if (isObject(props.deadLetterWithResourceIdentity))
      deadLetterProblem(props.deadLetterWithResourceIdentity.deadLetterDestination, 'deadLetterWithResourceIdentity.deadLetterDestination');
    const retry = props.retryPolicy;
    if (isObject(retry)) {
      if (
        retry.maxDeliveryAttempts !== undefined &&
        (!Number.isInteger(retry.maxDeliveryAttempts) || retry.maxDeliveryAttempts < 1 || retry.maxDeliveryAttempts > 30)
      ) {
        throw armError(400, 'InvalidRequest', 'maxDeliveryAttempts must be between 1 and 30.');
      }
      if (
        retry.eventTimeToLiveInMinutes !== undefined &&
        (!Number.isInteger(retry.eventTimeToLiveInMinutes) || retry.eventTimeToLiveInMinutes < 1 || retry.eventTimeToLiveInMinutes > 1440)
      ) {
        throw armError(400, 'InvalidRequest', 'eventTimeToLiveInMinutes must be between 1 and 1440.');
      }
    }
  }
}

/**
 * A dead-letter destination is a blob container of a storage account: endpointType StorageBlob with the account's
 * resource id and a container name (https://learn.microsoft.com/azure/event-grid/manage-event-delivery).
 */
function deadLetterProblem(value: unknown, field: string): void {
  if (value === undefined || value === null) return;
  const d = isObject(value) ? value : {};
  const p = isObject(d.properties) ? d.properties : {};
  if (String(d.endpointType ?? '').toLowerCase() !== 'storageblob')
    throw armError(400, 'InvalidRequest', `${field}.endpointType must be StorageBlob, got '${truncate(String(d.endpointType), 40)}'.`);
  if (
    !/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/[a-z0-9]{3,24}$/i.test(
      String(p.resourceId ?? ''),
    )
  )
    throw armError(
      400,
      'InvalidRequest',
      `${field}.properties.resourceId '${truncate(String(p.resourceId ?? ''), 200)}' is not a storage account resource id.`,
    );
  if (!/^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/.test(String(p.blobContainerName ?? '')))
    throw armError(
      400,
      'InvalidRequest',
      `${field}.properties.blobContainerName '${truncate(String(p.blobContainerName ?? ''), 80)}' is not a valid container name.`,
    );
}

function canonicalTopicType(type: string): string {
  const lower = type.toLowerCase();
  if (lower === 'microsoft.resources.subscriptions') return 'Microsoft.Resources.Subscriptions';
  if (lower === 'microsoft.resources.resourcegroups') return 'Microsoft.Resources.ResourceGroups';
  if (lower === 'microsoft.policyinsights.policystates') return POLICY_TOPIC_TYPE;
  return 'Microsoft.KeyVault.vaults';
}

/** A stable GUID-shaped id derived from a resource id (the simulator has no managed identity service). */
function principalIdOf(seed: string): string {
  const h = createHash('sha256').update(seed.toLowerCase()).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function systemTopicJson(t: SystemTopicRecord): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    type: 'Microsoft.EventGrid/systemTopics',
    location: t.location,
    tags: t.tags,
    ...(t.identity
      ? {
          identity: {
            type: t.identity.type,
            ...(t.identity.type.includes('SystemAssigned') ? { principalId: principalIdOf(t.id) } : {}),
            ...(t.identity.userAssignedIdentities.length > 0
              ? {
                  userAssignedIdentities: Object.fromEntries(
                    t.identity.userAssignedIdentities.map((u) => [
                      u,
                      { principalId: principalIdOf(u), clientId: principalIdOf(`${u}#client`) },
                    ]),
                  ),
                }
              : {}),
          },
        }
      : {}),
    properties: { source: t.source, topicType: t.topicType, metricResourceId: t.metricResourceId, provisioningState: 'Succeeded' },
  };
}

function customTopicJson(t: CustomTopicRecord): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    type: 'Microsoft.EventGrid/topics',
    location: t.location,
    tags: t.tags,
    properties: {
      endpoint: t.endpoint,
      inputSchema: t.inputSchema,
      provisioningState: 'Succeeded',
      publicNetworkAccess: 'Enabled',
      disableLocalAuth: t.disableLocalAuth,
    },
  };
}

export function eventSubscriptionJson(s: EventSubscriptionRecord): Record<string, unknown> {
  const properties = structuredClone(s.properties);
  // Azure never returns a webhook's full URL (it may hold a key): only endpointBaseUrl; getFullUrl returns it.
  const dest = properties.destination;
  if (isObject(dest) && isObject(dest.properties) && typeof dest.properties.endpointUrl === 'string') {
    try {
      const url = new URL(dest.properties.endpointUrl);
      dest.properties.endpointBaseUrl = `${url.origin}${url.pathname}`;
    } catch {
      dest.properties.endpointBaseUrl = '';
    }
    delete dest.properties.endpointUrl;
  }
  properties.topic = s.topicId;
  properties.provisioningState = s.provisioningState;
  properties.eventDeliverySchema = properties.eventDeliverySchema ?? 'EventGridSchema';
  properties.retryPolicy = { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440, ...(properties.retryPolicy ?? {}) };
  properties.filter = {
    includedEventTypes: null,
    isSubjectCaseSensitive: false,
    enableAdvancedFilteringOnArrays: false,
    ...(properties.filter ?? {}),
  };
  return { id: s.id, name: s.name, type: 'Microsoft.EventGrid/eventSubscriptions', properties };
}
