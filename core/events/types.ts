/**
 * Typed results of parsing Event Grid deliveries. Payload shapes reuse `@azure/eventgrid`'s system
 * event data types (type-only: core/ stays free of SDK runtime code); where the wire differs from
 * those types (optional fields, Key Vault timestamps that may be absent) the difference is spelled
 * out here rather than re-declaring the whole shape.
 */
import type {
  KeyVaultSecretNewVersionCreatedEventData,
  KnownSystemEventTypes,
  PolicyInsightsPolicyStateChangedEventData,
  ResourceAuthorization,
  ResourceHttpRequest,
  ResourceWriteSuccessEventData,
  SubscriptionValidationEventData,
} from '@azure/eventgrid';

export type EnvelopeSchema = 'EventGrid' | 'CloudEvents';

/** Envelope fields common to both schemas, normalised to Event Grid names. */
export interface EventEnvelope {
  schema: EnvelopeSchema;
  id: string;
  eventType: string;
  /** Event Grid `topic`, CloudEvents `source`. */
  topic?: string;
  subject?: string;
  eventTime?: string;
  dataVersion?: string;
}

// --- Resource Manager -------------------------------------------------------------------------

export const RESOURCE_EVENT_TYPES = [
  'Microsoft.Resources.ResourceWriteSuccess',
  'Microsoft.Resources.ResourceWriteFailure',
  'Microsoft.Resources.ResourceWriteCancel',
  'Microsoft.Resources.ResourceDeleteSuccess',
  'Microsoft.Resources.ResourceDeleteFailure',
  'Microsoft.Resources.ResourceDeleteCancel',
  'Microsoft.Resources.ResourceActionSuccess',
  'Microsoft.Resources.ResourceActionFailure',
  'Microsoft.Resources.ResourceActionCancel',
] as const satisfies readonly KnownSystemEventTypes[];
export type ResourceEventType = (typeof RESOURCE_EVENT_TYPES)[number];

/**
 * `ResourceWriteSuccessEventData` (all nine ARM events share it) with the fields real payloads may
 * omit made optional: `resourceGroup` is missing from documented examples and `httpRequest` only
 * appears when an existing resource is updated or deleted.
 */
export type ResourceEventData = Pick<ResourceWriteSuccessEventData, 'resourceUri' | 'operationName'> &
  Partial<
    Pick<
      ResourceWriteSuccessEventData,
      'tenantId' | 'subscriptionId' | 'resourceGroup' | 'resourceProvider' | 'status' | 'correlationId' | 'claims'
    >
  > & {
    authorization?: Partial<ResourceAuthorization>;
    httpRequest?: Partial<ResourceHttpRequest>;
  };

export interface ResourceEvent {
  kind: 'resource';
  eventType: ResourceEventType;
  operation: 'write' | 'delete' | 'action';
  outcome: 'success' | 'failure' | 'cancel';
  envelope: EventEnvelope;
  data: ResourceEventData;
}

// --- Key Vault ------------------------------------------------------------------------------

export const KEY_VAULT_EVENT_TYPES = [
  'Microsoft.KeyVault.SecretNewVersionCreated',
  'Microsoft.KeyVault.SecretNearExpiry',
  'Microsoft.KeyVault.SecretExpired',
  'Microsoft.KeyVault.KeyNewVersionCreated',
  'Microsoft.KeyVault.KeyNearExpiry',
  'Microsoft.KeyVault.KeyExpired',
  'Microsoft.KeyVault.CertificateNewVersionCreated',
  'Microsoft.KeyVault.CertificateNearExpiry',
  'Microsoft.KeyVault.CertificateExpired',
  'Microsoft.KeyVault.VaultAccessPolicyChanged',
] as const satisfies readonly KnownSystemEventTypes[];
export type KeyVaultEventType = (typeof KEY_VAULT_EVENT_TYPES)[number];

/** The SDK's camelCase shape; NBF/EXP are absent for objects without dates (ADE secrets have no expiry). */
export type KeyVaultEventData = Omit<KeyVaultSecretNewVersionCreatedEventData, 'nbf' | 'exp' | 'version'> & {
  version?: string;
  /** Not-before, Unix seconds. */
  nbf?: number;
  /** Expiry, Unix seconds. */
  exp?: number;
};

export interface KeyVaultEvent {
  kind: 'key-vault';
  eventType: KeyVaultEventType;
  objectKind: 'secret' | 'key' | 'certificate' | 'vault';
  change: 'new-version' | 'near-expiry' | 'expired' | 'access-policy-changed';
  envelope: EventEnvelope;
  data: KeyVaultEventData;
}

// --- Policy Insights ------------------------------------------------------------------------

export const POLICY_EVENT_TYPES = [
  'Microsoft.PolicyInsights.PolicyStateCreated',
  'Microsoft.PolicyInsights.PolicyStateChanged',
  'Microsoft.PolicyInsights.PolicyStateDeleted',
] as const;
// Not `satisfies KnownSystemEventTypes[]`: @azure/eventgrid 5.12 keys PolicyStateChanged with a
// trailing space ("…PolicyStateChanged "), so its isSystemEvent would never match the real type.
export type PolicyEventType = (typeof POLICY_EVENT_TYPES)[number];

export type PolicyStateEventData = PolicyInsightsPolicyStateChangedEventData;

export interface PolicyStateEvent {
  kind: 'policy-state';
  eventType: PolicyEventType;
  change: 'created' | 'changed' | 'deleted';
  /** The evaluated resource (the envelope subject). */
  resourceId: string;
  envelope: EventEnvelope;
  data: PolicyStateEventData;
}

// --- Subscription validation and anything else ---------------------------------------------

export const SUBSCRIPTION_VALIDATION_EVENT_TYPE = 'Microsoft.EventGrid.SubscriptionValidationEvent' satisfies KnownSystemEventTypes;

export interface SubscriptionValidationEvent {
  kind: 'subscription-validation';
  eventType: typeof SUBSCRIPTION_VALIDATION_EVENT_TYPE;
  envelope: EventEnvelope;
  data: Pick<SubscriptionValidationEventData, 'validationCode'> & Partial<Pick<SubscriptionValidationEventData, 'validationUrl'>>;
}

/** A well-formed envelope of a type this app does not interpret; handlers ignore it. */
export interface UnrecognisedEvent {
  kind: 'unrecognised';
  eventType: string;
  envelope: EventEnvelope;
  data: unknown;
}

export type AdeEvent = ResourceEvent | KeyVaultEvent | PolicyStateEvent | SubscriptionValidationEvent | UnrecognisedEvent;
