/**
 * Resource Manager events for subscription system topics (Microsoft.Resources.Subscriptions),
 * shaped like https://learn.microsoft.com/azure/event-grid/event-schema-resource-groups:
 * dataVersion "2", topic `/subscriptions/<id>`, subject = resource id, and authorization / claims /
 * httpRequest as JSON objects (the swagger types them as strings; real payloads carry objects).
 */
import { randomUUID } from 'node:crypto';
import type { GridEvent, Principal, SimRequest } from '../contract';

export type ArmEventKind = 'Write' | 'Delete' | 'Action';
export type ArmEventOutcome = 'Success' | 'Failure' | 'Cancel';

export interface ArmEventInput {
  kind: ArmEventKind;
  outcome?: ArmEventOutcome;
  subscriptionId: string;
  resourceGroup?: string;
  resourceUri: string;
  operationName: string;
  principal?: Principal;
  correlationId: string;
  /** Present when an existing resource is updated or deleted (as in Azure). */
  httpRequest?: { method: string; url: string; clientRequestId: string };
  eventTime: string;
  tenantId: string;
}

export function armEvent(input: ArmEventInput): GridEvent {
  const outcome = input.outcome ?? 'Success';
  const provider = providerOf(input.operationName);
  const principal = input.principal;
  const data: Record<string, unknown> = {
    authorization: {
      scope: input.resourceUri,
      action: input.operationName,
      evidence: {
        role: 'Contributor',
        roleAssignmentScope: `/subscriptions/${input.subscriptionId}`,
        roleAssignmentId: randomUUID().replace(/-/g, ''),
        roleDefinitionId: 'b24988ac618042a0ab8820f7382dd24c',
        principalId: principal?.objectId.replace(/-/g, '') ?? '',
        principalType: principal?.kind === 'managedIdentity' || principal?.kind === 'servicePrincipal' ? 'ServicePrincipal' : 'User',
      },
    },
    claims: principal
      ? {
          aud: principal.audience,
          iss: `https://sts.windows.net/${principal.tenantId}/`,
          appid: principal.appId,
          appidacr: '1',
          idtyp: 'app',
          name: principal.displayName,
          'http://schemas.microsoft.com/identity/claims/objectidentifier': principal.objectId,
          'http://schemas.microsoft.com/identity/claims/tenantid': principal.tenantId,
          ipaddr: '127.0.0.1',
        }
      : {},
    correlationId: input.correlationId,
    resourceProvider: provider,
    resourceUri: input.resourceUri,
    operationName: input.operationName,
    status: outcome === 'Success' ? 'Succeeded' : outcome === 'Failure' ? 'Failed' : 'Canceled',
    subscriptionId: input.subscriptionId,
    tenantId: input.tenantId,
  };
  if (input.resourceGroup) data.resourceGroup = input.resourceGroup;
  if (input.httpRequest) data.httpRequest = { ...input.httpRequest, clientIpAddress: '127.0.0.1' };
  return {
    id: randomUUID(),
    topic: `/subscriptions/${input.subscriptionId}`,
    subject: input.resourceUri,
    eventType: `Microsoft.Resources.Resource${input.kind}${outcome}`,
    eventTime: input.eventTime,
    data,
    dataVersion: '2',
    metadataVersion: '1',
  };
}

function providerOf(operationName: string): string {
  const slash = operationName.indexOf('/');
  return slash > 0 ? operationName.slice(0, slash) : operationName;
}

/** Correlation id a client sent (x-ms-correlation-request-id), else a fresh one. */
export function correlationIdOf(req: SimRequest): string {
  const header = req.headers['x-ms-correlation-request-id'];
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^[0-9a-f-]{36}$/i.test(value) ? value : randomUUID();
}

export function clientRequestIdOf(req: SimRequest): string {
  const header = req.headers['x-ms-client-request-id'];
  const value = Array.isArray(header) ? header[0] : header;
  return value ?? req.requestId;
}

/**
 * Azure Policy state events (Microsoft.PolicyInsights.PolicyStateCreated / Changed / Deleted), shaped like
 * azure-rest-api-specs PolicyInsights examples (https://learn.microsoft.com/azure/event-grid/event-schema-policy):
 * topic `/subscriptions/<id>`,
 * subject = the evaluated resource, dataVersion "1", IDs of assignments and definitions as given.
 */
export function policyStateEvent(
  kind: 'Created' | 'Changed' | 'Deleted',
  state: import('./state').PolicyStateRecord,
  eventTime: string,
): GridEvent {
  return {
    id: randomUUID(),
    topic: `/subscriptions/${state.subscriptionId}`,
    subject: state.resourceId,
    eventType: `Microsoft.PolicyInsights.PolicyState${kind}`,
    eventTime,
    data: {
      timestamp: state.timestamp,
      policyAssignmentId: state.policyAssignmentId,
      policyDefinitionId: state.policyDefinitionId,
      policyDefinitionReferenceId: state.policyDefinitionReferenceId,
      complianceState: state.complianceState,
      subscriptionId: state.subscriptionId,
      complianceReasonCode: state.complianceReasonCode,
    },
    dataVersion: '1',
    metadataVersion: '1',
  };
}
