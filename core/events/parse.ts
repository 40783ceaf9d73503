/**
 * Event Grid delivery parsing: detects the envelope schema (Event Grid or CloudEvents 1.0, a batch
 * array or a single object), validates each envelope, and turns the payloads this app consumes into
 * typed events. A malformed event never throws: it becomes a ValidationError naming the field at
 * fault, and the other events of the batch still parse.
 */
import { ValidationError } from '../errors';
import {
  FieldReader,
  type Issue,
  type JsonObject,
  type Result,
  describeType,
  isObject,
  issuesToError,
  stringMap,
  tryParseJson,
} from './fields';
import {
  type AdeEvent,
  type EnvelopeSchema,
  type EventEnvelope,
  KEY_VAULT_EVENT_TYPES,
  type KeyVaultEvent,
  type KeyVaultEventType,
  POLICY_EVENT_TYPES,
  type PolicyEventType,
  type PolicyStateEvent,
  RESOURCE_EVENT_TYPES,
  type ResourceEvent,
  type ResourceEventType,
  SUBSCRIPTION_VALIDATION_EVENT_TYPE,
  type SubscriptionValidationEvent,
} from './types';

export interface ParsedDelivery {
  schema: EnvelopeSchema;
  /** True when the body was a JSON array (Event Grid always batches; CloudEvents may send one object). */
  batch: boolean;
  /** One result per event, in delivery order. */
  events: Result<AdeEvent>[];
}

/**
 * Which schema a delivery uses, from its keys: CloudEvents has `specversion`, Event Grid has
 * `eventType`. Returns undefined when neither is recognisable.
 */
export function detectSchema(event: unknown): EnvelopeSchema | undefined {
  if (!isObject(event)) return undefined;
  if ('specversion' in event) return 'CloudEvents';
  if ('eventType' in event) return 'EventGrid';
  return undefined;
}

/**
 * Event Grid's largest batch (maxEventsPerBatch 1–5000,
 * https://learn.microsoft.com/azure/event-grid/delivery-and-retry#output-batching): more cannot come from Event Grid.
 */
export const MAX_EVENTS_PER_DELIVERY = 5000;

/**
 * Parses a webhook body (already-parsed JSON, or its text) into typed events.
 * The outer Result fails only when the body as a whole is unusable (not JSON, empty batch,
 * unknown schema, mixed schemas).
 */
export function parseDelivery(body: unknown): Result<ParsedDelivery> {
  let value = body;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
    const parsed = tryParseJson(text);
    if (!parsed.ok) return fail('body', 'expected a JSON document, got text that is not valid JSON');
    value = parsed.value;
  }
  const batch = Array.isArray(value);
  const items: unknown[] = batch ? (value as unknown[]) : [value];
  if (batch && items.length === 0) return fail('events', 'expected at least one event, got an empty array');
  if (items.length > MAX_EVENTS_PER_DELIVERY)
    return fail('events', `at most ${MAX_EVENTS_PER_DELIVERY} events per delivery (Event Grid's largest batch), got ${items.length}`);
  if (!batch && !isObject(value)) return fail('body', `expected an event object or an array of events, got ${describeType(value)}`);

  const schema = detectSchema(items.find(isObject));
  if (!schema) {
    return fail(batch ? 'events[0]' : 'event', 'expected an Event Grid event (eventType) or a CloudEvent (specversion)');
  }
  const events = items.map((item, index) => {
    const path = batch ? `events[${index}]` : 'event';
    const itemSchema = detectSchema(item);
    if (itemSchema && itemSchema !== schema) {
      return {
        ok: false as const,
        error: new ValidationError(`Invalid event: ${path}: a ${itemSchema} event in a ${schema} batch`, { field: path }),
      };
    }
    return parseEvent(item, schema, path);
  });
  return { ok: true, value: { schema, batch, events } };
}

/**
 * Splits a delivery into the events to handle and the malformed ones to log and drop: a malformed
 * event never becomes valid on redelivery, so failing the batch would only repeat it for 24 hours.
 */
export function splitDelivery(delivery: ParsedDelivery): { events: AdeEvent[]; errors: ValidationError[] } {
  const events: AdeEvent[] = [];
  const errors: ValidationError[] = [];
  for (const result of delivery.events) {
    if (result.ok) events.push(result.value);
    else errors.push(result.error);
  }
  return { events, errors };
}

/** Parses one event of a known schema. `path` prefixes every field named in errors. */
export function parseEvent(event: unknown, schema: EnvelopeSchema, path = 'event'): Result<AdeEvent> {
  const issues: Issue[] = [];
  const reader = FieldReader.of(event, path, issues);
  if (!reader) return { ok: false, error: issuesToError(issues) };
  const envelope = schema === 'EventGrid' ? readEventGridEnvelope(reader) : readCloudEventEnvelope(reader);
  const data = schema === 'EventGrid' ? reader.raw('data') : readCloudEventData(reader);
  if (issues.length > 0) return { ok: false, error: issuesToError(issues) };

  const typed = interpretPayload(envelope, data, `${path}.data`, issues);
  if (issues.length > 0 || !typed) return { ok: false, error: issuesToError(issues) };
  return { ok: true, value: typed };
}

function readEventGridEnvelope(r: FieldReader): EventEnvelope {
  const envelope: EventEnvelope = {
    schema: 'EventGrid',
    id: r.requiredString('id'),
    eventType: r.requiredString('eventType'),
    eventTime: r.requiredTimestamp('eventTime'),
  };
  // Required by the schema but legitimately empty (the subscription-validation event sends "").
  const subject = r.optionalString('subject');
  if (subject === undefined) r.issues.push({ path: r.at('subject'), problem: 'expected a string, got nothing' });
  else if (subject !== '') envelope.subject = subject;
  const topic = r.optionalString('topic', false);
  if (topic !== undefined) envelope.topic = topic;
  const dataVersion = r.optionalString('dataVersion');
  if (dataVersion !== undefined) envelope.dataVersion = dataVersion;
  if (!r.has('data')) r.issues.push({ path: r.at('data'), problem: 'expected the event payload, got nothing' });
  return envelope;
}

function readCloudEventEnvelope(r: FieldReader): EventEnvelope {
  const specversion = r.raw('specversion');
  if (specversion !== '1.0')
    r.issues.push({
      path: r.at('specversion'),
      problem: `expected "1.0", got ${typeof specversion === 'string' ? `"${specversion.slice(0, 10)}"` : describeType(specversion)}`,
    });
  const envelope: EventEnvelope = {
    schema: 'CloudEvents',
    id: r.requiredString('id'),
    eventType: r.requiredString('type'),
    topic: r.requiredString('source'),
  };
  const subject = r.optionalString('subject', false);
  if (subject !== undefined) envelope.subject = subject;
  const time = r.optionalTimestamp('time');
  if (time !== undefined) envelope.eventTime = time;
  return envelope;
}

/** CloudEvents carries `data` (possibly a JSON string, e.g. validation events) or `data_base64`. */
function readCloudEventData(r: FieldReader): unknown {
  const data = r.raw('data');
  if (data !== undefined && data !== null) {
    if (typeof data === 'string') {
      const parsed = tryParseJson(data);
      return parsed.ok ? parsed.value : data;
    }
    return data;
  }
  const base64 = r.raw('data_base64');
  if (typeof base64 === 'string') {
    const parsed = tryParseJson(Buffer.from(base64, 'base64').toString('utf8'));
    if (parsed.ok) return parsed.value;
    r.issues.push({ path: r.at('data_base64'), problem: 'expected base64-encoded JSON' });
    return undefined;
  }
  r.issues.push({ path: r.at('data'), problem: 'expected the event payload (data or data_base64), got nothing' });
  return undefined;
}

function interpretPayload(envelope: EventEnvelope, data: unknown, path: string, issues: Issue[]): AdeEvent | undefined {
  const eventType = canonicalType(envelope.eventType);
  if (eventType === SUBSCRIPTION_VALIDATION_EVENT_TYPE) return readValidation(envelope, data, path, issues);
  const resourceType = lookup(RESOURCE_EVENT_TYPES, eventType);
  if (resourceType) return readResourceEvent(envelope, resourceType, data, path, issues);
  const vaultType = lookup(KEY_VAULT_EVENT_TYPES, eventType);
  if (vaultType) return readKeyVaultEvent(envelope, vaultType, data, path, issues);
  const policyType = lookup(POLICY_EVENT_TYPES, eventType);
  if (policyType) return readPolicyEvent(envelope, policyType, data, path, issues);
  return { kind: 'unrecognised', eventType: envelope.eventType, envelope, data };
}

function canonicalType(eventType: string): string {
  return eventType.trim();
}

/** Event type names compare case-insensitively (their casing rules are undocumented). */
function lookup<T extends string>(known: readonly T[], eventType: string): T | undefined {
  const lower = eventType.toLowerCase();
  return known.find((k) => k.toLowerCase() === lower);
}

function readValidation(envelope: EventEnvelope, data: unknown, path: string, issues: Issue[]): SubscriptionValidationEvent | undefined {
  const r = FieldReader.of(data, path, issues);
  if (!r) return undefined;
  const validationCode = r.requiredString('validationCode');
  const validationUrl = r.optionalString('validationUrl', false);
  return {
    kind: 'subscription-validation',
    eventType: SUBSCRIPTION_VALIDATION_EVENT_TYPE,
    envelope,
    data: validationUrl === undefined ? { validationCode } : { validationCode, validationUrl },
  };
}

function readResourceEvent(
  envelope: EventEnvelope,
  eventType: ResourceEventType,
  data: unknown,
  path: string,
  issues: Issue[],
): ResourceEvent | undefined {
  const r = FieldReader.of(data, path, issues);
  if (!r) return undefined;
  const out: ResourceEvent['data'] = {
    resourceUri: r.requiredString('resourceUri'),
    operationName: r.requiredString('operationName'),
  };
  for (const key of ['tenantId', 'subscriptionId', 'resourceGroup', 'resourceProvider', 'status', 'correlationId'] as const) {
    const value = r.optionalString(key);
    if (value !== undefined) out[key] = value;
  }
  const claims = stringMap(r.optionalObjectOrJsonString('claims'));
  if (claims) out.claims = claims;
  const authorization = r.optionalObjectOrJsonString('authorization');
  if (authorization) {
    const auth: NonNullable<ResourceEvent['data']['authorization']> = {};
    if (typeof authorization.scope === 'string') auth.scope = authorization.scope;
    if (typeof authorization.action === 'string') auth.action = authorization.action;
    const evidence = stringMap(isObject(authorization.evidence) ? authorization.evidence : undefined);
    if (evidence) auth.evidence = evidence;
    out.authorization = auth;
  }
  const httpRequest = r.optionalObjectOrJsonString('httpRequest');
  if (httpRequest) out.httpRequest = stringMap(httpRequest) as NonNullable<ResourceEvent['data']['httpRequest']>;

  const [, verb, result] = /^Microsoft\.Resources\.Resource(Write|Delete|Action)(Success|Failure|Cancel)$/.exec(eventType) ?? [];
  return {
    kind: 'resource',
    eventType,
    operation: (verb ?? 'Write').toLowerCase() as ResourceEvent['operation'],
    outcome: (result ?? 'Success').toLowerCase() as ResourceEvent['outcome'],
    envelope,
    data: out,
  };
}

function readKeyVaultEvent(
  envelope: EventEnvelope,
  eventType: KeyVaultEventType,
  data: unknown,
  path: string,
  issues: Issue[],
): KeyVaultEvent | undefined {
  const r = FieldReader.of(data, path, issues);
  if (!r) return undefined;
  const isAccessPolicy = eventType === 'Microsoft.KeyVault.VaultAccessPolicyChanged';
  const out: KeyVaultEvent['data'] = {
    id: r.requiredString('Id'),
    vaultName: r.requiredString('VaultName'),
    objectType: isAccessPolicy ? (r.optionalString('ObjectType') ?? 'Vault') : r.requiredString('ObjectType'),
    objectName: isAccessPolicy ? (r.optionalString('ObjectName') ?? '') : r.requiredString('ObjectName'),
  };
  const version = r.optionalString('Version', false);
  // Published examples pad the version with a space; the versioned Id is authoritative.
  if (version !== undefined) out.version = version.trim();
  else if (!isAccessPolicy) {
    const fromId = /\/(?:secrets|keys|certificates)\/[^/]+\/([^/?#]+)\/?$/i.exec(out.id)?.[1];
    if (fromId) out.version = fromId;
    else issues.push({ path: `${path}.Version`, problem: 'expected the object version (or a versioned Id), got nothing' });
  }
  const nbf = r.optionalNumber('NBF');
  if (nbf !== undefined) out.nbf = nbf;
  const exp = r.optionalNumber('EXP');
  if (exp !== undefined) out.exp = exp;

  const [, object, change] =
    /^Microsoft\.KeyVault\.(Secret|Key|Certificate|Vault)(NewVersionCreated|NearExpiry|Expired|AccessPolicyChanged)$/.exec(eventType) ?? [];
  const changeName = (
    {
      NewVersionCreated: 'new-version',
      NearExpiry: 'near-expiry',
      Expired: 'expired',
      AccessPolicyChanged: 'access-policy-changed',
    } as const
  )[change as 'Expired'];
  return {
    kind: 'key-vault',
    eventType,
    objectKind: (object ?? 'Vault').toLowerCase() as KeyVaultEvent['objectKind'],
    change: changeName,
    envelope,
    data: out,
  };
}

function readPolicyEvent(
  envelope: EventEnvelope,
  eventType: PolicyEventType,
  data: unknown,
  path: string,
  issues: Issue[],
): PolicyStateEvent | undefined {
  const r = FieldReader.of(data, path, issues);
  if (!r) return undefined;
  const deleted = eventType === 'Microsoft.PolicyInsights.PolicyStateDeleted';
  const out: PolicyStateEvent['data'] = {
    timestamp: r.requiredTimestamp('timestamp'),
    policyAssignmentId: r.requiredString('policyAssignmentId'),
    policyDefinitionId: r.requiredString('policyDefinitionId'),
    policyDefinitionReferenceId: r.optionalString('policyDefinitionReferenceId') ?? '',
    complianceState: deleted ? (r.optionalString('complianceState') ?? '') : r.requiredString('complianceState'),
    subscriptionId: r.optionalString('subscriptionId') ?? '',
    complianceReasonCode: r.optionalString('complianceReasonCode') ?? '',
  };
  if (!envelope.subject)
    issues.push({ path: path.replace(/\.data$/, '.subject'), problem: 'expected the evaluated resource id, got nothing' });
  const change = eventType.slice('Microsoft.PolicyInsights.PolicyState'.length).toLowerCase() as PolicyStateEvent['change'];
  return { kind: 'policy-state', eventType, change, resourceId: envelope.subject ?? '', envelope, data: out };
}

function fail(field: string, problem: string): { ok: false; error: ValidationError } {
  return { ok: false, error: new ValidationError(`Invalid event delivery: ${field}: ${problem}`, { field }) };
}

export type { JsonObject };
